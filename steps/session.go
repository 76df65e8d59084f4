package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
)

// Session is one plan opened against its cluster: the one way every face
// (apply, rotate, rotate --incident, disable, change-method, deliver and the
// wizard) runs the engine. It reads the journal (Unfinished), cleans up after
// an interrupted run (Abort), previews (Preview), runs (Run: resume → preflight
// gate → prepare the key → batches → runner → after-hooks → TiUP meta sync),
// delivers keys (Deliver) and writes the signed report (WriteReport). Every
// step it takes is an Event on Events, the stream both faces render.
type Session struct {
	Plan        *Plan
	PlanPath    string // where the plan is saved (rotation, disable and change-method rewrite it)
	JournalPath string
	Cluster     *Cluster
	Backend     kms.Backend
	Engine      *Engine
	// Events receives every event of the session; nil drops them.
	Events Sink
	// Decider answers the runner's decisions and the rotation's "retire-old";
	// nil follows the plan's policies (PolicyDecider).
	Decider Decider

	mu         sync.Mutex // guards Engine while Run rewires it and a face reads it
	ownCluster bool
	kind       string
	refs       []kms.KeyRef
	res        *Result
	binding    Binding   // the last Run's: partial when it covered part of the cluster
	accepted   []string  // the preflight warnings the last passing gate went past (acceptedWarnings)
	resuming   *RunState // the unfinished run this run resumes (nil for a new run)
}

// OpenOptions say how to open a session.
type OpenOptions struct {
	// PlanPath is where the plan lives (and is rewritten); required.
	PlanPath string
	// Journal is the journal file (default PlanPath + ".journal").
	Journal string
	// Cluster reuses a connected cluster (the wizard's); nil connects to the
	// one the plan names. A reused cluster is not closed by Close.
	Cluster *Cluster
	// Events and Decider become the session's.
	Events  Sink
	Decider Decider
}

// JournalPathOf is the journal beside a plan unless flag names another.
func JournalPathOf(plan, flag string) string {
	if flag != "" {
		return flag
	}
	return plan + ".journal"
}

// PlanConnect returns the connect options a plan records.
func PlanConnect(p *Plan) ConnectOptions {
	f := ConnectOptions{PD: p.Cluster.PD, PDCA: p.Cluster.CA, PDCert: p.Cluster.Cert, PDKey: p.Cluster.Key,
		Meta: p.Cluster.MetaYAML, SSHConfig: p.Cluster.SSHConfig, SSHUser: p.Cluster.SSHUser, Sudo: p.Cluster.Sudo,
		Timeout: 10 * time.Second, Concurrency: 20}
	if p.Cluster.KnownHosts != "" {
		f.KnownHosts = []string{p.Cluster.KnownHosts}
	}
	if p.Cluster.Identity != "" {
		f.Identity = []string{p.Cluster.Identity}
	}
	return f
}

// OpenPlan loads the plan at o.PlanPath and opens it.
func OpenPlan(ctx context.Context, o OpenOptions) (*Session, error) {
	p, err := LoadPlan(o.PlanPath)
	if err != nil {
		return nil, err
	}
	return Open(ctx, p, o)
}

// Open connects to the cluster p names (or reuses o.Cluster), refuses another
// cluster, and builds the key backend and the engine's ports. Nothing changes.
func Open(ctx context.Context, p *Plan, o OpenOptions) (*Session, error) {
	if o.PlanPath == "" {
		return nil, errors.New("opening a plan: no plan path")
	}
	s := &Session{Plan: p, PlanPath: o.PlanPath, JournalPath: JournalPathOf(o.PlanPath, o.Journal),
		Cluster: o.Cluster, Events: o.Events, Decider: o.Decider}
	if s.Cluster == nil {
		c, err := PlanConnect(p).Connect(ctx)
		if err != nil {
			return nil, err
		}
		s.Cluster, s.ownCluster = c, true
	}
	if p.Cluster.ClusterID != 0 && s.Cluster.ClusterID != p.Cluster.ClusterID {
		s.Close()
		return nil, Failf("re-create the plan against this cluster with 'tikv-ear plan'", "%s was made for PD cluster %d, but %s is cluster %d",
			o.PlanPath, p.Cluster.ClusterID, strings.Join(s.Cluster.Flags.PD, ","), s.Cluster.ClusterID)
	}
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		s.Close()
		return nil, Usagef("fix [target.key] in "+o.PlanPath, "key backend: %v", err)
	}
	s.Backend = backend
	s.rewire()
	return s, nil
}

// Close releases the SSH connections of a cluster the session connected itself.
func (s *Session) Close() {
	if s.ownCluster && s.Cluster != nil {
		s.Cluster.Close()
	}
}

// rewire rebuilds the engine's ports after the plan's target changed.
func (s *Session) rewire() {
	eng := NewEngine(s.Cluster, s.Plan, s.Backend)
	s.mu.Lock()
	s.Engine = eng
	s.mu.Unlock()
}

// CurrentEngine returns the engine's ports; safe while Run goes on in
// another goroutine (the dashboard reads leader counts through it).
func (s *Session) CurrentEngine() *Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Engine
}

// Kind is the kind of the last Run ("" before one).
func (s *Session) Kind() string { return s.kind }

// Refs are the key generations the last Run delivered: current, then previous.
func (s *Session) Refs() []kms.KeyRef { return s.refs }

// Result is the last Run's result (nil before one, or when it stopped before the runner).
func (s *Session) Result() *Result { return s.res }

// emit sends e to the session's sink, and into the timeline of the run's
// result once there is one (the steps after the runner: second pass, retire,
// finalize), so the report records them.
func (s *Session) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.StoreID != 0 && e.Store == "" {
		if n, ok := s.Plan.Node(e.StoreID); ok {
			e.Store = n.Address
		}
	}
	if s.res != nil {
		s.res.Timeline = append(s.res.Timeline, e)
	}
	if s.Events != nil {
		s.Events.Emit(e)
	}
}

func (s *Session) decider() Decider {
	if s.Decider == nil {
		return PolicyDecider{}
	}
	return s.Decider
}

// Unfinished returns the last run the journal records when it did not finish.
func (s *Session) Unfinished() (RunState, bool, error) {
	recs, err := ReadJournal(s.JournalPath)
	if err != nil {
		return RunState{}, false, err
	}
	last, ok := LastRun(recs)
	if !ok || last.Finished {
		return RunState{}, false, nil
	}
	return last, true, nil
}

// Abort stops an interrupted run safely under the run lease: the
// evict-leader schedulers it left are removed, a leader-schedule-limit it
// raised is restored, a store whose config it swapped but never restarted gets
// its previous tikv.toml back, and the journal records the run aborted. It
// returns the run and how many schedulers went. o.BreakLock and o.Confirm
// shape the lease as for Run.
func (s *Session) Abort(ctx context.Context, o RunOptions) (RunState, int, error) {
	last, ok, err := s.Unfinished()
	if err != nil {
		return RunState{}, 0, err
	}
	if !ok {
		return RunState{}, 0, Usagef("", "%s records no unfinished run to abort", s.JournalPath)
	}
	_, ctx, release, err := s.takeLease(ctx, leaseRequest{Kind: FirstNonEmpty(o.Kind, last.Kind), Last: &last, BreakLock: o.BreakLock, Confirm: o.Confirm})
	if err != nil {
		return last, 0, err
	}
	defer release()
	removed, err := RemoveLeftovers(ctx, s.Engine.PD, last)
	if err != nil {
		return last, removed, err
	}
	restored := s.restoreUnrestarted(ctx, last)
	var changed []uint64
	for id := range swappedStores(last) {
		if !slices.Contains(restored, id) {
			changed = append(changed, id)
		}
	}
	s.syncChangedStores(ctx, changed)
	if err := CloseAbortedRun(s.JournalPath, last); err != nil {
		return last, removed, err
	}
	s.emit(Event{Kind: Info, Step: StepRun, Message: fmt.Sprintf("aborted run %s: removed %d evict-leader scheduler(s); every store keeps a config whose key is on its host", last.Run, removed)})
	return last, removed, nil
}

// PreflightError is a preflight that found blocking checks; nothing changed.
type PreflightError struct{ Blocking []Check }

// Error names the count and the first finding.
func (e *PreflightError) Error() string {
	return fmt.Sprintf("preflight failed with %d blocking finding(s); nothing changed: %s", len(e.Blocking), e.Blocking[0].Message)
}

// Checks gathers the facts of the plan's target and runs the preflight
// checks, key backend included. Nothing changes.
func (s *Session) Checks(ctx context.Context) []Check {
	facts := GatherFacts(ctx, s.Plan, s.Engine.PD, s.Engine.Nodes, s.Cluster.Flags.Concurrency)
	facts.Desired = &s.Engine.Desired
	for _, c := range s.Backend.Preflight(ctx) {
		facts.KeyChecks = append(facts.KeyChecks, KeyCheck(c, 0))
	}
	return RunPreflight(facts)
}

// gate is the preflight gate: events around Checks, and an error (exit 1,
// wrapping a PreflightError) on any blocking finding.
func (s *Session) gate(ctx context.Context, what string) error {
	s.emit(Event{Kind: StepStarted, Step: StepPreflight, Message: what})
	checks := s.Checks(ctx)
	if blocking := Blocking(checks); len(blocking) > 0 {
		pe := &PreflightError{Blocking: blocking}
		s.emit(Event{Kind: StepFailed, Step: StepPreflight, Error: pe.Error()})
		if s.resuming != nil {
			if err := s.resumeBlocked(*s.resuming, blocking); err != nil {
				return err
			}
		}
		return &Error{Msg: fmt.Sprintf("preflight failed with %d blocking finding(s); nothing changed", len(blocking)), Hints: []string{blocking[0].Fix}, Code: ExitFailure, Err: pe}
	}
	for _, w := range acceptedWarnings(checks) { // a rotation passes two gates: each warning once
		if !slices.Contains(s.accepted, w) {
			s.accepted = append(s.accepted, w)
		}
	}
	s.emit(Event{Kind: StepDone, Step: StepPreflight, Message: "no blocking finding"})
	return nil
}

// Batches orders the plan's stores into batches from PD's regions (without
// them, the strategy's safe fallback).
func (s *Session) Batches(ctx context.Context) BatchPlan {
	regions, err := s.Engine.PD.Regions(ctx)
	if err != nil {
		regions = nil
	}
	return PlanBatches(s.Plan.Nodes, regions, s.Plan.Strategy.Canary, s.Plan.Strategy.Batching)
}

// RunOptions choose the run Session.Run makes.
type RunOptions struct {
	// Kind is KindApply, KindRotate, KindDisable or KindChangeMethod.
	Kind string
	// Resume goes on with the unfinished run the journal records (from the
	// cluster's real state); without it an unfinished run refuses the start.
	Resume bool
	// ReportDir overrides the plan's report directory.
	ReportDir string
	// Incident (rotate): fastest safe strategy and the old generation revoked.
	Incident bool
	// Retire (rotate): revoke the old generation once every store runs the new one.
	Retire bool
	// Method (change-method): the new data encryption method.
	Method string
	// RemoveMasterKey (disable, step two): the master key goes to plaintext.
	RemoveMasterKey bool
	// Batches are batches already shown to the operator; nil plans them now.
	Batches *BatchPlan
	// Confirm is asked once the batches are known, before anything changes,
	// and before a dead run's lease is broken; nil asks nothing (--yes).
	Confirm func(ctx context.Context, question string) error
	// BreakLock takes over the run lease of a run that is gone (never a live one).
	BreakLock bool
	// Stores limits the run to these store ids: a plan that leaves out an Up
	// store is refused without it, and the report then says partial: N of M.
	Stores []uint64
}

// Run makes one run of the plan: an unfinished run refuses or is resumed,
// the run's kind adjusts the plan, the preflight gate, a new key generation
// where the kind needs one (and its own gate), the batches, the runner, the
// kind's after-hooks and the TiUP meta.yaml sync. The result is returned even
// when the run failed; it is nil when the run stopped before the runner.
func (s *Session) Run(ctx context.Context, o RunOptions) (*Result, error) {
	p := s.Plan
	s.kind, s.res, s.binding, s.accepted, s.resuming = o.Kind, nil, Binding{}, nil, nil
	BoundHeap(len(p.Nodes))
	last, unfinished, err := s.Unfinished()
	if err != nil {
		return nil, err
	}
	// One run per cluster: the lease is taken before anything is read for the
	// run and released on every exit path (steps/lease).
	lreq := leaseRequest{Kind: o.Kind, BreakLock: o.BreakLock, Confirm: o.Confirm}
	if unfinished && o.Resume {
		lreq.Last = &last
	}
	held, leaseCtx, releaseLease, err := s.takeLease(ctx, lreq)
	if err != nil {
		return nil, err
	}
	defer releaseLease()
	ctx = leaseCtx
	switch {
	case unfinished && !o.Resume:
		return nil, Failf(fmt.Sprintf("run 'tikv-ear %s %s --resume' to continue, or '--abort' to stop safely", o.Kind, s.PlanPath),
			"%s records an unfinished %s run (%s)", s.JournalPath, last.Kind, last.Run)
	case !unfinished && o.Resume:
		return nil, Usagef("", "%s records no unfinished run to resume", s.JournalPath)
	case unfinished && o.Kind == KindRotate && p.Target.PreviousMasterKey == nil:
		return nil, Failf("run 'tikv-ear rotate "+s.PlanPath+" --abort', then rotate again",
			"%s records an unfinished run, but the plan names no previous-master-key to go on with", s.JournalPath)
	case unfinished:
		// What the crashed run left in PD (schedulers, a raised
		// leader-schedule-limit) is cleaned first; the runner re-reads every
		// store's real state and skips finished ones.
		if _, err := RemoveLeftovers(ctx, s.Engine.PD, last); err != nil {
			return nil, err
		}
		// A store the crashed run swapped but never restarted still runs its
		// old config: its previous tikv.toml goes back, so that this run swaps
		// it again with a backup of the real original, and a failure before
		// its restart puts that back (otherwise the new config stayed on disk
		// for some later, unplanned restart: issue 18's hazard).
		s.restoreUnrestarted(ctx, last)
		s.emit(Event{Kind: Info, Step: StepRun, Message: "resuming " + last.Run + " from the cluster's real state"})
		s.resuming = &last
	}
	if o.ReportDir != "" {
		p.Report.Dir = o.ReportDir
	}
	op := s.op(o)
	if op.adjust != nil {
		op.adjust(p)
		s.rewire()
	}
	// The plan must be the cluster's, node by node, before the first change.
	binding, err := s.bindPlan(ctx, o.Stores)
	if err != nil {
		return nil, err
	}
	s.binding = binding
	if binding.Partial {
		s.rewire()
		s.emit(Event{Kind: Info, Step: StepPreflight, Message: binding.Summary()})
	}
	s.refs = PlanRefs(p)
	if err := s.gate(ctx, fmt.Sprintf("preflight of %d stores", len(p.Nodes))); err != nil {
		return nil, err
	}
	if op.prepare != nil && !o.Resume {
		// Only a healthy cluster gets a new key generation; then the kind's
		// own gates (previous-master-key, KMS→KMS) are checked before any restart.
		if s.refs, err = op.prepare(ctx); err != nil {
			return nil, err
		}
		s.rewire()
		if err := s.gate(ctx, "preflight of the new target"); err != nil {
			return nil, fmt.Errorf("%w (no host changed; the new key generation prepared in %s stays unused and %s is unchanged)", err, s.Backend.Name(), s.PlanPath)
		}
		if op.persist != nil {
			if err := op.persist(); err != nil {
				return nil, err
			}
		}
	}
	var batches BatchPlan
	if o.Batches != nil && len(o.Batches.Batches) > 0 {
		batches = *o.Batches
	} else {
		batches = s.Batches(ctx)
	}
	if o.Confirm != nil {
		if err := o.Confirm(ctx, fmt.Sprintf("%s: %d stores of cluster %d in %d batches (%s). Type 'yes' to start", o.Kind, len(p.Nodes), p.Cluster.ClusterID, len(batches.Batches), batches.Strategy)); err != nil {
			return nil, err
		}
	}
	journal, err := OpenJournal(s.JournalPath)
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	floor := &FloorObserver{}
	runner := s.Engine.Runner(p, o.Kind, s.refs, journal, Fanout{s.sink(), floor}, s.decider())
	runner.RunID = held.Holder().Run
	runner.LimitOriginal = leaseLimit(held, s.Engine.PD)
	res, runErr := runner.Run(ctx, batches)
	s.res = res
	if runErr == nil {
		// How close the run came to what the cluster itself allows (floor.go).
		s.emit(Event{Kind: Info, Step: StepRun, Time: time.Now(), Message: floor.Summary(batches, res, res.Finished.Sub(res.Started))})
	}
	if runErr == nil && op.after != nil {
		runErr = op.after(ctx)
		res.Err = runErr
	}
	if p.Cluster.MetaYAML != "" && (runErr != nil || binding.Partial) {
		// Every other exit path: server_configs.tikv is cluster-wide, so only
		// the stores whose tikv.toml changed get their own config in meta.yaml
		// (or a warning with the command that does it).
		s.syncChangedStores(context.WithoutCancel(ctx), changedStores(res))
	} else if runErr == nil && p.Cluster.MetaYAML != "" {
		// The plan may have moved on (rotation's second pass drops previous-master-key).
		if err := SyncTiUPMeta(p.Cluster.MetaYAML, NewEngine(s.Cluster, p, s.Backend).Desired); err != nil {
			s.emit(Event{Kind: Warning, Step: StepFinalize, Message: err.Error() + " ('tiup cluster reload' would revert the encryption keys)"})
		} else {
			s.emit(Event{Kind: Info, Step: StepFinalize, Message: "wrote the encryption keys into " + p.Cluster.MetaYAML + " server_configs.tikv (backup kept)"})
			if err := clearInstanceEncryption(p.Cluster.MetaYAML, p.Nodes); err != nil {
				s.emit(Event{Kind: Warning, Step: StepFinalize, Message: fmt.Sprintf("removing per-store encryption keys an earlier run left in %s: %v (they would override server_configs.tikv at the next reload)", p.Cluster.MetaYAML, err)})
			}
		}
	}
	if runErr == nil {
		s.pruneBackups(context.WithoutCancel(ctx))
	}
	if errors.Is(runErr, context.Canceled) {
		// The operator stopped the run: one sentence of what it left and the
		// two commands that go on, instead of the cause chain's "context canceled".
		if st, ok := s.Stopped(o); ok {
			st.Interrupted = true
			return res, &Error{Msg: st.Sentence(), Hints: st.Hints(), Code: ExitAborted, Err: runErr}
		}
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return res, &Error{Msg: runErr.Error(), Code: ExitFailure, Err: runErr,
			Hints: []string{fmt.Sprintf("every evict-leader scheduler was removed; fix the cause, then run 'tikv-ear %s %s' again: stores already on the target are verified and skipped", o.Kind, s.PlanPath)}}
	}
	return res, runErr
}

// sink is the runner's sink: the session's, or one that drops events.
func (s *Session) sink() Sink {
	if s.Events == nil {
		return SinkFunc(func(Event) {})
	}
	return s.Events
}

// WriteReport builds the signed report of the last run and writes it into the
// plan's report directory; edit (may be nil) adjusts the model first (the
// wizard records the schedule the operator chose). generated names a signing
// key made for it.
func (s *Session) WriteReport(ctx context.Context, edit func(*report.Report)) (files report.Files, generated string, err error) {
	if s.res == nil {
		return report.Files{}, "", errors.New("no run to report on")
	}
	rep := BuildReport(ctx, report.Kind(s.kind), s.Plan, s.res, s.Engine, s.refs)
	markPartial(rep, s.binding)
	if edit != nil {
		edit(rep)
	}
	files, generated, err = WriteReport(ctx, s.Plan, rep, s.res.Run)
	if err != nil {
		return files, generated, fmt.Errorf("writing the signed report: %w", err)
	}
	return files, generated, nil
}

// SavePlan rewrites the plan file atomically (mode 0600).
func SavePlan(path string, p *Plan) error {
	data, err := p.Encode()
	if err != nil {
		return fmt.Errorf("encoding the plan: %w", err)
	}
	tmp := path + ".tikv-ear.tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

// PlanRefs are the key generations a plan names: current, then previous.
func PlanRefs(p *Plan) []kms.KeyRef {
	refs := []kms.KeyRef{p.Target.MasterKey}
	if p.Target.PreviousMasterKey != nil {
		refs = append(refs, *p.Target.PreviousMasterKey)
	}
	return refs
}
