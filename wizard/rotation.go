package wizard

import (
	"context"
	"fmt"

	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// genLabel names a key generation as an operator reads it.
func genLabel(r kms.KeyRef) string {
	s := r.ID
	if r.Generation > 0 {
		s = fmt.Sprintf("generation %d (%s)", r.Generation, r.ID)
	}
	if r.Fingerprint != "" {
		s += " " + r.Fingerprint
	}
	return s
}

// rotationPreview says what rotating p does, without touching anything.
// incident is the wizard's choice (the home screen's incident journey) on
// top of the command line's --incident.
func (d *Driver) rotationPreview(p *steps.Plan, incident bool) ui.RotationPreview {
	backend := p.Target.Key.Backend
	incident = incident || d.cfg.Incident
	r := ui.RotationPreview{Backend: backend, Current: genLabel(p.Target.MasterKey), Incident: incident,
		Revoke: incident || d.cfg.Retire}
	first := fmt.Sprintf("create the next master-key generation in %s; plan.toml records it (nothing else changes if this fails)", backend)
	if p.Target.MasterKey.Generation > 0 {
		r.Next = fmt.Sprintf("generation %d (created when you rotate)", p.Target.MasterKey.Generation+1)
	} else {
		r.Next = "a new key (created when you rotate)"
	}
	if prev := p.Target.PreviousMasterKey; prev != nil { // an interrupted rotation: same generations
		r.Continuing, r.Current, r.Next = true, genLabel(*prev), genLabel(p.Target.MasterKey)
		first = "no new generation: the plan already names both (an interrupted rotation goes on)"
	}
	r.Steps = []string{first,
		// The log line each store writes: tikvlog.MsgPersistedReplaceMasterKey (components/encryption/src/manager/mod.rs).
		fmt.Sprintf("pass 1, batch by batch: evict leaders, write master-key = new and previous-master-key = old into tikv.toml, restart; each store re-encrypts key.dict and logs %q", tikvlog.MsgPersistedReplaceMasterKey.Text),
		"pass 2: previous-master-key removed from every tikv.toml and old key files shredded; no restart (TiKV reads the previous key only when the current one fails)",
	}
	if r.Revoke {
		r.Steps = append(r.Steps, fmt.Sprintf("then you may revoke the old generation in %s: kept unless you type yes on the dashboard, after reading what it destroys", backend))
	} else {
		r.Steps = append(r.Steps, "the old generation stays in "+backend+" (tikv-ear rotate --retire-old revokes it)")
	}
	return r
}

// buildRotation loads the plan, opens it on the wizard's connection, runs the
// read-only preflight and previews the rotation. Nothing changes: the new
// generation is created only by Apply.
func (d *Driver) buildRotation(ctx context.Context, c ui.Choices) (ui.PlanPreview, error) {
	path := d.planPath()
	p, err := steps.LoadPlan(path)
	if err != nil {
		return ui.PlanPreview{}, err
	}
	if p.Target.Key.Backend == "" || p.Target.MasterKey.ID == "" {
		return ui.PlanPreview{}, steps.Usagef("enable encryption first with 'tikv-ear apply "+path+"'", "%s names no master key to rotate", path)
	}
	if err := steps.CheckNextKey(p, path, c.Incident || d.cfg.Incident); err != nil {
		return ui.PlanPreview{}, err
	}
	if c.Incident || d.cfg.Incident {
		steps.IncidentStrategy(p)
	}
	if d.cfg.ReportDir != "" {
		p.Report.Dir = d.cfg.ReportDir
	}
	cl, err := d.session(ctx, c.Connect)
	if err != nil {
		return ui.PlanPreview{}, err
	}
	s, err := steps.Open(ctx, p, steps.OpenOptions{PlanPath: path, Journal: d.cfg.Journal, Cluster: cl})
	if err != nil {
		return ui.PlanPreview{}, err
	}
	defer s.Close()
	r := d.rotationPreview(p, c.Incident)
	return ui.PlanPreview{Plan: p, Batches: s.Batches(ctx), Rotation: &r, Checks: s.Checks(ctx)}, nil
}
