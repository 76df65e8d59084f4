package cli

import (
	"errors"
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
	Incident    bool   `name:"incident" help:"Fastest safe path: zone batches where safe, no canary, tighter polls; at the end, asks to revoke the old key (typed yes; with --yes only when --retire-old is given too)."`
	Retire      bool   `name:"retire-old" help:"Offer to revoke the old generation after a successful rotation (typed yes); with --yes, this flag is the consent to revoke."`
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
	if !c.Resume && !c.Abort {
		// Where the new key comes from is known from the plan alone: refuse
		// before preflight rather than after it (exit 2, nothing changed).
		if p, err := steps.LoadPlan(c.Plan); err == nil {
			if err := steps.CheckNextKey(p, c.Plan, c.Incident); err != nil {
				return err
			}
		}
	}
	if !c.Yes && !c.Resume && !c.Abort && c.Output == "text" && g.IO.Interactive() {
		return runRotateWizard(g, c) // the wizard's rotation flow (cli/wizard.go); --yes stays headless
	}
	if c.Incident {
		end := "you are asked (type yes) before the old key is revoked"
		switch {
		case c.Yes && c.Retire:
			end = "old key revoked at the end (--retire-old)"
		case c.Yes:
			end = "old key KEPT at the end (add --retire-old to revoke it in a --yes run)"
		}
		fmt.Fprintln(g.IO.Err, "tikv-ear: INCIDENT ROTATION: new master key, fastest safe rollout; "+end)
	}
	return runPlan(g, runFlags{Plan: c.Plan, Journal: c.Journal, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Abort: c.Abort, Retire: c.Retire},
		steps.RunOptions{Kind: steps.KindRotate, Resume: c.Resume, BreakLock: c.BreakLock, ReportDir: c.ReportDir, Incident: c.Incident, Retire: c.Retire})
}

// decideRetire answers the engine's revoke-the-old-key decision. Keeping is
// the default. With --yes, revoking needs --retire-old as well (an explicit
// consent; --incident --yes alone keeps the old key). Otherwise the operator
// reads what revoking destroys and types yes; any other answer keeps it.
func decideRetire(g *Globals, dec steps.Decision, yes, retire bool) (string, string, error) {
	if yes {
		if retire {
			return steps.ChoiceRevoke, "--yes --retire-old", nil
		}
		return steps.ChoiceKeep, "--yes without --retire-old", nil
	}
	if g.IO.Interactive() {
		fmt.Fprintln(g.IO.Err, "tikv-ear: "+dec.Question)
		for _, c := range dec.Consequences {
			fmt.Fprintln(g.IO.Err, "tikv-ear:   - "+c)
		}
	}
	var e *Error
	switch err := confirm(g, "Type 'yes' to revoke it (anything else keeps it)"); {
	case errors.As(err, &e) && e.Code == ExitAborted:
		return steps.ChoiceKeep, steps.OperatorName(), nil
	case err != nil:
		return "", "", err
	}
	return steps.ChoiceRevoke, steps.OperatorName(), nil
}

// keyLabel names a master key for people (steps.KeyLabel).
func keyLabel(ref kms.KeyRef, withFP bool) string { return steps.KeyLabel(ref, withFP) }

// savePlan rewrites the plan file atomically (steps.SavePlan).
func savePlan(path string, p *steps.Plan) error { return steps.SavePlan(path, p) }
