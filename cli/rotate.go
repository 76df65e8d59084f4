package cli

import (
	"fmt"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
)

// RotateCmd rotates the master key: a new generation becomes master-key, the
// old one previous-master-key, a rolling restart re-encrypts every store's
// key.dict ("encryption: persisted result after replace master key."), then a
// second pass removes previous-master-key and the old key files. The old
// generation is retired only after every store passed.
type RotateCmd struct {
	Plan        string `arg:"" type:"existingfile" help:"plan.toml of the cluster (updated with the new key generation)."`
	Yes         bool   `name:"yes" short:"y" help:"Do not ask for confirmation (required without a terminal)."`
	Incident    bool   `name:"incident" help:"Fastest safe path: zone batches where safe, no canary, tighter polls, and revocation of the old key once every store is on the new one."`
	Retire      bool   `name:"retire-old" help:"Retire (revoke) the old generation after a successful rotation; --incident implies it."`
	ResumeFlags `embed:""`
	Journal     string `name:"journal" type:"path" help:"Journal file (default: <plan>.journal)."`
	ReportDir   string `name:"report-dir" type:"path" help:"Directory for the signed report (default: the plan's report dir)."`
	EventFlags  `embed:""`
}

// Run rotates.
func (c *RotateCmd) Run(g *Globals) error {
	unlock, err := schedule.Lock(c.Plan + ".lock")
	if err != nil {
		return &Error{Msg: err.Error(), Hints: []string{"another rotation (scheduled or manual) is running against this cluster; wait for it"}, Code: ExitFailure}
	}
	defer unlock()
	if !c.Yes && !c.Resume && !c.Abort && c.Output == "text" && g.IO.Interactive() {
		return runRotateWizard(g, c) // the wizard's rotation flow (cli/wizard.go); --yes stays headless
	}
	if c.Incident {
		fmt.Fprintln(g.IO.Err, "tikv-ear: INCIDENT ROTATION: new master key, fastest safe rollout, old key revoked at the end")
	}
	return runPlan(g, runFlags{Plan: c.Plan, Journal: c.Journal, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Abort: c.Abort},
		steps.RunOptions{Kind: steps.KindRotate, Resume: c.Resume, BreakLock: c.BreakLock, ReportDir: c.ReportDir, Incident: c.Incident, Retire: c.Retire})
}

// keyLabel names a master key for people (steps.KeyLabel).
func keyLabel(ref kms.KeyRef, withFP bool) string { return steps.KeyLabel(ref, withFP) }

// savePlan rewrites the plan file atomically (steps.SavePlan).
func savePlan(path string, p *steps.Plan) error { return steps.SavePlan(path, p) }
