package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Run kinds, recorded in the journal and the report.
const (
	KindApply        = "apply"
	KindRotate       = "rotate"
	KindDisable      = "disable"
	KindChangeMethod = "change-method"
)

// Editor rewrites a tikv.toml so that its [security.encryption] section says enc,
// keeping every other byte (cluster/tikv's comment-preserving editor).
type Editor func(orig []byte, enc tikv.Encryption) ([]byte, error)

// NodeState is what the runner learns of a store by looking at it.
type NodeState struct {
	Running     tikv.Encryption // from the status port's /config
	RunningOK   bool
	KeyDict     KeyDictState
	LogMatches  []string // catalogue messages seen since the restart, in order
	Fatal       string   // a FATAL line seen since the restart
	LogUnread   string   // why the log since the restart could not be read ("" when it was)
	Sample      Sample
	ConfigAfter []byte
}

// KeyDictState is key.dict metadata read without any key.
type KeyDictState struct {
	Exists    bool
	Method    string // aes256-gcm or plaintext (metadata "method")
	KMSVendor string
}

// Inspector reads what the runner needs to decide and to verify: the running
// encryption config, key.dict metadata and the log since an offset. It is
// implemented over cluster/tikv and the SSH node.
type Inspector interface {
	RunningEncryption(ctx context.Context, n NodePlan) (tikv.Encryption, error)
	// Look reads the log since an offset (catalogue message names and the
	// first FATAL message), whether the port listens and key.dict's metadata,
	// as q asks, in one round trip to the store's host.
	Look(ctx context.Context, n NodePlan, q LookQuery) Look
}

// Runner executes a plan: stage, then per batch evict → swap → restart → ready →
// verify → release → settle, then finalize. The swap is written while the
// leaders move and put back when the store is not restarted after all. It owns
// cleanup: every evict-leader scheduler it adds is removed on every exit path
// (panics in a store's goroutine included); one PD would not remove keeps the
// journal's run open for 'apply --resume' / '--abort'.
type Runner struct {
	Plan      *Plan
	Kind      string
	Desired   tikv.Encryption // the [security.encryption] every store ends with
	PD        PD
	Nodes     map[uint64]Node
	Keys      Keys
	Editor    Editor
	Inspector Inspector
	Journal   *Journal
	Events    Sink
	Decider   Decider
	Sleep     Sleeper
	Now       func() time.Time
	// Verify decides whether a store's state proves the target was reached.
	Verify func(n NodePlan, st NodeState) []string
	// CleanupTimeout bounds how long removing an evict-leader scheduler is
	// retried while PD does not answer (default DefaultCleanupTimeout). A
	// scheduler still in place after it stays in the journal, where
	// 'apply --resume' and 'apply --abort' find and remove it.
	CleanupTimeout time.Duration
	// RunID is the run's id (the run lease's, package steps/lease); empty
	// makes one from Kind and the time.
	RunID string
	// LimitOriginal reads PD's leader-schedule-limit before the run raises it;
	// the run lease's value, read once per cluster, so no run takes an
	// already-raised limit for the original (default: PD's current value).
	LimitOriginal func(ctx context.Context) (int, error)

	run     string
	mu      sync.Mutex
	evicted map[uint64]bool
	// stoppedBy maps a batch stopped because the batch before it failed to
	// that batch (its steps' failures say so, not "interrupted").
	stoppedBy map[int]int
	// releaseTried marks stores whose scheduler removal was already attempted.
	releaseTried map[uint64]bool
	results      map[uint64]*StoreResult
	timeline     []Event
	// limitOriginal is PD's leader-schedule-limit before the run raised it; -1 when not raised.
	limitOriginal int
	// pace holds the shared PD store poll and the learned start time (pace.go).
	pace pace
	// live is what the log pane already shows of each store's log (livelog.go).
	live liveLog
	// digest is the plan's digest, computed once: every journal record
	// carries it, and encoding a 100-node plan per record cost the run CPU.
	digestOnce sync.Once
	digest     string
}

// DefaultCleanupTimeout is Runner.CleanupTimeout's default: a scheduler left
// behind keeps its store at zero leaders (reference pd-and-tiup.md §1.4, §6.1),
// so the runner keeps trying for a while before leaving it to --resume/--abort.
const DefaultCleanupTimeout = 2 * time.Minute

// StateCleanupPending is the run record of a run that ended with an
// evict-leader scheduler still in place: the journal keeps the run unfinished.
const StateCleanupPending = "cleanup-pending"

// StateInterrupted is the journal state of a run the operator stopped
// (Ctrl-C, the wizard's abort): like a crash, it stays open for --resume
// or --abort.
const StateInterrupted = "interrupted"

// ErrPDUnreachable marks a failure caused by PD not answering rather than by the
// store: the runner does not roll a store back for it.
var ErrPDUnreachable = errors.New("PD is not answering")

// StoreResult is the evidence the run gathered for one store.
type StoreResult struct {
	StoreID    uint64
	Address    string
	Zone       string
	Before     tikv.Encryption
	After      tikv.Encryption
	Backup     string
	State      NodeState
	Skipped    bool
	Failed     string
	Phases     []Phase
	RolledBack bool
}

// Phase is one step of one store with its times, for the report's timeline.
type Phase struct {
	Step  string
	Start time.Time
	End   time.Time
	OK    bool
}

// Result is what a run produced.
type Result struct {
	Run      string
	Kind     string
	Started  time.Time
	Finished time.Time
	Batches  BatchPlan
	Stores   []*StoreResult
	Timeline []Event
	Err      error
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if e.StoreID != 0 && e.Store == "" {
		if n, ok := r.Plan.Node(e.StoreID); ok {
			e.Store = n.Address
		}
	}
	r.mu.Lock()
	if e.Kind != NodeLog && e.Kind != MetricSample && e.Kind != StepProgress {
		r.timeline = append(r.timeline, e)
	}
	r.mu.Unlock()
	if r.Events != nil {
		r.Events.Emit(e)
	}
}

func (r *Runner) journal(step string, store uint64, batch int, state string, detail map[string]string) error {
	if r.Journal == nil {
		return nil
	}
	return r.Journal.Append(Record{Run: r.run, Kind: r.Kind, PlanDigest: r.planDigest(), Step: step, StoreID: store, Batch: batch, State: state, Detail: detail, Time: r.now().UTC()})
}

// planDigest is r.Plan's digest; the plan does not change during a run.
func (r *Runner) planDigest() string {
	r.digestOnce.Do(func() { r.digest = r.Plan.Digest() })
	return r.digest
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return RealSleep(ctx, d)
}

// Run executes the plan. It returns the result (with evidence) even on failure.
func (r *Runner) Run(ctx context.Context, batches BatchPlan) (res *Result, err error) {
	r.evicted, r.releaseTried = map[uint64]bool{}, map[uint64]bool{}
	r.stoppedBy = map[int]int{}
	r.limitOriginal = -1
	r.results = map[uint64]*StoreResult{}
	r.run = r.RunID
	if r.run == "" {
		r.run = fmt.Sprintf("%s-%d", r.Kind, r.now().UTC().UnixNano())
	}
	if r.Decider == nil {
		r.Decider = PolicyDecider{}
	}
	res = &Result{Run: r.run, Kind: r.Kind, Started: r.now().UTC(), Batches: batches}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v\n%s", p, debug.Stack())
		}
		left := r.releaseAll() // every exit path: success, error, abort, SIGINT, panic
		if lerr := r.restoreScheduleLimit(); lerr != nil && err == nil {
			err = lerr
		}
		if len(left) > 0 && err == nil {
			err = fmt.Errorf("the evict-leader scheduler of store(s) %v could not be removed", left)
		}
		res.Finished = r.now().UTC()
		res.Err = err
		for _, n := range r.Plan.Nodes {
			if sr, ok := r.results[n.StoreID]; ok {
				res.Stores = append(res.Stores, sr)
			}
		}
		state := StateDone
		msg := "run finished: every store verified"
		var detail map[string]string
		switch {
		case len(left) > 0:
			// Not recorded as finished: the journal keeps the run open so that
			// 'apply --resume' or 'apply --abort' removes the schedulers left.
			state = StateCleanupPending
			detail = map[string]string{"schedulers-left": fmt.Sprint(left)}
			msg = fmt.Sprintf("run stopped: %v; evict-leader scheduler(s) of store(s) %v are still in place: '%s --resume' or '%s --abort' removes them", err, left, r.Kind, r.Kind)
		case errors.Is(err, context.Canceled):
			// Not recorded as finished: '<kind> --resume' goes on from the
			// cluster's real state, '<kind> --abort' stops it safely.
			state = StateInterrupted
			msg = "run stopped: " + interruptedText
		case err != nil:
			state = StateFailed
			msg = "run stopped: " + err.Error()
		}
		_ = r.journal(StepRun, 0, 0, state, detail)
		r.emit(Event{Kind: RunDone, Step: StepRun, Message: msg, Error: errString(err)})
		r.mu.Lock()
		res.Timeline = append([]Event(nil), r.timeline...)
		r.mu.Unlock()
	}()
	if err := r.journal(StepRun, 0, 0, StateStarted, map[string]string{"batches": fmt.Sprint(len(batches.Batches))}); err != nil {
		return res, err
	}
	r.emit(Event{Kind: Info, Step: StepRun, Message: fmt.Sprintf("%s: %d stores in %d batches (%s)", r.Kind, len(r.Plan.Nodes), len(batches.Batches), batches.Reason)})

	// Staging (key material beside the live one, nothing live) runs beside
	// the first batch's eviction, in batch order: the first batch (the
	// canary) swaps and restarts once its own stores are staged, every later
	// batch once every store is, so a staging failure leaves every store but
	// the first batch's on its original config. At 100 stores staging all
	// of them took longer than the canary's eviction (issue 17).
	r.pace.firstBatch = 0
	if len(batches.Batches) > 0 {
		r.pace.firstBatch = batches.Batches[0].Index
	}
	r.pace.staging = r.stageAsync(ctx, stageOrder(r.Plan.Nodes, batches))
	if err := r.raiseScheduleLimit(ctx); err != nil {
		_ = r.pace.staging.wait()
		return res, err
	}
	// A batch's settle (leaders back, peers caught up) runs while the next
	// batch evicts its leaders, and a batch that evicts ahead
	// (Batch.EvictAhead) starts evicting once the previous batch restarts;
	// the next restart waits for the previous batch's end and its settle
	// (runBatch). At most two batches are under way at once.
	var runs []*batchRun
	defer func() {
		for _, br := range runs {
			br.cancel()
		}
	}()
	for i, b := range batches.Batches {
		if n := len(runs); n > 0 {
			prev := runs[n-1]
			if b.EvictAhead {
				select {
				case <-prev.restarting:
				case <-prev.done:
				}
			} else {
				<-prev.done
			}
			if prev.failed() {
				break
			}
		}
		runs = append(runs, r.startBatch(ctx, b, runs, i == len(batches.Batches)-1))
	}
	var runErr error
	for _, br := range runs {
		<-br.done
		if br.err != nil && runErr == nil {
			runErr = br.err // the first batch that failed: a later one was stopped by it
		}
	}
	var settleErr error
	for _, br := range runs {
		if err := br.settle.wait(); err != nil && settleErr == nil {
			settleErr = err // its events belong to this run
		}
	}
	if runErr != nil {
		if serr := r.pace.staging.wait(); serr != nil {
			return res, serr // the cause: the stores only waited for it
		}
		return res, runErr
	}
	if err := errors.Join(r.pace.staging.wait(), settleErr); err != nil {
		return res, err
	}
	if err := r.finalize(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// batchRun is one batch under way.
type batchRun struct {
	index int
	// ids are the stores the batch takes through the sequence, or, when it
	// has none, those of the batch before it; set before restarting closes.
	ids []uint64
	// restarting closes once the batch's gate has passed and its stores
	// restart, or when it ends: a batch that evicts ahead starts then.
	restarting chan struct{}
	closeOnce  sync.Once
	// done closes when the batch is over; settle (its settle, running) and
	// err are set then.
	done   chan struct{}
	settle *settleFuture
	err    error
	cancel context.CancelFunc
	// last: no batch comes after it (its settle waits for no leaders).
	last bool
}

func (br *batchRun) markRestarting() { br.closeOnce.Do(func() { close(br.restarting) }) }

// failed reports whether the batch is over and failed.
func (br *batchRun) failed() bool {
	select {
	case <-br.done:
		return br.err != nil
	default:
		return false
	}
}

// startBatch runs batch b in the background after the batches in runs. A
// batch that started while the one before it was still under way is
// stopped if that one fails: its eviction is cancelled, its schedulers
// released and its config put back, as for an operator's stop.
func (r *Runner) startBatch(ctx context.Context, b Batch, runs []*batchRun, last bool) *batchRun {
	br := &batchRun{index: b.Index, restarting: make(chan struct{}), done: make(chan struct{}), last: last}
	var prev *batchRun
	if n := len(runs); n > 0 {
		prev = runs[n-1]
	}
	bctx, cancel := context.WithCancel(ctx)
	if prev != nil {
		go func() {
			select {
			case <-prev.done:
				if prev.err != nil {
					r.mu.Lock()
					r.stoppedBy[b.Index] = prev.index
					r.mu.Unlock()
					cancel()
				}
			case <-br.done:
			}
		}()
	}
	br.cancel = cancel // Run cancels it once the run is over (the batch's settle uses it)
	go func() {
		defer close(br.done)
		defer br.markRestarting()
		br.settle, br.err = r.runBatch(bctx, b, prev, br)
	}()
	return br
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *Runner) result(id uint64) *StoreResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	sr, ok := r.results[id]
	if !ok {
		n, _ := r.Plan.Node(id)
		sr = &StoreResult{StoreID: id, Address: n.Address, Zone: n.Zone}
		r.results[id] = sr
	}
	return sr
}

func (r *Runner) phase(id uint64, step string, start time.Time, ok bool) {
	sr := r.result(id)
	r.mu.Lock()
	sr.Phases = append(sr.Phases, Phase{Step: step, Start: start, End: r.now(), OK: ok})
	r.mu.Unlock()
}

// StageConcurrency is how many hosts stage at once (each is a few SSH commands).
const StageConcurrency = 16

// stage prepares every store: key material beside the live one, nothing live
// changes. Hosts are staged in parallel; the first failure in plan order wins.
func (r *Runner) stage(ctx context.Context, nodes []NodePlan) error {
	r.emit(Event{Kind: StepStarted, Step: StepStage, Message: "key material and new configs staged beside the live ones; nothing live changes"})
	errs := make([]error, len(nodes))
	var done int
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, StageConcurrency)
	for i, n := range nodes {
		if i == 1 {
			// The first store stages alone: a backend's first call may log in
			// or cache (kms backends do not promise concurrent first use).
			wg.Wait()
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("internal error staging store %d: %v\n%s", n.StoreID, p, debug.Stack())
				}
			}()
			if errs[i] = r.stageOne(ctx, n); errs[i] != nil {
				return
			}
			close(r.pace.staged[n.StoreID])
			mu.Lock()
			done++
			d := done
			mu.Unlock()
			r.emit(Event{Kind: StepProgress, Step: StepStage, StoreID: n.StoreID, Done: d, Total: len(nodes)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return r.fail(StepStage, nodes[i].StoreID, 0, err)
		}
	}
	_ = r.journal(StepStage, 0, 0, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepStage, Message: fmt.Sprintf("%d stores staged", len(r.Plan.Nodes))})
	return nil
}

// stageOne checks that the store's config can be edited and delivers its key material.
func (r *Runner) stageOne(ctx context.Context, n NodePlan) error {
	node := r.Nodes[n.StoreID]
	live, ok, err := node.ReadFile(ctx, n.ConfigPath)
	if err != nil {
		return fmt.Errorf("reading %s on %s: %w", n.ConfigPath, n.Host, err)
	}
	if !ok {
		return fmt.Errorf("%s does not exist on %s", n.ConfigPath, n.Host)
	}
	if _, err := r.Editor(live, r.Desired); err != nil {
		return fmt.Errorf("editing %s from %s: %w", n.ConfigPath, n.Host, err)
	}
	if r.Keys != nil {
		if err := r.Keys.Stage(ctx, n); err != nil {
			return fmt.Errorf("staging the %s key on %s: %w", r.Keys.Name(), n.Host, err)
		}
	}
	if running, err := r.Inspector.RunningEncryption(ctx, n); err == nil {
		sr := r.result(n.StoreID)
		r.mu.Lock()
		sr.Before = running
		r.mu.Unlock()
	}
	return nil
}

func (r *Runner) fail(step string, store uint64, batch int, err error) error {
	text := err.Error()
	if errors.Is(err, context.Canceled) {
		text = interruptedText // not the cause chain ending in "context canceled"
		r.mu.Lock()
		by, ok := r.stoppedBy[batch]
		r.mu.Unlock()
		if ok {
			text = fmt.Sprintf("stopped: batch %d failed", by)
		}
	}
	_ = r.journal(step, store, batch, StateFailed, map[string]string{"error": text})
	r.emit(Event{Kind: StepFailed, Step: step, StoreID: store, Batch: batch, Error: text})
	if store != 0 {
		sr := r.result(store)
		r.mu.Lock()
		if sr.Failed == "" {
			sr.Failed = step + ": " + text
		}
		r.mu.Unlock()
	}
	return err
}

// upToDate reports whether the store already runs the desired encryption.
func (r *Runner) upToDate(running tikv.Encryption) bool {
	return SameEncryption(running, r.Desired)
}

// SameEncryption compares what matters to TiKV: method, master key and previous master key.
func SameEncryption(a, b tikv.Encryption) bool {
	return a.EffectiveMethod() == b.EffectiveMethod() &&
		sameKey(a.MasterKey, b.MasterKey) && sameKey(a.PreviousMasterKey, b.PreviousMasterKey) &&
		(b.DataKeyRotationPeriod == "" || a.DataKeyRotationPeriod == b.DataKeyRotationPeriod)
}

func sameKey(a, b tikv.MasterKey) bool {
	if a.EffectiveType() != b.EffectiveType() {
		return false
	}
	switch a.EffectiveType() {
	case tikv.MasterKeyFile:
		return a.Path == b.Path
	case tikv.MasterKeyKMS:
		return a.KeyID == b.KeyID && a.Vendor == b.Vendor && a.Region == b.Region && a.Endpoint == b.Endpoint
	}
	return true
}

// runBatch takes one batch of stores through the whole sequence. Its
// eviction may overlap the previous batch's settle, or its restart when the
// batch evicts ahead (prev still under way); no store of the batch restarts
// before prev is over, its settle is over and the gate finds the cluster
// safe. It returns the batch's own settle, running, and marks cur
// restarting once its gate has passed.
func (r *Runner) runBatch(ctx context.Context, b Batch, prev, cur *batchRun) (*settleFuture, error) {
	label := fmt.Sprintf("batch %d (%d store(s)", b.Index, len(b.Stores))
	if b.Zone != "" {
		label += ", zone " + b.Zone
	}
	if b.Canary {
		label += ", canary"
	}
	label += ")"
	if b.EvictAhead && prev != nil {
		label += fmt.Sprintf(": moving its leaders away while batch %d restarts", prev.index)
	}
	r.emit(Event{Kind: Info, Step: StepRun, Batch: b.Index, Message: label})

	// Stores already on the target (a resumed run, or a re-run) are verified,
	// not restarted. Every store's host is asked at once (a zone of 33 stores
	// asked one after the other took a second of the batch's critical path).
	skip := make([]bool, len(b.Stores))
	index := map[uint64]int{}
	for i, id := range b.Stores {
		index[id] = i
	}
	r.fanOut(b.Stores, func(id uint64) {
		n, _ := r.Plan.Node(id)
		r.onHost(func() {
			running, err := r.Inspector.RunningEncryption(ctx, n)
			if err != nil || !r.upToDate(running) {
				return
			}
			st, verr := r.verifyStore(ctx, n, -1, nil)
			if verr != nil {
				return
			}
			sr := r.result(id)
			r.mu.Lock()
			sr.Skipped, sr.After, sr.State = true, running, st
			r.mu.Unlock()
			skip[index[id]] = true
			r.emit(Event{Kind: StepSkipped, Step: StepRestart, StoreID: id, Batch: b.Index, Message: "already running the target encryption config; verified"})
		})
	})
	var todo []uint64
	for i, id := range b.Stores {
		if !skip[i] {
			todo = append(todo, id)
		}
	}
	if len(todo) == 0 {
		if prev == nil {
			return nil, nil
		}
		<-prev.done // nothing of its own: the batch after it waits for prev
		cur.ids = prev.ids
		return prev.settle, prev.err
	}
	cur.ids = todo
	// prevOver waits until the previous batch is over and settled.
	prevOver := func() error {
		if prev == nil {
			return nil
		}
		select {
		case <-prev.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if prev.err != nil {
			return fmt.Errorf("batch %d failed", prev.index)
		}
		return prev.settle.wait()
	}
	switch {
	case prev == nil:
		// Nothing is under way: check before any leader moves, so that an
		// unhealthy cluster is refused with nothing changed.
		if err := r.gate(ctx, b.Index, todo); err != nil {
			return nil, err
		}
	default:
		// The previous batch is still restarting or catching up, so its
		// stores being down and its pending peers are expected; PD must
		// answer and every other store be Up.
		if err := r.awaitStoresUp(ctx, b.Index, append(slices.Clone(prev.ids), todo...)); err != nil {
			return nil, err
		}
	}
	// Before the first restart of the batch: the previous batch is over and
	// settled and the cluster is (still) safe. Checked once for the whole batch.
	beforeRestart := sync.OnceValue(func() error {
		if err := errors.Join(r.stagedFor(b.Index, todo), prevOver()); err != nil {
			return err
		}
		if err := r.gate(ctx, b.Index, todo); err != nil {
			return err
		}
		cur.markRestarting()
		return nil
	})
	leadersBefore := map[uint64]int{}
	var mu sync.Mutex
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, id := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A panic here would kill the process before any cleanup ran:
				// turn it into this store's error so the batch's schedulers are released.
				if p := recover(); p != nil {
					errs[i] = r.fail(StepRun, id, b.Index, fmt.Errorf("internal error on store %d: %v\n%s", id, p, debug.Stack()))
				}
			}()
			n, _ := r.Plan.Node(id)
			before, err := r.storeSequence(ctx, b.Index, n, beforeRestart)
			mu.Lock()
			leadersBefore[id] = before
			mu.Unlock()
			errs[i] = err
		}()
	}
	wg.Wait()
	// Release every scheduler of the batch, whatever happened, a few at a time.
	r.fanOut(todo, func(id uint64) { r.release(ctx, b.Index, id) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r.settleAsync(ctx, b.Index, todo, leadersBefore, cur.last), nil
}

// gate waits until restarting the batch cannot cost any region its quorum:
// every store outside the batch is Up and PD reports no missing, pending or down peers.
func (r *Runner) gate(ctx context.Context, batch int, ids []uint64) error {
	start := r.now()
	deadline := start.Add(r.Plan.Strategy.SettleTimeout.Duration)
	for {
		why, err := r.unsafeToRestart(ctx, ids)
		if err == nil && why == "" {
			return nil
		}
		if err != nil {
			why = err.Error()
		}
		if r.now().After(deadline) {
			return r.fail(StepSettle, 0, batch, fmt.Errorf("the cluster is not safe to restart batch %d: %s (waited %s)", batch, why, r.Plan.Strategy.SettleTimeout.Duration))
		}
		r.emit(Event{Kind: StepProgress, Step: StepSettle, Batch: batch, Message: "waiting before restart: " + why})
		if err := r.sleep(ctx, r.Plan.Strategy.SettlePoll.Duration); err != nil {
			return err
		}
	}
}

func (r *Runner) unsafeToRestart(ctx context.Context, ids []uint64) (string, error) {
	// PD's store list and its region checks, read at once (this is right
	// before a restart, on every batch's critical path).
	var stores []Store
	var h RegionHealth
	var err, hErr error
	var wg sync.WaitGroup
	wg.Go(func() { stores, err = r.PD.Stores(ctx) })
	wg.Go(func() { h, hErr = r.PD.RegionHealth(ctx) })
	wg.Wait()
	if err != nil {
		return "", fmt.Errorf("reading stores from PD: %w", err)
	}
	for _, s := range stores {
		if slices.Contains(ids, s.ID) || s.StateName == "Tombstone" {
			continue
		}
		if s.StateName != "Up" {
			return fmt.Sprintf("store %d (%s) is %s", s.ID, s.Address, s.StateName), nil
		}
	}
	if err := hErr; err != nil {
		return "", fmt.Errorf("reading region health from PD: %w", err)
	}
	if !h.Clean() {
		return fmt.Sprintf("PD reports %d missing, %d pending, %d down and %d offline peers", h.MissPeer, h.PendingPeer, h.DownPeer, h.OfflinePeer), nil
	}
	return "", nil
}

// storeSequence runs evict → swap → restart → ready → verify for one store and
// returns its leader count before eviction. beforeRestart runs between the
// eviction and the restart (the batch's gate).
func (r *Runner) storeSequence(ctx context.Context, batch int, n NodePlan, beforeRestart func() error) (int, error) {
	node := r.Nodes[n.StoreID]
	// The config is swapped while the leaders move (off the critical path: the
	// running process does not read it again), and put back if the eviction
	// fails, so a store is only ever restarted onto the new config by us.
	type swapped struct {
		prevStart, logOffset int64
		backup               string
		original             []byte
		err                  error
	}
	swapc := make(chan swapped, 1)
	// The swap starts once the eviction is under way (its scheduler added,
	// or nothing to move): a zone's 33 swaps started beside its 33
	// evictions delayed the evictions' start, which is on the critical path,
	// by a second; the swap is not.
	evicting := make(chan struct{})
	markEvicting := sync.OnceFunc(func() { close(evicting) })
	go func() {
		var sw swapped
		defer func() {
			if p := recover(); p != nil {
				sw.err = r.fail(StepSwap, n.StoreID, batch, fmt.Errorf("internal error: %v\n%s", p, debug.Stack()))
			}
			swapc <- sw
		}()
		<-evicting
		if sw.err = r.stagedFor(batch, []uint64{n.StoreID}); sw.err != nil {
			return // no key material staged: the config stays as it is
		}
		r.onHost(func() { sw.prevStart, sw.logOffset, sw.backup, sw.original, sw.err = r.swap(ctx, batch, n, node) })
	}()
	leaders, err := r.evict(ctx, batch, n, node, markEvicting)
	markEvicting()
	sw := <-swapc
	if err != nil {
		if sw.original != nil {
			r.unswap(ctx, batch, n, node, sw.original, sw.backup)
		}
		return leaders, err
	}
	if sw.err != nil {
		if sw.original != nil {
			r.unswap(ctx, batch, n, node, sw.original, sw.backup)
		}
		return leaders, sw.err
	}
	prevStart, logOffset, backup, original := sw.prevStart, sw.logOffset, sw.backup, sw.original
	if err := beforeRestart(); err != nil {
		r.unswap(ctx, batch, n, node, original, backup)
		return leaders, err
	}
	var restartErr error
	r.onHost(func() { restartErr = r.restart(ctx, batch, n, node) })
	if err := restartErr; err != nil {
		return leaders, r.recover(ctx, batch, n, node, original, backup, err)
	}
	look, err := r.ready(ctx, batch, n, node, prevStart, logOffset)
	if err != nil {
		return leaders, r.recover(ctx, batch, n, node, original, backup, err)
	}
	var st NodeState
	r.onHost(func() { st, err = r.verifyStore(ctx, n, logOffset, &look) })
	sr := r.result(n.StoreID)
	r.mu.Lock()
	sr.State = st
	sr.After = st.Running
	r.mu.Unlock()
	if err != nil {
		return leaders, r.recover(ctx, batch, n, node, original, backup, r.fail(StepVerify, n.StoreID, batch, err))
	}
	return leaders, nil
}

// unswap puts the original config back on a store that will not be restarted
// (its eviction failed or the run was stopped during it).
func (r *Runner) unswap(ctx context.Context, batch int, n NodePlan, node Node, original []byte, backup string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Plan.Strategy.RestartTimeout.Duration)
	defer cancel()
	if now, ok, err := node.ReadFile(cctx, n.ConfigPath); err == nil && ok && string(now) == string(original) {
		return // the swap never landed
	}
	if _, err := node.WriteFile(cctx, n.ConfigPath, original); err != nil {
		r.emit(Event{Kind: Warning, Step: StepSwap, StoreID: n.StoreID, Batch: batch,
			Message: fmt.Sprintf("the store was not restarted but its new config stays in place: restoring %s failed: %v (the original is %s)", n.ConfigPath, err, backup)})
		return
	}
	_ = r.journal(StepSwap, n.StoreID, batch, "undone", map[string]string{"config": n.ConfigPath})
	r.emit(Event{Kind: Info, Step: StepSwap, StoreID: n.StoreID, Batch: batch, Message: "the store was not restarted: its original config is back in place"})
}

// evict moves the store's leaders away; underWay is called once the
// eviction needs no more than waiting (its scheduler added, or nothing to move).
func (r *Runner) evict(ctx context.Context, batch int, n NodePlan, node Node, underWay func()) (int, error) {
	start := r.now()
	s, err := node.Metrics(ctx)
	if err != nil {
		// TiUP aborts on this (tiup#1071); so do we, before anything changed.
		return 0, r.fail(StepEvict, n.StoreID, batch, fmt.Errorf("reading leader count from %s/metrics: %w", n.StatusAddress, err))
	}
	before := s.Leaders
	if skip, why := r.evictionSkippable(ctx, n.StoreID, before); skip {
		underWay()
		r.emit(Event{Kind: StepSkipped, Step: StepEvict, StoreID: n.StoreID, Batch: batch, Message: why})
		r.phase(n.StoreID, StepEvict, start, true)
		return before, nil
	}
	r.emit(Event{Kind: StepStarted, Step: StepEvict, StoreID: n.StoreID, Batch: batch, Message: fmt.Sprintf("moving %d leaders away", before)})
	if err := r.journal(StepEvict, n.StoreID, batch, StateStarted, nil); err != nil {
		return before, err
	}
	r.mu.Lock()
	r.evicted[n.StoreID] = true
	r.mu.Unlock()
	if err := r.PD.AddEvictLeader(ctx, n.StoreID); err != nil {
		return before, r.fail(StepEvict, n.StoreID, batch, fmt.Errorf("adding the evict-leader scheduler: %w", err))
	}
	underWay()
	added := r.now()
	left := before
	deadline := added.Add(r.Plan.Strategy.EvictTimeout.Duration)
	for {
		s, err := node.Metrics(ctx)
		if err == nil {
			r.emit(Event{Kind: MetricSample, Step: StepEvict, StoreID: n.StoreID, Batch: batch, Metrics: &s, Done: before - s.Leaders, Total: before})
			if s.Leaders == 0 {
				break
			}
			left = s.Leaders
		}
		if r.now().After(deadline) {
			left := -1
			if err == nil {
				left = s.Leaders
			}
			d := Decision{
				ID:       fmt.Sprintf("evict-timeout-%d", n.StoreID),
				Question: fmt.Sprintf("store %d still has %d leaders after %s of eviction", n.StoreID, left, r.Plan.Strategy.EvictTimeout.Duration),
				Options:  []string{OnEvictWait, OnEvictSkipEviction, OnEvictAbort},
				Default:  r.Plan.Policies.OnEvictTimeout,
			}
			choice, err := r.decide(ctx, StepEvict, n.StoreID, batch, d)
			if err != nil {
				return before, err
			}
			switch choice {
			case OnEvictWait:
				deadline = r.now().Add(r.Plan.Strategy.EvictTimeout.Duration)
			case OnEvictSkipEviction:
				r.emit(Event{Kind: Warning, Step: StepEvict, StoreID: n.StoreID, Batch: batch, Message: fmt.Sprintf("restarting with %d leaders still on the store (their regions elect new leaders)", left)})
				r.phase(n.StoreID, StepEvict, start, false)
				return before, nil
			default:
				return before, r.fail(StepEvict, n.StoreID, batch, fmt.Errorf("eviction timed out with %d leaders left; aborted by %s", left, "policy"))
			}
		}
		if err := r.sleep(ctx, r.evictWait(added, before, left)); err != nil {
			return before, err
		}
	}
	_ = r.journal(StepEvict, n.StoreID, batch, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepEvict, StoreID: n.StoreID, Batch: batch, Message: fmt.Sprintf("%d leaders moved", before)})
	r.phase(n.StoreID, StepEvict, start, true)
	return before, nil
}

func (r *Runner) decide(ctx context.Context, step string, store uint64, batch int, d Decision) (string, error) {
	r.emit(Event{Kind: DecisionAsk, Step: step, StoreID: store, Batch: batch, Decision: &d})
	choice, by, err := r.Decider.Decide(ctx, d)
	if err != nil {
		return "", err
	}
	d.Chosen, d.By = choice, by
	_ = r.journal(step, store, batch, "decided", map[string]string{"decision": d.ID, "chosen": choice, "by": by})
	r.emit(Event{Kind: DecisionMade, Step: step, StoreID: store, Batch: batch, Decision: &d})
	return choice, nil
}

// swap puts the new config in place atomically (backup kept). It returns the PD
// start timestamp and log size before the restart, and what to restore.
func (r *Runner) swap(ctx context.Context, batch int, n NodePlan, node Node) (prevStart int64, logOffset int64, backup string, original []byte, err error) {
	start := r.now()
	r.emit(Event{Kind: StepStarted, Step: StepSwap, StoreID: n.StoreID, Batch: batch, Message: n.ConfigPath})
	// The live config and the log's size in one round trip.
	live, ok, logOffset, err := node.ReadFileAndSize(ctx, n.ConfigPath, n.LogFile)
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%s disappeared", n.ConfigPath)
		}
		return 0, 0, "", nil, r.fail(StepSwap, n.StoreID, batch, err)
	}
	updated, err := r.Editor(live, r.Desired)
	if err != nil {
		return 0, 0, "", nil, r.fail(StepSwap, n.StoreID, batch, fmt.Errorf("editing %s: %w", n.ConfigPath, err))
	}
	if s, ok := r.store(ctx, n.StoreID); ok {
		prevStart = s.StartTimestamp
	}
	if string(updated) != string(live) {
		// The write is not cancelled half-way: a cancelled SSH command may still
		// complete on the host after we gave up on it, and land after unswap.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Plan.Strategy.RestartTimeout.Duration)
		backup, err = node.WriteFile(wctx, n.ConfigPath, updated)
		cancel()
		if err != nil {
			// live is returned: the write may have landed although we saw an error.
			return 0, 0, "", live, r.fail(StepSwap, n.StoreID, batch, fmt.Errorf("writing %s on %s: %w", n.ConfigPath, n.Host, err))
		}
	}
	r.result(n.StoreID).Backup = backup
	_ = r.journal(StepSwap, n.StoreID, batch, StateDone, map[string]string{"backup": backup, "config": n.ConfigPath})
	r.emit(Event{Kind: StepDone, Step: StepSwap, StoreID: n.StoreID, Batch: batch, Message: "config in place (backup " + backup + ")"})
	r.phase(n.StoreID, StepSwap, start, true)
	return prevStart, logOffset, backup, live, nil
}

func (r *Runner) store(ctx context.Context, id uint64) (Store, bool) {
	s, ok, _ := r.storeErr(ctx, id)
	return s, ok
}

// storeErr reads one store from PD; err is set when PD did not answer.
func (r *Runner) storeErr(ctx context.Context, id uint64) (Store, bool, error) {
	stores, err := r.sharedStores(ctx)
	if err != nil {
		return Store{}, false, err
	}
	for _, s := range stores {
		if s.ID == id {
			return s, true, nil
		}
	}
	return Store{}, false, nil
}

func (r *Runner) restart(ctx context.Context, batch int, n NodePlan, node Node) error {
	start := r.now()
	r.emit(Event{Kind: StepStarted, Step: StepRestart, StoreID: n.StoreID, Batch: batch, Message: serviceOrCommand(n)})
	_ = r.journal(StepRestart, n.StoreID, batch, StateStarted, nil)
	rctx, cancel := context.WithTimeout(ctx, r.Plan.Strategy.RestartTimeout.Duration)
	defer cancel()
	if err := node.Restart(rctx); err != nil {
		r.phase(n.StoreID, StepRestart, start, false)
		return r.fail(StepRestart, n.StoreID, batch, fmt.Errorf("restarting %s: %w", serviceOrCommand(n), err))
	}
	_ = r.journal(StepRestart, n.StoreID, batch, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepRestart, StoreID: n.StoreID, Batch: batch})
	r.phase(n.StoreID, StepRestart, start, true)
	return nil
}

func serviceOrCommand(n NodePlan) string {
	if n.RestartCommand != "" {
		return n.RestartCommand
	}
	return n.Service
}

// fatalLookPolls is the most ready polls that pass between two looks at the
// log of a store that is still starting (its status port does not answer
// yet). The first look is one poll after the restart, then the gap doubles
// up to it: a FATAL start is noticed within a poll or two, well before
// systemd's own restart of a failed TiKV (TiUP's units: RestartSec=15s),
// while a long start costs its host a remote command every few polls, not
// every poll (issue 17: the looks at starting stores were most of a batch's
// remote commands). There is no look at once: `systemctl restart` returns
// when the new process is forked, before TiKV has logged anything of its
// start, and a look then only joined the batch's burst of restarts (issue
// 17: 33 restarts and 33 looks at once on two cores).
const fatalLookPolls = 5

// ready waits until the port listens, PD shows the store Up with a new start
// timestamp, the status port answers, and no FATAL line appeared in the log.
// Each poll reads the status port and PD's store list (shared by the batch)
// over HTTP, and the port is tried with a TCP connection once the status
// port answers; the host is asked over SSH, in one look (the log, and `ss
// -ltn` when that connection failed), only when those say ready, when a look at the log is due (fatalLookPolls),
// and at the deadline. The look taken when the store is ready also reads
// key.dict's metadata and is returned: verification starts from it instead
// of asking the host again at once (issue 17: 33 stores ready together
// asked their hosts twice in a row, on the batch's critical path).
func (r *Runner) ready(ctx context.Context, batch int, n NodePlan, node Node, prevStart, logOffset int64) (Look, error) {
	start := r.now()
	r.live.restarted(n.StoreID)
	r.emit(Event{Kind: StepStarted, Step: StepReady, StoreID: n.StoreID, Batch: batch})
	poll := r.Plan.Strategy.ReadyPoll.Duration
	deadline := start.Add(r.Plan.Strategy.ReadyTimeout.Duration)
	var checked time.Time
	looked := start         // the log was last read: the first look is one poll after the restart
	gap := poll             // the next look at the log is due gap after the last
	listened := false       // the port was seen listening since the restart
	dial := n.Address != "" // whether a TCP connection from here may show it (see acceptsConnection)
	var last Look           // the latest look; when ready, the one taken then
	for {
		// Between checks only PD's store list is read, shared by the whole
		// batch: when it shows the new process Up, the check runs at once.
		if !checked.IsZero() && r.now().Sub(checked) < poll && !r.pdSeesNewProcess(ctx, n.StoreID, prevStart) {
			if r.now().After(deadline) {
				checked = time.Time{} // one last check decides
				continue
			}
			if err := r.sleep(ctx, r.readyWait(start)); err != nil {
				return Look{}, err
			}
			continue
		}
		checked = r.now()
		final := checked.After(deadline)
		var metricsErr, pdErr error
		var s Store
		var listed bool
		var wg sync.WaitGroup
		wg.Go(func() { _, metricsErr = node.Metrics(ctx) })
		wg.Go(func() { s, listed, pdErr = r.storeErr(ctx, n.StoreID) })
		wg.Wait()
		statusUp := metricsErr == nil
		pdWhy := pdReadyWhy(s, listed, pdErr, prevStart)
		if statusUp && !listened && dial {
			// Once one connection fails (a firewall between here and the
			// store, say), the host's own `ss -ltn` answers instead.
			listened = acceptsConnection(ctx, n.Address, poll)
			dial = listened
		}
		if (statusUp && pdWhy == "") || checked.Sub(looked) >= gap || final {
			q := LookQuery{LogFrom: logOffset, Port: statusUp && !listened, KeyDict: statusUp && pdWhy == ""}
			r.onHost(func() { last = r.Inspector.Look(ctx, n, q) })
			l := last
			looked, gap = r.now(), min(2*gap, fatalLookPolls*poll)
			r.showLook(StepReady, batch, n.StoreID, l)
			if l.LogErr == nil && l.Fatal != "" {
				r.phase(n.StoreID, StepReady, start, false)
				return Look{}, r.fail(StepReady, n.StoreID, batch, fmt.Errorf("TiKV failed to start: %s", l.Fatal))
			}
			if statusUp && !listened {
				listened = l.PortErr == nil && l.Listening
			}
		}
		why, pdDown := "", false
		switch {
		case !statusUp:
			why = "status port not answering"
		case !listened:
			why = fmt.Sprintf("port %d not listening", n.Port)
		case pdWhy != "":
			// The store answers on its own ports; only PD's view is missing.
			why, pdDown = pdWhy, pdErr != nil
		}
		if why == "" {
			break
		}
		if final {
			r.phase(n.StoreID, StepReady, start, false)
			err := fmt.Errorf("not ready after %s: %s", r.Plan.Strategy.ReadyTimeout.Duration, why)
			if pdDown {
				// Rolling the store back would restart a healthy store for PD's sake.
				err = fmt.Errorf("%w: %w", ErrPDUnreachable, err)
			}
			return Look{}, r.fail(StepReady, n.StoreID, batch, err)
		}
		if err := r.sleep(ctx, r.readyWait(start)); err != nil {
			return Look{}, err
		}
	}
	r.learnStart(r.now().Sub(start))
	_ = r.journal(StepReady, n.StoreID, batch, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepReady, StoreID: n.StoreID, Batch: batch, Message: "port listening, PD Up, status port answering"})
	r.phase(n.StoreID, StepReady, start, true)
	return last, nil
}

// acceptsConnection reports whether TiKV's advertised address (PD's store
// address, what PD and clients connect to) accepts a TCP connection from
// tikv-ear's host within timeout: proof that the port listens, taken from
// the network instead of the host's `ss -ltn` (TiUP's rule, pingcap/tiup
// pkg/cluster/module/wait_for.go), which the ready look asks only when this
// fails. At 33 stores ready together the `ss` of each look was a burst of
// processes on the batch's critical path (issue 17).
func acceptsConnection(ctx context.Context, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// pdReadyWhy says why PD's view of a restarted store is not ready yet (""
// when it shows the new process Up).
func pdReadyWhy(s Store, listed bool, err error, prevStart int64) string {
	switch {
	case err != nil:
		return "reading the store from PD: " + err.Error()
	case !listed:
		return "PD does not list the store"
	case s.StateName != "Up":
		return "PD shows the store " + s.StateName
	case prevStart != 0 && s.StartTimestamp == prevStart:
		return "PD has not seen the new process yet"
	}
	return ""
}

// verifyStore gathers the evidence and checks it; logOffset < 0 skips log
// checks (a store verified without a restart of ours). The host is asked
// once per round: the log and key.dict in one look. A non-nil first is the
// look ready took (log since logOffset and key.dict, read when the store was
// ready): the first round uses it instead of asking the host again, unless a
// part of it could not be read.
func (r *Runner) verifyStore(ctx context.Context, n NodePlan, logOffset int64, first *Look) (NodeState, error) {
	node := r.Nodes[n.StoreID]
	start := r.now()
	if logOffset >= 0 {
		r.emit(Event{Kind: StepStarted, Step: StepVerify, StoreID: n.StoreID, Message: "reading /config, /metrics, key.dict and the log since the restart"})
	}
	deadline := start.Add(r.Plan.Strategy.VerifyTimeout.Duration)
	for {
		st := NodeState{}
		var errs []string
		// The status port's /config and /metrics and the host's look, at once.
		var running tikv.Encryption
		var sample Sample
		var err, metricsErr error
		var l Look
		var wg sync.WaitGroup
		wg.Go(func() { running, err = r.Inspector.RunningEncryption(ctx, n) })
		wg.Go(func() { sample, metricsErr = node.Metrics(ctx) })
		if first != nil && first.LogErr == nil && first.KDErr == nil {
			l, first = *first, nil
		} else {
			first = nil // a part ready could not read is read afresh: unread is never reused as evidence
			wg.Go(func() { l = r.Inspector.Look(ctx, n, LookQuery{LogFrom: logOffset, KeyDict: true}) })
		}
		wg.Wait()
		if err != nil {
			errs = append(errs, "reading /config: "+err.Error())
		} else {
			st.Running, st.RunningOK = running, true
			if !r.upToDate(running) {
				errs = append(errs, "the running config differs from the target")
			}
		}
		if metricsErr == nil {
			st.Sample = sample
		} else {
			errs = append(errs, "reading /metrics: "+metricsErr.Error())
		}
		if l.KDErr == nil {
			st.KeyDict = l.KeyDict
		} else {
			errs = append(errs, "reading key.dict: "+l.KDErr.Error())
		}
		if logOffset >= 0 {
			if l.LogErr == nil {
				st.LogMatches, st.Fatal = l.LogNames, l.Fatal
			} else {
				// Unread is not clean: the step says the log's verdict is unknown.
				st.LogUnread = l.LogErr.Error()
			}
		}
		if r.Verify != nil {
			errs = append(errs, r.Verify(n, st)...)
		}
		if len(errs) == 0 {
			// Recorded, so that a resume and the home screen tell verified stores
			// from restarted-unproven ones (RestartedUnverified).
			_ = r.journal(StepVerify, n.StoreID, 0, StateDone, nil)
			if logOffset >= 0 {
				for _, ev := range r.verifyEvidence(n.StoreID, st) {
					r.emit(ev)
				}
				sample := st.Sample // the metrics read after the restart: the dashboard's pane shows them, not the eviction's
				r.emit(Event{Kind: StepDone, Step: StepVerify, StoreID: n.StoreID, Message: verifySummary(st), Metrics: &sample})
				r.phase(n.StoreID, StepVerify, start, true)
			}
			return st, nil
		}
		if r.now().After(deadline) {
			if logOffset >= 0 {
				for _, ev := range r.verifyEvidence(n.StoreID, st) {
					r.emit(ev)
				}
				r.phase(n.StoreID, StepVerify, start, false)
			}
			return st, errors.New(strings.Join(errs, "; "))
		}
		if err := r.sleep(ctx, r.Plan.Strategy.ReadyPoll.Duration); err != nil {
			return st, err
		}
	}
}

func verifySummary(st NodeState) string {
	parts := []string{"method " + st.Running.EffectiveMethod()}
	if st.KeyDict.Exists {
		parts = append(parts, "key.dict "+st.KeyDict.Method)
	}
	if st.Sample.Initialized {
		parts = append(parts, "encryption initialized")
	}
	switch {
	case st.LogUnread != "":
		parts = append(parts, "log: unknown (not read: "+st.LogUnread+")")
	case len(st.LogMatches) > 0:
		parts = append(parts, "log: "+strings.Join(st.LogMatches, ", "))
	}
	return strings.Join(parts, "; ")
}

// recover handles a store that failed after its config was swapped: per the plan's
// policy it rolls the config back (keeping the master key while any file may be
// encrypted, as TiKV requires) and restarts, or leaves it for the operator.
func (r *Runner) recover(ctx context.Context, batch int, n NodePlan, node Node, original []byte, backup string, cause error) error {
	if ctx.Err() != nil || errors.Is(cause, ErrPDUnreachable) {
		// Cancelled (the operator stopped the run) or PD down: the store is not
		// at fault; leave it as it is for --resume, which verifies it.
		return cause
	}
	d := Decision{
		ID:       fmt.Sprintf("verify-failed-%d", n.StoreID),
		Question: fmt.Sprintf("store %d did not reach the target: %v", n.StoreID, cause),
		Options:  []string{OnVerifyRollback, OnVerifyAbort},
		Default:  r.Plan.Policies.OnVerifyFailure,
	}
	choice, err := r.decide(ctx, StepVerify, n.StoreID, batch, d)
	if err != nil || choice != OnVerifyRollback {
		return cause
	}
	start := r.now()
	r.emit(Event{Kind: StepStarted, Step: StepRollback, StoreID: n.StoreID, Batch: batch, Message: "restoring the previous config"})
	// The original tikv.toml comes back byte for byte unless the store already
	// wrote key.dict under the new master key (ChooseRollback says why). An
	// unreadable key.dict counts as written: keeping the master key boots
	// either way, the original file might not.
	keyDictWritten := func() bool {
		l := r.Inspector.Look(ctx, n, LookQuery{LogFrom: -1, KeyDict: true})
		return l.KDErr != nil || l.KeyDict.Exists
	}
	rb := ChooseRollback(original, r.Desired, keyDictWritten(), r.Editor)
	prev, _ := r.store(ctx, n.StoreID)
	if err := r.restoreAndRestart(ctx, batch, n, node, backup, rb); err != nil {
		return errors.Join(cause, err)
	}
	// Readiness reads the log from here: once the restart returned, systemd
	// has stopped every earlier process, including the ones its
	// Restart=always started on the new config, whose FATAL lines are not
	// this start's (found by TestFaultMatrix/start-failure@swap under load).
	// A FATAL of this start that came before is then seen as "not ready" at
	// the ready timeout instead of at once.
	off, _ := node.FileSize(ctx, n.LogFile)
	if rb.Original {
		// systemd's Restart=always may have started TiKV on the new config
		// between the look above and the write, creating key.dict under the new
		// master key (found by TestFaultMatrix/start-failure-once@restart). After
		// the restart TiKV runs the original file, which creates no key.dict, so
		// this second look is final: if key.dict exists now, keep the master key.
		if again := ChooseRollback(original, r.Desired, keyDictWritten(), r.Editor); !again.Original {
			rb = again
			rb.Reason = "key.dict appeared while the original file went back (systemd restarted the store on the new config): " + rb.Reason
			// The starts on the original file logged FATAL (their key.dict
			// needs the master key it no longer names): readiness reads the
			// log and PD's start time from this last restart on.
			prev, _ = r.store(ctx, n.StoreID)
			if err := r.restoreAndRestart(ctx, batch, n, node, backup, rb); err != nil {
				return errors.Join(cause, err)
			}
			off, _ = node.FileSize(ctx, n.LogFile)
		}
	}
	if _, err := r.ready(ctx, batch, n, node, prev.StartTimestamp, off); err != nil {
		return errors.Join(cause, r.fail(StepRollback, n.StoreID, batch, fmt.Errorf("the store did not come back after rollback (%s): %w", rb.Reason, err)))
	}
	sr := r.result(n.StoreID)
	r.mu.Lock()
	sr.RolledBack = true
	r.mu.Unlock()
	_ = r.journal(StepRollback, n.StoreID, batch, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepRollback, StoreID: n.StoreID, Batch: batch, Message: "rolled back: " + rb.Reason + "; the store is up"})
	r.phase(n.StoreID, StepRollback, start, true)
	return fmt.Errorf("store %d rolled back: %w", n.StoreID, cause)
}

// restoreAndRestart writes a rollback's config over the store's tikv.toml and
// restarts the store, telling the operator which config it restored and why.
func (r *Runner) restoreAndRestart(ctx context.Context, batch int, n NodePlan, node Node, backup string, choice RollbackChoice) error {
	kind := StepProgress
	if !choice.Original {
		kind = Warning // the store keeps part of the new config: the operator must know
	}
	r.emit(Event{Kind: kind, Step: StepRollback, StoreID: n.StoreID, Batch: batch, Message: choice.Reason + " (backup " + backup + ")"})
	if _, err := node.WriteFile(ctx, n.ConfigPath, choice.Config); err != nil {
		return r.fail(StepRollback, n.StoreID, batch, fmt.Errorf("restoring %s (backup %s): %w", n.ConfigPath, backup, err))
	}
	if err := node.Restart(ctx); err != nil {
		return r.fail(StepRollback, n.StoreID, batch, err)
	}
	return nil
}

// interruptedText is what events say of a step the operator's stop cut short.
const interruptedText = "interrupted: the operator stopped the run"

// release removes the evict-leader scheduler the run added for a store.
func (r *Runner) release(ctx context.Context, batch int, id uint64) {
	r.mu.Lock()
	added, triedBefore := r.evicted[id], r.releaseTried[id]
	r.releaseTried[id] = true
	r.mu.Unlock()
	if !added {
		return
	}
	r.emit(Event{Kind: StepStarted, Step: StepRelease, StoreID: id, Batch: batch, Message: "removing the evict-leader scheduler"})
	// Cleanup outlives cancellation: a scheduler left behind keeps the store at
	// zero leaders (TiUP's failure, reference pd-and-tiup.md §6.1), so PD is
	// retried until CleanupTimeout; a store already retried that long gets
	// one more short attempt at the end of the run.
	timeout := r.CleanupTimeout
	if timeout <= 0 {
		timeout = DefaultCleanupTimeout
	}
	if triedBefore {
		timeout = min(timeout, 10*time.Second)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	warned := false
	for {
		err := r.PD.RemoveEvictLeader(cctx, id)
		if err == nil {
			break
		}
		if !warned {
			warned = true
			r.emit(Event{Kind: Warning, Step: StepRelease, StoreID: id, Batch: batch, Message: fmt.Sprintf("could not remove the evict-leader scheduler: %v; retrying for up to %s", err, timeout)})
		}
		if cctx.Err() != nil || r.sleep(cctx, r.Plan.Strategy.SettlePoll.Duration) != nil {
			r.emit(Event{Kind: StepFailed, Step: StepRelease, StoreID: id, Batch: batch, Error: "the evict-leader scheduler is still in place: " + err.Error() + " (tikv-ear apply --resume or --abort removes it)"})
			return
		}
	}
	r.mu.Lock()
	delete(r.evicted, id)
	r.mu.Unlock()
	_ = r.journal(StepRelease, id, batch, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepRelease, StoreID: id, Batch: batch, Message: "evict-leader scheduler removed"})
}

// raiseScheduleLimit raises PD's leader-schedule-limit by 32, at most to 64
// (TiUP's increaseScheduleLimit, pingcap/tiup pkg/cluster/operation/upgrade.go,
// which posts to the wrong endpoint and changes nothing: reference
// pd-and-tiup.md §2.2), so PD moves leaders back to restarted stores faster.
// The original value is journaled first, so a crashed run's resume or abort
// restores it.
func (r *Runner) raiseScheduleLimit(ctx context.Context) error {
	if !r.Plan.Strategy.RaiseLeaderScheduleLimit {
		return nil
	}
	read := r.PD.LeaderScheduleLimit
	if r.LimitOriginal != nil {
		read = r.LimitOriginal
	}
	orig, err := read(ctx)
	if err != nil {
		r.emit(Event{Kind: Warning, Step: StepScheduleLimit, Message: "leader-schedule-limit left as it is: " + err.Error()})
		return nil
	}
	raised := min(orig+32, 64)
	if raised <= orig {
		return nil
	}
	if err := r.journal(StepScheduleLimit, 0, 0, StateStarted, map[string]string{"original": fmt.Sprint(orig), "raised": fmt.Sprint(raised)}); err != nil {
		return err
	}
	r.mu.Lock()
	r.limitOriginal = orig
	r.mu.Unlock()
	if err := r.PD.SetLeaderScheduleLimit(ctx, raised); err != nil {
		r.emit(Event{Kind: Warning, Step: StepScheduleLimit, Message: "could not raise leader-schedule-limit: " + err.Error()})
		return nil
	}
	r.emit(Event{Kind: Info, Step: StepScheduleLimit, Message: fmt.Sprintf("PD leader-schedule-limit raised from %d to %d for the run (restored at the end)", orig, raised)})
	return nil
}

// restoreScheduleLimit puts PD's leader-schedule-limit back, retrying while PD
// does not answer; the journal keeps the original until it is back.
func (r *Runner) restoreScheduleLimit() error {
	r.mu.Lock()
	orig := r.limitOriginal
	r.limitOriginal = -1
	r.mu.Unlock()
	if orig < 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cleanupTimeout())
	defer cancel()
	var err error
	for {
		if err = r.PD.SetLeaderScheduleLimit(ctx, orig); err == nil {
			_ = r.journal(StepScheduleLimit, 0, 0, StateDone, map[string]string{"restored": fmt.Sprint(orig)})
			r.emit(Event{Kind: Info, Step: StepScheduleLimit, Message: fmt.Sprintf("PD leader-schedule-limit restored to %d", orig)})
			return nil
		}
		if r.sleep(ctx, r.Plan.Strategy.SettlePoll.Duration) != nil {
			return fmt.Errorf("restoring PD's leader-schedule-limit to %d: %w ('apply --resume' or '--abort' restores it)", orig, err)
		}
	}
}

func (r *Runner) cleanupTimeout() time.Duration {
	if r.CleanupTimeout > 0 {
		return r.CleanupTimeout
	}
	return DefaultCleanupTimeout
}

// releaseAll is the cleanup every exit path runs. It returns the stores whose
// scheduler is still in place (PD did not answer within CleanupTimeout). The
// stores are released a few at a time, as a batch's are: one after another,
// a batch of 33 stores whose PD stopped answering kept the run open for 33
// final attempts in a row (a `make bench` run was stopped after nine minutes).
func (r *Runner) releaseAll() []uint64 {
	r.mu.Lock()
	var ids []uint64
	for id := range r.evicted {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	slices.Sort(ids)
	r.fanOut(ids, func(id uint64) { r.release(context.Background(), 0, id) })
	r.mu.Lock()
	defer r.mu.Unlock()
	var left []uint64
	for id := range r.evicted {
		left = append(left, id)
	}
	slices.Sort(left)
	return left
}

// settle waits for regions to be healthy (the restarted peers caught up)
// and, before the next batch, for the batch's leaders to return: the next
// batch's stores go down, and the leaders PD has not moved back sit on the
// stores that stay up. After the last batch nothing goes down any more, so
// the run waits for the regions only and says how far the leaders' return
// has come; PD's balance-leader moves the rest (as after `tiup cluster
// reload`, which waits for no leaders below 200 per store).
func (r *Runner) settle(ctx context.Context, batch int, ids []uint64, before map[uint64]int, last bool) error {
	start := r.now()
	msg := "waiting for leaders to return and regions to catch up"
	if last {
		msg = "waiting for regions to catch up (the last batch: PD's balance-leader brings its leaders back)"
	}
	r.emit(Event{Kind: StepStarted, Step: StepSettle, Batch: batch, Message: msg})
	deadline := start.Add(r.Plan.Strategy.SettleTimeout.Duration)
	var notes []string
	for {
		why := ""
		h, err := r.PD.RegionHealth(ctx)
		switch {
		case err != nil:
			why = "reading region health: " + err.Error()
		case !h.Clean():
			why = fmt.Sprintf("%d pending and %d down peers", h.PendingPeer, h.DownPeer)
		case !last:
			why, notes = r.leadersBack(ctx, ids, before)
		}
		if why == "" {
			break
		}
		if r.now().After(deadline) {
			// Leaders returning is PD's job; the next batch's gate still checks region health.
			r.emit(Event{Kind: Warning, Step: StepSettle, Batch: batch, Message: "not settled after " + r.Plan.Strategy.SettleTimeout.Duration.String() + ": " + why})
			return nil
		}
		r.emit(Event{Kind: StepProgress, Step: StepSettle, Batch: batch, Message: why})
		if err := r.sleep(ctx, r.Plan.Strategy.SettlePoll.Duration); err != nil {
			return err
		}
	}
	for _, n := range notes {
		r.emit(Event{Kind: Info, Step: StepSettle, Batch: batch, Message: n})
	}
	for _, id := range ids {
		r.phase(id, StepSettle, start, true)
	}
	_ = r.journal(StepSettle, 0, batch, StateDone, nil)
	done := "leaders back, regions healthy"
	if last {
		done = "regions healthy; " + r.leadersReturning(ctx, ids, before)
	}
	r.emit(Event{Kind: StepDone, Step: StepSettle, Batch: batch, Message: done})
	return nil
}

// leadersBack reads the leaders of every store of the batch at once and
// returns what is still missing ("" when every store has its leaders back)
// and the notes of stores PD's balance-leader gives no more.
func (r *Runner) leadersBack(ctx context.Context, ids []uint64, before map[uint64]int) (string, []string) {
	// PD's own store list: its balance-leader decides how many return.
	stores, _ := r.PD.Stores(ctx)
	policy, tolerance := r.leaderBalance(ctx)
	whys, notes := make([]string, len(ids)), make([]string, len(ids))
	index := map[uint64]int{}
	for i, id := range ids {
		index[id] = i
	}
	r.fanOut(ids, func(id uint64) {
		i := index[id]
		if ok, why, note := r.leadersSettled(ctx, id, before[id], stores, policy, tolerance); ok {
			notes[i] = note
		} else {
			whys[i] = why
		}
	})
	for _, w := range whys {
		if w != "" {
			return w, nil
		}
	}
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return "", out
}

// leadersReturning says how many of the stores have their leaders back
// (the plan's share of what each held before its eviction), from one read.
func (r *Runner) leadersReturning(ctx context.Context, ids []uint64, before map[uint64]int) string {
	back := make([]bool, len(ids))
	index := map[uint64]int{}
	for i, id := range ids {
		index[id] = i
	}
	r.fanOut(ids, func(id uint64) {
		s, err := r.Nodes[id].Metrics(ctx)
		back[index[id]] = err == nil && s.Leaders >= before[id]*r.Plan.Strategy.LeaderReturnPercent/100
	})
	n := 0
	for _, b := range back {
		if b {
			n++
		}
	}
	switch {
	case n == len(ids):
		return "leaders back"
	case len(ids) == 1:
		return fmt.Sprintf("store %d does not have its leaders back yet; PD's balance-leader moves them back", ids[0])
	}
	return fmt.Sprintf("%d of %d stores have their leaders back; PD's balance-leader moves the rest", n, len(ids))
}

func (r *Runner) finalize(ctx context.Context) error {
	r.emit(Event{Kind: StepStarted, Step: StepFinalize})
	if r.Keys != nil {
		for _, n := range r.Plan.Nodes {
			if err := r.Keys.Cleanup(ctx, n); err != nil {
				r.emit(Event{Kind: Warning, Step: StepFinalize, StoreID: n.StoreID, Message: "key cleanup: " + err.Error()})
			}
		}
	}
	_ = r.journal(StepFinalize, 0, 0, StateDone, nil)
	r.emit(Event{Kind: StepDone, Step: StepFinalize})
	return nil
}
