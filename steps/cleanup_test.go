package steps_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// TestCancelMidEvictionRemovesScheduler cancels the run (SIGINT) while a
// store's leaders are being evicted: the runner must remove its scheduler on
// the way out, record the run interrupted, and a resumed run must complete.
func TestCancelMidEvictionRemovesScheduler(t *testing.T) {
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchZone, Canary: 1,
		Strategy: func(s *steps.Strategy) { s.EvictTimeout = steps.D(time.Minute) }})
	// Leaders never leave store 2, so its eviction lasts until we cancel.
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Node: faultStore}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n2, _ := e.plan.Node(faultStore)
	original, _, err := e.nodes[faultStore].ReadFile(ctx, n2.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	var once sync.Once
	sawScheduler := false
	sink := steps.SinkFunc(func(ev steps.Event) {
		rec.Emit(ev)
		// Metric samples of the eviction come after the scheduler was added.
		if ev.Kind == steps.MetricSample && ev.Step == steps.StepEvict && ev.StoreID == faultStore {
			once.Do(func() {
				sawScheduler = len(e.c.PD().EvictSchedulerStores()) > 0
				cancel()
			})
		}
	})
	_, err = e.run(ctx, sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run after cancel: %v, want context.Canceled\n%s", err, rec.dump())
	}
	if !sawScheduler {
		t.Fatal("the scheduler was not in place when the run was cancelled; the test proves nothing")
	}
	bg := context.Background()
	e.assertSafe(bg, "after cancel")
	// The config swapped beside the eviction is put back: the store was not restarted.
	if now, _, err := e.nodes[faultStore].ReadFile(bg, n2.ConfigPath); err != nil || string(now) != string(original) {
		t.Errorf("store %d's config changed although it was not restarted (err %v)", faultStore, err)
	}
	// The journal records the run interrupted, not finished: '--resume' goes
	// on from the cluster's state and '--abort' stops it (issue 15).
	if e.journalFinished() {
		t.Error("the journal records the cancelled run as finished; --resume could not take it up")
	}
	recs, _ := steps.ReadJournal(e.journal)
	last, _ := steps.LastRun(recs)
	if len(last.Evicted) > 0 {
		t.Errorf("the journal still lists schedulers for %v", last.Evicted)
	}
	if r := last.Records[len(last.Records)-1]; r.Step != steps.StepRun || r.State != steps.StateInterrupted {
		t.Errorf("the journal's last record is %s %s; want the run recorded %s", r.Step, r.State, steps.StateInterrupted)
	}
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Node: faultStore, Off: true}); err != nil {
		t.Fatal(err)
	}
	e.resumeToTheEnd(bg, "after cancel")
}

// panicNode panics in Restart, after the runner added its scheduler.
type panicNode struct{ steps.Node }

func (panicNode) Restart(context.Context) error { panic("node implementation bug") }

// TestPanickingNodeReleasesSchedulers makes one store's Node panic while it
// and a neighbour in its zone batch are evicted: the process must survive, the
// run must fail with the panic as its error, and both schedulers must be gone.
func TestPanickingNodeReleasesSchedulers(t *testing.T) {
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchZone, Canary: 1})
	ctx := context.Background()
	r := e.runner(e.openJournal(), nil)
	r.Nodes[faultStore] = panicNode{r.Nodes[faultStore]}
	rec := &recorder{}
	r.Events = rec
	res, err := r.Run(ctx, e.batches(ctx))
	if err == nil || !strings.Contains(err.Error(), "node implementation bug") {
		t.Fatalf("run error %v, want the panic\n%s", err, rec.dump())
	}
	released := map[uint64]bool{}
	for _, ev := range rec.find(steps.StepDone, steps.StepRelease) {
		released[ev.StoreID] = true
	}
	if !released[faultStore] || !released[5] {
		t.Errorf("schedulers released for %v, want stores %d and 5 of the panicking batch", released, faultStore)
	}
	e.assertSafe(ctx, "after the panic")
	if res == nil || !e.journalFinished() {
		t.Fatal("no result or no recorded end after the panic")
	}
	e.resumeToTheEnd(ctx, "after the panic")
}

// TestSchedulerLeftKeepsRunOpen: PD stays down through the release of the
// canary's scheduler, longer than the runner retries. The run must fail, say
// so, and leave the journal open with the scheduler listed, so that what
// 'apply --abort' does (remove the journal's schedulers) cleans up.
func TestSchedulerLeftKeepsRunOpen(t *testing.T) {
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchZone, Canary: 1})
	ctx := context.Background()
	r := e.runner(e.openJournal(), nil)
	r.CleanupTimeout = 300 * time.Millisecond
	rec := &recorder{}
	var once sync.Once
	r.Events = steps.SinkFunc(func(ev steps.Event) {
		rec.Emit(ev)
		if ev.Kind == steps.StepStarted && ev.Step == steps.StepRelease {
			once.Do(func() {
				if err := e.c.Inject(sim.Fault{Kind: sim.FaultPDUnavailable}); err != nil {
					t.Error(err)
				}
			})
		}
	})
	_, err := r.Run(ctx, e.batches(ctx))
	if err == nil {
		t.Fatalf("the run succeeded with PD down\n%s", rec.dump())
	}
	done := rec.find(steps.RunDone, "")
	if len(done) != 1 || !strings.Contains(done[0].Message, "--abort") {
		t.Errorf("run-done event %+v does not point at --resume/--abort", done)
	}
	if e.journalFinished() {
		t.Fatal("the journal records the run as finished although a scheduler is left")
	}
	recs, _ := steps.ReadJournal(e.journal)
	last, _ := steps.LastRun(recs)
	if !last.Evicted[1] {
		t.Fatalf("the journal does not list store 1's scheduler: %v", last.Evicted)
	}
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultPDUnavailable, Off: true}); err != nil {
		t.Fatal(err)
	}
	if ids := e.c.PD().EvictSchedulerStores(); len(ids) != 1 || ids[0] != 1 {
		t.Fatalf("scheduler stores %v, want [1] while PD was down", ids)
	}
	for id := range last.Evicted { // what apply --abort does
		if err := e.pdc.RemoveEvictLeader(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	e.assertSafe(ctx, "after the abort")
	e.assertBootable("after the abort")
}

// barrierPD stands for a PD that answers no removal of an evict-leader
// scheduler until open; once open, a removal goes through only while the
// removals of want stores are in flight at once (or fails when its context
// ends). A cleanup that releases one store after another never gets there.
type barrierPD struct {
	steps.PD
	want int

	mu       sync.Mutex
	open     bool
	inflight map[uint64]bool
	met      chan struct{}
}

func (p *barrierPD) RemoveEvictLeader(ctx context.Context, id uint64) error {
	p.mu.Lock()
	if !p.open {
		p.mu.Unlock()
		return errors.New("PD does not answer (test)")
	}
	p.inflight[id] = true
	if len(p.inflight) == p.want {
		close(p.met)
	}
	met := p.met
	p.mu.Unlock()
	select {
	case <-met:
		return p.PD.RemoveEvictLeader(ctx, id)
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.inflight, id)
		p.mu.Unlock()
		return ctx.Err()
	}
}

// TestFinalCleanupReleasesStoresTogether: a run is stopped while a whole
// batch is evicted and PD answers none of the batch's releases; when PD
// answers again, the cleanup every exit path runs releases the batch's
// stores together, not one after another (one after another, each waiting
// out its retries, a 33-store batch kept a run open for minutes).
func TestFinalCleanupReleasesStoresTogether(t *testing.T) {
	e := startSim(t, simConfig{Stores: 9, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchZone,
		Strategy: func(s *steps.Strategy) { s.EvictTimeout = steps.D(time.Minute) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bp := e.batches(ctx)
	batch := bp.Batches[0].Stores
	if len(batch) < 2 {
		t.Fatalf("the first batch is %v; the test needs one of several stores", batch)
	}
	for _, id := range batch { // leaders never leave: the evictions last until the stop
		if err := e.c.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Node: int(id)}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.runner(e.openJournal(), nil)
	r.CleanupTimeout = 3 * time.Second
	pdb := &barrierPD{PD: r.PD, want: len(batch), inflight: map[uint64]bool{}, met: make(chan struct{})}
	r.PD = pdb
	rec := &recorder{}
	var mu sync.Mutex
	sampled, failed := map[uint64]bool{}, map[uint64]bool{}
	r.Events = steps.SinkFunc(func(ev steps.Event) {
		rec.Emit(ev)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ev.Kind == steps.MetricSample && ev.Step == steps.StepEvict: // the store's scheduler is in place
			if sampled[ev.StoreID] = true; len(sampled) == len(batch) {
				cancel()
			}
		case ev.Kind == steps.StepFailed && ev.Step == steps.StepRelease && ev.Batch != 0:
			// The batch's own release gave up; PD answers the final cleanup.
			if failed[ev.StoreID] = true; len(failed) == len(batch) {
				pdb.mu.Lock()
				pdb.open = true
				pdb.mu.Unlock()
			}
		}
	})
	_, err := r.Run(ctx, bp)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run after the stop: %v, want context.Canceled\n%s", err, rec.dump())
	}
	mu.Lock()
	if len(failed) != len(batch) {
		t.Fatalf("the batch's own releases failed for %v, want all of %v: the test proves nothing\n%s", failed, batch, rec.dump())
	}
	mu.Unlock()
	if ids := e.c.PD().EvictSchedulerStores(); len(ids) != 0 {
		t.Fatalf("evict-leader scheduler still covers %v after the final cleanup, want none\n%s", ids, rec.dump())
	}
	recs, _ := steps.ReadJournal(e.journal)
	if last, _ := steps.LastRun(recs); len(last.Evicted) > 0 {
		t.Errorf("the journal still lists schedulers for %v", last.Evicted)
	}
	for _, id := range batch {
		if err := e.c.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Node: int(id), Off: true}); err != nil {
			t.Fatal(err)
		}
	}
	e.assertSafe(context.Background(), "after the final cleanup")
}
