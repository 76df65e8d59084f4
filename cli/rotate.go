package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
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
	Plan      string `arg:"" type:"existingfile" help:"plan.toml of the cluster (updated with the new key generation)."`
	Yes       bool   `name:"yes" short:"y" help:"Do not ask for confirmation (required without a terminal)."`
	Incident  bool   `name:"incident" help:"Fastest safe path: zone batches where safe, no canary, tighter polls, and revocation of the old key once every store is on the new one."`
	Retire    bool   `name:"retire-old" help:"Retire (revoke) the old generation after a successful rotation; --incident implies it."`
	Resume    bool   `name:"resume" help:"Continue an interrupted rotation."`
	Abort     bool   `name:"abort" help:"Stop an interrupted rotation safely."`
	BreakLock bool   `name:"break-lock" help:"Take over the run lease of a run that is gone (asks for confirmation; a live run is never broken)."`
	Journal   string `name:"journal" type:"path" help:"Journal file (default: <plan>.journal)."`
	ReportDir string `name:"report-dir" type:"path" help:"Directory for the signed report (default: the plan's report dir)."`
	Output    string `name:"output" enum:"text,json" default:"text" help:"text, or json (NDJSON events on stdout)."`
	Verbose   bool   `name:"verbose" short:"v" help:"Also print node log lines and metric samples."`
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
	var old kms.KeyRef
	return runPlan(g, runOptions{
		Plan: c.Plan, Journal: c.Journal, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Resume: c.Resume, Abort: c.Abort, BreakLock: c.BreakLock,
		Kind: steps.KindRotate, ReportDir: c.ReportDir,
		Adjust: func(p *steps.Plan) {
			if c.Incident {
				p.Strategy.Canary = 0
				p.Strategy.Batching = steps.BatchZone
				for _, d := range []*steps.Duration{&p.Strategy.EvictPoll, &p.Strategy.ReadyPoll, &p.Strategy.SettlePoll} {
					if d.Duration > 500*time.Millisecond {
						d.Duration = 500 * time.Millisecond
					}
				}
			}
		},
		Prepare: func(ctx context.Context, p *steps.Plan, b kms.Backend) ([]kms.KeyRef, error) {
			if p.Target.PreviousMasterKey != nil { // a rotation already in flight: continue it
				old = *p.Target.PreviousMasterKey
				return []kms.KeyRef{p.Target.MasterKey, old}, nil
			}
			old = p.Target.MasterKey
			next, err := b.Prepare(ctx, kms.Purpose("new"))
			if err != nil {
				return nil, Failf("nothing on any host changed; see docs/backend-"+b.Name()+".md (rotation)",
					"creating the new master-key generation in %s: %v", b.Name(), err)
			}
			if kms.SameKey(next, old) {
				// Rotating to the key in use would change nothing, and retiring
				// the "old" key afterwards would revoke the key TiKV runs on.
				return nil, Failf("set [target.key."+b.Name()+"] next-key-id in "+c.Plan+" to another key (aws: or create-keys = true); nothing on any host changed",
					"%s returned the master key in use (%s) as the new one", b.Name(), next.ID)
			}
			p.Target.MasterKey, p.Target.PreviousMasterKey = next, &old
			fmt.Fprintf(g.IO.Err, "tikv-ear: new master key prepared: %s\n", keyLabel(next, true))
			return []kms.KeyRef{next, old}, nil
		},
		Persist: func(p *steps.Plan) error {
			if err := savePlan(c.Plan, p); err != nil {
				return err
			}
			fmt.Fprintf(g.IO.Err, "tikv-ear: %s now names %s as master-key and %s as previous-master-key\n", c.Plan, keyLabel(p.Target.MasterKey, false), keyLabel(*p.Target.PreviousMasterKey, false))
			return nil
		},
		After: func(ctx context.Context, p *steps.Plan, eng *Engine, res *steps.Result) error {
			if old.ID == "" && p.Target.PreviousMasterKey != nil {
				old = *p.Target.PreviousMasterKey
			}
			if err := secondPass(ctx, g, p, eng, res, old); err != nil {
				return err
			}
			p.Target.PreviousMasterKey = nil
			// A KMS spec now names the key in use, so the next rotation moves on.
			p.Target.Key = p.Target.Key.Rotated(p.Target.MasterKey)
			if err := savePlan(c.Plan, p); err != nil {
				return err
			}
			if c.Incident || c.Retire {
				err := retireOld(ctx, g, c.Yes, eng, res, old)
				var e *Error
				if errors.As(err, &e) && e.Code == ExitAborted {
					// The rotation itself succeeded; only the revocation was declined.
					fmt.Fprintf(g.IO.Err, "tikv-ear: the old generation %d was NOT revoked; every store already runs generation %d\n", old.Generation, p.Target.MasterKey.Generation)
					return nil
				}
				return err
			}
			return nil
		},
	})
}

// secondPass removes previous-master-key from every config and the old key
// files from every host. No restart is needed: TiKV builds the previous key
// only when the current one fails (reference tikv-encryption.md §2.2), and
// every key.dict was re-encrypted with the new key in the first pass.
func secondPass(ctx context.Context, g *Globals, p *steps.Plan, eng *Engine, res *steps.Result, old kms.KeyRef) error {
	want := eng.Desired
	want.PreviousMasterKey = tikv.MasterKey{}
	emit := func(e steps.Event) {
		e.Time = time.Now()
		res.Timeline = append(res.Timeline, e)
		fmt.Fprintf(g.IO.Err, "%s %s %s\n", e.Time.UTC().Format("15:04:05"), e.Step, e.Message)
	}
	for _, n := range p.Nodes {
		node := eng.Nodes[n.StoreID]
		live, ok, err := node.ReadFile(ctx, n.ConfigPath)
		if err != nil || !ok {
			return fmt.Errorf("second pass: reading %s on %s: %v", n.ConfigPath, n.Host, err)
		}
		updated, err := steps.TOMLEditor(live, want)
		if err != nil {
			return fmt.Errorf("second pass: editing %s: %w", n.ConfigPath, err)
		}
		if string(updated) != string(live) {
			if _, err := node.WriteFile(ctx, n.ConfigPath, updated); err != nil {
				return fmt.Errorf("second pass: writing %s on %s: %w", n.ConfigPath, n.Host, err)
			}
		}
		if mk := eng.Backend.MasterKey(old); mk.Type == tikv.MasterKeyFile && mk.Path != "" && mk.Path != want.MasterKey.Path {
			if err := eng.KeyHosts[n.StoreID].Remove(ctx, mk.Path, true); err != nil {
				return fmt.Errorf("second pass: removing the old key file on %s: %w", n.Host, err)
			}
		}
		msg := fmt.Sprintf("store %d: previous-master-key removed from the config", n.StoreID)
		if mk := eng.Backend.MasterKey(old); mk.Type == tikv.MasterKeyFile {
			msg += "; old key file shredded"
		}
		emit(steps.Event{Kind: steps.StepDone, Step: "second-pass", StoreID: n.StoreID, Message: msg})
	}
	return nil
}

// retireOld revokes the old generation in its backend, after confirmation.
func retireOld(ctx context.Context, g *Globals, yes bool, eng *Engine, res *steps.Result, old kms.KeyRef) error {
	if !yes {
		if err := confirm(g, fmt.Sprintf("revoke the old master key %s (%s) in %s; this cannot be undone. Type 'yes'", keyLabel(old, false), old.ID, eng.Backend.Name())); err != nil {
			return err
		}
	}
	var hosts []kms.Host
	for _, h := range eng.KeyHosts {
		hosts = append(hosts, h)
	}
	ev, err := eng.Backend.Retire(ctx, old, kms.RetireOptions{Confirmed: true, Hosts: hosts})
	if err != nil {
		return fmt.Errorf("retiring the old generation: %w", err)
	}
	msg := fmt.Sprintf("old %s retired in %s (%s)", keyLabel(old, false), eng.Backend.Name(), ev.State)
	res.Timeline = append(res.Timeline, steps.Event{Time: time.Now(), Kind: steps.StepDone, Step: "retire", Message: msg,
		Decision: &steps.Decision{ID: "retire", Question: "revoke the old master key", Options: []string{"yes", "no"}, Chosen: "yes", By: operatorName()}})
	fmt.Fprintf(g.IO.Err, "tikv-ear: %s\n", msg)
	return nil
}

// keyLabel names a master key for people: "generation N" for file and vault
// (with its fingerprint when withFP), "key <id>" for a KMS key, which has no
// generation number.
func keyLabel(ref kms.KeyRef, withFP bool) string {
	if ref.Generation == 0 {
		return "key " + ref.ID
	}
	if withFP && ref.Fingerprint != "" {
		return fmt.Sprintf("generation %d (%s)", ref.Generation, ref.Fingerprint)
	}
	return fmt.Sprintf("generation %d", ref.Generation)
}

// savePlan rewrites the plan file atomically, keeping its mode.
func savePlan(path string, p *steps.Plan) error {
	data, err := p.Encode()
	if err != nil {
		return err
	}
	tmp := path + ".tikv-ear.tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}
