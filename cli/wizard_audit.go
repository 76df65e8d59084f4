package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/wizard"
)

// auditingDriver is the wizard's driver with the audit journey: Audit runs
// 'tikv-ear audit' itself (AuditCmd, one implementation) with its output
// kept off the terminal the wizard draws on, and reads its JSON summary.
type auditingDriver struct {
	*wizard.Driver
	g        *Globals
	planPath string       // audited with the plan when it exists (the key backend's evidence)
	connect  ConnectFlags // how to reach the cluster when there is no plan (the demo's sim)
	dir      string       // report directory
}

// Audit implements ui.Auditor.
func (a auditingDriver) Audit(ctx context.Context, in ui.ConnectInput) (ui.AuditResult, error) {
	var out bytes.Buffer
	quiet := *a.g
	quiet.Ctx = ctx
	quiet.IO.Out, quiet.IO.Err, quiet.IO.StderrTTY = &out, io.Discard, false
	c := &AuditCmd{ConnectFlags: a.connect, Dir: a.dir, Output: "json"}
	if _, err := os.Stat(a.planPath); err == nil {
		c.Plan = a.planPath
	} else if c.ConnectFlags.Sim == "" && len(c.ConnectFlags.PD) == 0 {
		c.ConnectFlags.PD, c.ConnectFlags.SSHUser, c.ConnectFlags.SSHConfig = slices.Clone(in.PD), in.SSHUser, in.SSHConfig
		c.ConnectFlags.TiUPCluster = in.TiUPName
		if in.Identity != "" {
			c.ConnectFlags.Identity = []string{in.Identity}
		}
		if in.KnownHosts != "" {
			c.ConnectFlags.KnownHosts = []string{in.KnownHosts}
		}
	}
	runErr := c.Run(&quiet)
	var e *Error
	if runErr != nil && !(errors.As(runErr, &e) && e.Code == ExitFailure && out.Len() > 0) {
		return ui.AuditResult{}, runErr // exit 1 with a summary is findings, not a failure to audit
	}
	var sum AuditSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		return ui.AuditResult{}, fmt.Errorf("reading the audit's summary: %w", err)
	}
	res := ui.AuditResult{Outcome: sum.Outcome, Stores: sum.Stores, Encrypted: sum.Encrypted, Failing: sum.Failing,
		Files: ui.ReportFiles{JSON: sum.Report, HTML: filepath.Join(sum.ReportDir, report.FileHTML), Bundle: filepath.Join(sum.ReportDir, report.FileBundle),
			VerifyCommand: "tikv-ear report verify " + shquote.Quote(sum.Report) + " --key " + shquote.Quote(sum.PublicKey)}}
	for _, f := range sum.Findings {
		res.Findings = append(res.Findings, ui.AuditFinding{Severity: f.Severity, Title: f.Message, Fix: f.Fix})
	}
	return res, nil
}
