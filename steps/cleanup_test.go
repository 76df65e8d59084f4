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
