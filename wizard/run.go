package wizard

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// Apply implements ui.Driver with steps.Session, as 'tikv-ear apply' (and,
// for a rotation preview, 'tikv-ear rotate') runs it: the plan is saved
// first (the journal sits beside it, so 'tikv-ear apply PLAN --resume' can
// take over), an unfinished run the journal records is resumed (the Journal
// screen asked already), then the session's run: preflight gate, new key
// generation where the kind needs one, runner, after-hooks, TiUP meta sync.
// Events go to sink, decisions (the retire-old one included) to decider.
func (d *Driver) Apply(ctx context.Context, prev ui.PlanPreview, sink steps.Sink, decider steps.Decider) (*steps.Result, error) {
	p := prev.Plan
	if p == nil {
		return nil, errors.New("no plan to apply")
	}
	path := d.planPath()
	o := steps.RunOptions{Kind: steps.KindApply, Batches: &prev.Batches}
	if r := prev.Rotation; r != nil {
		// A rotation starts from the plan on disk; the session saves it with the new generation.
		o = steps.RunOptions{Kind: steps.KindRotate, Incident: r.Incident, Retire: r.Revoke}
	} else if err := d.SavePlan(ctx, prev, path); err != nil {
		return nil, err
	}
	s, err := steps.Open(ctx, p, steps.OpenOptions{PlanPath: path, Journal: d.cfg.Journal, Events: sink, Decider: decider})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.run != nil {
		d.run.Close()
	}
	d.run = s
	d.mu.Unlock()
	_, unfinished, err := s.Unfinished()
	if err != nil {
		return nil, err
	}
	o.Resume = unfinished
	return s.Run(ctx, o)
}

// lastRun returns the session of the last Apply once it ran, or an error naming why none.
func (d *Driver) lastRun() (*steps.Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil || d.run.Result() == nil {
		return nil, errors.New("no rollout has run in this session")
	}
	return d.run, nil
}

// Verify implements ui.Driver with the engine's verification, the one
// `tikv-ear verify --plan` runs (steps.GatherCluster and steps.Judge, as
// steps.VerifyCluster): evidence gathered from
// every store now (running config, metrics, key.dict, the log, the files on
// disk) and judged against the run's target, so the screen and the command
// give the same per-store verdicts, after an aborted run too.
func (d *Driver) Verify(ctx context.Context, prev ui.PlanPreview) ([]ui.StoreEvidence, error) {
	run, err := d.lastRun()
	if err != nil {
		return nil, err
	}
	if prev.Plan == nil {
		return nil, errors.New("no plan to verify against")
	}
	rep, err := steps.GatherCluster(ctx, run.Cluster)
	if err != nil {
		return nil, err
	}
	res := steps.Judge(rep, run.CurrentEngine().Desired.EffectiveMethod())
	out := make([]ui.StoreEvidence, 0, len(res.Stores))
	for i, v := range res.Stores {
		out = append(out, evidence(v, rep.Stores[i].Config))
	}
	return out, nil
}

// evidence is one store's verification as the Verification screen shows it:
// problems first, then evidence that could not be read (never shown as fine).
func evidence(v steps.StoreVerification, cfg *gather.ConfigFacts) ui.StoreEvidence {
	e := ui.StoreEvidence{StoreID: v.StoreID, Address: v.Address, Method: v.Method, KeyDict: v.KeyDict,
		LogLines: v.LogLines, OK: v.OK, Problems: append([]string(nil), v.Problems...)}
	for _, u := range v.Unknowns {
		e.Problems = append(e.Problems, "unknown: "+u)
	}
	if r := v.Running; r != nil {
		mk := tikv.MasterKey{Type: r.MasterKeyType}
		if cfg != nil && cfg.MasterKey.Type == r.MasterKeyType {
			mk.Vendor = cfg.MasterKey.Vendor // /config names no vendor; the tikv.toml it runs does
		}
		e.MasterKey = masterKeyLabel(mk)
		e.Initialized, e.FileNum, e.DataKeys = r.IsInitialized, r.FileNum, r.DataKeys
	}
	if c := v.Coverage; c != nil {
		e.Encrypted, e.Plaintext = c.Encrypted.Files, c.Plaintext.Files
	}
	return e
}

// WriteReport implements ui.Driver with the session's report writer, the
// schedule the operator chose recorded in the report.
func (d *Driver) WriteReport(ctx context.Context, _ *steps.Result, prev ui.PlanPreview) (ui.ReportFiles, error) {
	run, err := d.lastRun()
	if err != nil {
		return ui.ReportFiles{}, err
	}
	if run.Result().Err != nil {
		return ui.ReportFiles{}, fmt.Errorf("no report for a run that stopped: %w", run.Result().Err)
	}
	if sc := prev.Schedule; sc != nil {
		if err := d.installSchedule(*sc, prev); err != nil {
			return ui.ReportFiles{}, fmt.Errorf("installing the rotation schedule: %w", err)
		}
	}
	files, _, err := run.WriteReport(ctx, func(rep *report.Report) {
		if sc := prev.Schedule; sc != nil && rep.Schedule != nil {
			switch {
			case sc.KMSNative:
				rep.Schedule.KMSNative = sc.Install
			case sc.ID == steps.RunnerSystemd || sc.ID == steps.RunnerCron || sc.ID == steps.RunnerKubernetes:
				rep.Schedule.Mechanism = sc.ID
			}
		}
	})
	if err != nil {
		return ui.ReportFiles{}, err
	}
	out := ui.ReportFiles{JSON: files.Report, HTML: files.HTML, Bundle: files.Bundle,
		VerifyCommand: "tikv-ear report verify " + files.Report} // pub.pem and the bundle are found beside it
	if sum, ok := run.Summary(files.Report); ok {
		out.Summary = &sum
	}
	d.mu.Lock()
	d.report = &out
	d.mu.Unlock()
	return out, nil
}

// LastReport returns the files of the last report written, or nil.
func (d *Driver) LastReport() *ui.ReportFiles {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.report
}

// Journal implements ui.Driver: the unfinished run recorded beside the plan.
func (d *Driver) Journal(_ context.Context) (*ui.Unfinished, error) {
	path := d.planPath()
	jpath := d.journalPath()
	recs, err := steps.ReadJournal(jpath)
	if err != nil {
		return nil, err
	}
	last, ok := steps.LastRun(recs)
	if !ok || last.Finished {
		return nil, nil
	}
	p, err := steps.LoadPlan(path)
	if err != nil {
		return nil, fmt.Errorf("%s records an unfinished run (%s) but its plan cannot be read: %w", jpath, last.Run, err)
	}
	u := &ui.Unfinished{Run: last.Run, Kind: last.Kind, Total: len(p.Nodes),
		Preview: ui.PlanPreview{Plan: p, Batches: steps.PlanBatches(p.Nodes, nil, p.Strategy.Canary, p.Strategy.Batching)}}
	if last.Kind == steps.KindRotate { // resuming goes on with the generations the plan names
		r := d.rotationPreview(p, false)
		u.Preview.Rotation = &r
	}
	if len(last.Records) > 0 {
		u.Started = last.Records[0].Time
		r := last.Records[len(last.Records)-1]
		u.LastStep = r.Step + " " + r.State
		if r.StoreID != 0 {
			u.LastStep = fmt.Sprintf("%s of store %d %s", r.Step, r.StoreID, r.State)
		}
	}
	for _, n := range p.Nodes {
		if last.Done[fmt.Sprintf("%s/%d", steps.StepVerify, n.StoreID)] {
			u.Done++
		}
	}
	u.Unverified = steps.RestartedUnverified(last)
	for id := range last.Evicted {
		u.Evicted = append(u.Evicted, id)
	}
	slices.Sort(u.Evicted)
	return u, nil
}

// AbortUnfinished implements ui.Driver with steps.Session.Abort, as
// 'tikv-ear apply --abort' does: remove the run's evict-leader schedulers,
// restore what it raised, and close its journal.
func (d *Driver) AbortUnfinished(ctx context.Context, u ui.Unfinished) error {
	p := u.Preview.Plan
	if p == nil {
		return errors.New("the unfinished run has no plan")
	}
	s, err := steps.Open(ctx, p, steps.OpenOptions{PlanPath: d.planPath(), Journal: d.cfg.Journal})
	if err != nil {
		return err
	}
	defer s.Close()
	last, ok, err := s.Unfinished()
	if err != nil {
		return err
	}
	if !ok || last.Run != u.Run {
		return fmt.Errorf("%s no longer records run %s as unfinished", s.JournalPath, u.Run)
	}
	_, _, err = s.Abort(ctx, steps.RunOptions{Kind: last.Kind})
	return err
}

// LeaderCounts implements ui.LeaderCounter: every store's leader count read
// from its status port's /metrics, as the engine reads it during eviction and
// settle. A store that does not answer (restarting) is left out.
func (d *Driver) LeaderCounts(ctx context.Context) (map[uint64]int, error) {
	d.mu.Lock()
	run := d.run
	d.mu.Unlock()
	if run == nil {
		return nil, errors.New("no rollout is running yet")
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Base.Timeout)
	defer cancel()
	return run.CurrentEngine().LeaderCounts(ctx, d.cfg.Base.Concurrency), nil
}
