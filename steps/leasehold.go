package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/steps/lease"
)

// leaseSites are the places the run lease lives: beside the config of every
// store of the plan.
func leaseSites(p *Plan) []lease.Site {
	sites := make([]lease.Site, 0, len(p.Nodes))
	for _, n := range p.Nodes {
		sites = append(sites, lease.Site{Label: fmt.Sprintf("store %d (%s)", n.StoreID, n.Host), Target: SSHTarget(n), Dir: path.Dir(n.ConfigPath)})
	}
	return sites
}

// leaseRequest is what a run asks of the run lease.
type leaseRequest struct {
	Kind string
	// Last is the journal's unfinished run (resume, abort), if any.
	Last *RunState
	// BreakLock takes over a dead holder's lease after confirmation.
	BreakLock bool
	// Confirm asks the operator; nil means the face asks no questions
	// (--yes, or the wizard, whose operator already chose to start).
	Confirm func(ctx context.Context, question string) error
}

// takeLease takes the cluster's run lease before preflight, so one run at a
// time works on the cluster whatever machine or plan copy it comes from. It
// returns the lease, a context cancelled when the lease is lost (someone broke
// it), and the release every exit path must call.
func (s *Session) takeLease(ctx context.Context, req leaseRequest) (*lease.Lease, context.Context, func(), error) {
	pdc := s.Engine.PD
	o := lease.Options{
		Exec: s.Cluster.SSH, Sites: leaseSites(s.Plan), PD: pdc,
		Holder: lease.Holder{Run: fmt.Sprintf("%s-%d", req.Kind, time.Now().UTC().UnixNano()), Command: req.Kind, Plan: s.PlanPath},
	}
	if req.Last != nil {
		o.TakeOver = req.Last.Run
		for id := range req.Last.Evicted {
			o.Expected = append(o.Expected, id)
		}
	}
	confirmed := req.Confirm == nil
	if req.BreakLock {
		found, err := lease.Inspect(ctx, o)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading the run lease before breaking it: %w", err)
		}
		var holders []string
		for _, f := range found {
			if f.Alive {
				return nil, nil, nil, &Error{Msg: (&lease.HeldError{Found: f}).Error(), Hints: []string{"--break-lock never breaks a live holder: " + (&lease.HeldError{Found: f}).Hint()}, Code: ExitFailure}
			}
			holders = append(holders, fmt.Sprintf("%s on %s (%s)", f.Holder, f.Site.Label, f.Why))
		}
		if len(holders) > 0 && req.Confirm != nil {
			confirmed = true
			if err := req.Confirm(ctx, fmt.Sprintf("break the run lease of %s? Only do this if that run is gone. Type 'yes'", strings.Join(slices.Compact(holders), "; "))); err != nil {
				return nil, nil, nil, err
			}
		}
		o.Break = true
	}
	l, err := lease.Acquire(ctx, o)
	if err != nil {
		var held *lease.HeldError
		var foreign *lease.ForeignSchedulersError
		switch {
		case errors.As(err, &held):
			return nil, nil, nil, &Error{Msg: err.Error(), Hints: []string{held.Hint()}, Code: ExitFailure, Err: err}
		case errors.As(err, &foreign):
			return nil, nil, nil, &Error{Msg: err.Error(), Hints: []string{foreign.Hint()}, Code: ExitFailure, Err: err}
		}
		return nil, nil, nil, fmt.Errorf("taking the run lease: %w", err)
	}
	release := func() {
		if err := l.Release(context.WithoutCancel(ctx)); err != nil {
			s.emit(Event{Kind: Warning, Step: StepRun, Message: fmt.Sprintf("releasing the run lease: %v (remove %s beside each store's config once no run is active)", err, lease.MarkerName)})
		}
	}
	if len(l.Foreign) > 0 {
		// A broken (dead) holder's schedulers: removed once the break is confirmed.
		if !confirmed {
			if err := req.Confirm(ctx, fmt.Sprintf("remove the evict-leader scheduler(s) of store(s) %v that no live run accounts for? Type 'yes'", l.Foreign)); err != nil {
				release()
				return nil, nil, nil, err
			}
		}
		for _, id := range l.Foreign {
			if err := pdc.RemoveEvictLeader(ctx, id); err != nil {
				release()
				return nil, nil, nil, fmt.Errorf("removing the evict-leader scheduler of store %d left by the broken run: %w", id, err)
			}
		}
		s.emit(Event{Kind: Info, Step: StepRun, Message: fmt.Sprintf("removed the evict-leader scheduler(s) of store(s) %v the broken run left", l.Foreign)})
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	stop := l.Keep(runCtx, func(err error) { cancel(err) })
	return l, runCtx, func() { stop(); cancel(nil); release() }, nil
}

// leaseLimit is the runner's source of PD's original leader-schedule-limit:
// the lease's, read once per cluster (PD's current value when it had none).
func leaseLimit(l *lease.Lease, pdc PD) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if n := l.LimitOriginal(); n >= 0 {
			return n, nil
		}
		return pdc.LeaderScheduleLimit(ctx)
	}
}
