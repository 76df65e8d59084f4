package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
)

// AuditCmd is `tikv-ear audit`: a strictly read-only look at the cluster and
// its key backend, written as a signed report of kind audit.
//
// Exit status: 0 when the audit found no high or critical finding; 1 when it
// found one (the report is still written) or could not run; 2 for bad input.
type AuditCmd struct {
	Plan         string `arg:"" optional:"" type:"existingfile" help:"plan.toml of the cluster: adds the key backend's evidence and the rotation policy (and connects as the plan says when no --pd or --sim is given)."`
	ConnectFlags `embed:""`
	Dir          string `name:"report-dir" type:"path" help:"Report directory; each audit writes a subdirectory audit-<time> (default: the plan's [report] dir, else tikv-ear-reports)."`
	DirOld       string `name:"dir" hidden:"" type:"path" help:"Deprecated spelling of --report-dir."`
	ReportKey    string `name:"report-key" type:"path" help:"Report signing key (default: the plan's [report] key-file, else signing-key.pem in the report directory, generated when missing)."`
	Output       string `name:"output" short:"o" enum:"text,json" default:"text" help:"text, or json (a summary with the report's paths and findings)."`
}

// AuditSummary is the `audit --output json` document.
type AuditSummary struct {
	ReportDir string               `json:"report_dir"`
	Report    string               `json:"report"`
	PublicKey string               `json:"public_key"`
	Outcome   string               `json:"outcome"`
	Stores    int                  `json:"stores"`
	Encrypted int                  `json:"stores_encrypted"`
	MasterKey *gather.MasterKeyAge `json:"master_key,omitempty"`
	Findings  []report.Finding     `json:"findings"`
	// Failing counts the high and critical findings; non-zero means exit 1.
	Failing int `json:"failing"`
}

// Run audits and writes the signed report.
func (c *AuditCmd) Run(g *Globals) error {
	deprecatedFlag(g, "--dir", "--report-dir", c.DirOld, &c.Dir)
	started := time.Now().UTC()
	p, sess, err := connectOrPlan(g.Ctx, c.ConnectFlags, c.Plan)
	if err != nil {
		return err
	}
	defer sess.Close()
	in := steps.AuditInput{Plan: p, Policy: schedule.DefaultPolicy(), Started: started, RunID: "audit-" + started.Format("20060102T150405Z")}
	if p != nil {
		pol, warnings, err := PlanPolicy(c.Plan, p)
		if err != nil {
			return err
		}
		in.Policy = pol
		for _, w := range warnings {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s\n", w)
		}
	}
	rep, err := gatherSession(g, sess)
	if err != nil {
		return err
	}
	if p != nil {
		in.Keys = steps.AuditKeys(g.Ctx, p)
	}
	in.Finished = time.Now().UTC()
	r := steps.BuildAudit(rep, in)

	base := c.Dir
	signPlan := &steps.Plan{}
	if p != nil {
		base = steps.FirstNonEmpty(c.Dir, p.Report.Dir)
		signPlan = p
	}
	if c.ReportKey != "" { // --report-key names a file key, whatever the plan's signer
		signPlan = &steps.Plan{Report: steps.ReportSection{Signer: report.SignerFile, KeyFile: c.ReportKey}}
	}
	base = steps.FirstNonEmpty(base, "tikv-ear-reports")
	signer, generated, err := steps.Signer(g.Ctx, signPlan, base)
	if err != nil {
		return fmt.Errorf("report signing key: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(g.IO.Err, "tikv-ear: generated the report signing key %s (publish its pub.pem to your auditors)\n", generated)
	}
	dir := filepath.Join(base, r.RunID)
	files, err := report.WriteSigned(context.WithoutCancel(g.Ctx), dir, r, signer)
	if err != nil {
		return fmt.Errorf("writing the signed audit report: %w", err)
	}
	sum := AuditSummary{ReportDir: dir, Report: files.Report, PublicKey: files.PublicKey, Outcome: r.Outcome,
		Stores: len(r.Stores), Findings: r.Findings, MasterKey: steps.AuditAge(rep, in)}
	if sum.Findings == nil {
		sum.Findings = []report.Finding{}
	}
	for _, s := range r.Stores {
		if s.After.Method != "" && s.After.Method != tikv.MethodPlaintext {
			sum.Encrypted++
		}
	}
	for _, f := range r.Findings {
		if failing(f) {
			sum.Failing++
		}
	}
	if c.Output == "json" {
		if err := writeJSON(g.IO.Out, sum); err != nil {
			return err
		}
	} else {
		writeAuditText(g.IO.Out, rep, sum)
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: signed report: %s\ntikv-ear: verify it: tikv-ear report verify %s --key %s\n", files.Report, files.Report, files.PublicKey)
	if sum.Failing > 0 {
		return &Error{Msg: fmt.Sprintf("audit found %d high or critical finding(s); the signed report is %s", sum.Failing, files.Report),
			Hints: []string{"each finding names its fix; re-run 'tikv-ear audit' after fixing them"}, Code: ExitFailure}
	}
	return nil
}

func failing(f report.Finding) bool {
	return f.Severity == report.SeverityHigh || f.Severity == report.SeverityCritical
}

// writeAuditText prints the audit's summary and findings.
func writeAuditText(w io.Writer, rep *gather.Report, sum AuditSummary) {
	fmt.Fprintf(w, "audit of cluster %d: %d of %d stores encrypted (%s)\n", rep.Cluster.ID, sum.Encrypted, sum.Stores, sum.Outcome)
	if sum.MasterKey != nil {
		printSchedule(w, sum.MasterKey)
	}
	if len(sum.Findings) == 0 {
		fmt.Fprintln(w, "no findings")
	} else {
		fmt.Fprintf(w, "findings (%d high or critical):\n", sum.Failing)
		for _, f := range sum.Findings {
			fmt.Fprintf(w, "  %-8s %s\n", strings.ToUpper(f.Severity), f.Message)
			if f.Fix != "" {
				fmt.Fprintf(w, "           fix: %s\n", f.Fix)
			}
		}
	}
	fmt.Fprintf(w, "signed report: %s\n", sum.Report)
}
