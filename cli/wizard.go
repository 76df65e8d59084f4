package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/wizard"
)

// runRotateWizard is 'tikv-ear rotate PLAN' on a terminal without --yes: the
// wizard's rotation flow (ui.NewRotate) on the plan, pre-filled from it. The
// caller holds the rotation lock. Without a terminal it refuses (exit 2).
func runRotateWizard(g *Globals, c *RotateCmd) error {
	if !g.IO.Interactive() {
		return Usagef("pass --yes to rotate without a terminal", "the rotation wizard needs a terminal on stdin and stderr")
	}
	p, err := steps.LoadPlan(c.Plan)
	if err != nil {
		return err
	}
	d := wizard.New(wizard.Config{Base: steps.PlanConnect(p), PlanPath: c.Plan, Journal: c.Journal,
		ReportDir: steps.FirstNonEmpty(c.ReportDir, p.Report.Dir), ReportKey: p.Report.KeyFile,
		Strategy: p.Strategy, Policies: p.Policies, Rotation: p.Schedule.MasterKeyRotation,
		Incident: c.Incident, Retire: c.Retire})
	defer d.Close()
	in := ui.ConnectInput{Environment: p.Environment, PD: slices.Clone(p.Cluster.PD), SSHUser: p.Cluster.SSHUser,
		Identity: p.Cluster.Identity, KnownHosts: p.Cluster.KnownHosts, SSHConfig: p.Cluster.SSHConfig}
	err = ui.Run(g.Ctx, d, ui.Options{Rotate: true, Incident: c.Incident, Out: g.IO.Err, PlanPath: c.Plan, Prefill: in,
		Accessible: g.IO.Getenv != nil && g.IO.Getenv("ACCESSIBLE") != ""})
	printWizardReport(g, d)
	switch {
	case errors.Is(err, ui.ErrClosed):
		fmt.Fprintln(g.IO.Err, "tikv-ear: closed before the rotation; nothing was changed")
		return nil
	case errors.Is(err, context.Canceled) && g.Ctx.Err() == nil:
		return &Error{Msg: "the rotation was aborted from the dashboard", Code: ExitAborted, Err: err,
			Hints: []string{"every evict-leader scheduler was removed; 'tikv-ear rotate " + c.Plan + " --resume' goes on with the same generations"}}
	}
	return err
}

// printWizardReport names the report the wizard wrote with full paths (the
// screen may have cut them to fit).
func printWizardReport(g *Globals, d *wizard.Driver) {
	if r := d.LastReport(); r != nil {
		fmt.Fprintf(g.IO.Err, "tikv-ear: signed report: %s (html: %s)\ntikv-ear: verify it: %s\n", r.JSON, r.HTML, r.VerifyCommand)
	}
}
