package steps

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// storesOnlyPD answers Stores and counts the calls; nothing else is asked.
type storesOnlyPD struct {
	PD
	calls atomic.Int32
}

func (p *storesOnlyPD) Stores(context.Context) ([]Store, error) {
	p.calls.Add(1)
	return []Store{{ID: 1, StateName: "Up"}, {ID: 2, StateName: "Up"}}, nil
}

// TestBatchSharesOnePDStoresPoll: the stores of a batch asking PD for their
// state at the same moment (one poll tick) cause one PD stores request, not
// one per store; the next tick, a poll later, reads again.
func TestBatchSharesOnePDStoresPoll(t *testing.T) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	pd := &storesOnlyPD{}
	r := &Runner{Plan: &Plan{Strategy: DefaultStrategy()}, PD: pd, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}}
	tick := func() {
		var wg sync.WaitGroup
		for range 33 { // a zone of a 100-store cluster
			wg.Go(func() {
				if !r.pdSeesNewProcess(context.Background(), 2, 0) {
					t.Error("store 2 is Up in PD's list")
				}
			})
		}
		wg.Wait()
	}
	tick()
	if got := pd.calls.Load(); got != 1 {
		t.Fatalf("33 stores polling in one tick made %d PD stores requests, want 1", got)
	}
	mu.Lock()
	now = now.Add(r.Plan.Strategy.ReadyPoll.Duration)
	mu.Unlock()
	tick()
	if got := pd.calls.Load(); got != 2 {
		t.Fatalf("after a second tick: %d PD stores requests, want 2", got)
	}
}

// TestStagingGatesTheFirstBatchOnItsOwnStores: the run's first batch may
// swap and restart once its own stores are staged, even while the others
// still stage; every later batch waits for the whole staging and gets its
// error; a store that was not staged never passes.
func TestStagingGatesTheFirstBatchOnItsOwnStores(t *testing.T) {
	r := &Runner{}
	r.pace.firstBatch = 1
	r.pace.staged = map[uint64]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})}
	close(r.pace.staged[1])
	f := &settleFuture{done: make(chan struct{})}
	r.pace.staging = f
	if err := r.stagedFor(1, []uint64{1}); err != nil { // staging still runs: returns at once
		t.Fatalf("first batch, its store staged: %v", err)
	}
	f.err = errors.New("staging store 2: host unreachable")
	close(f.done)
	if err := r.stagedFor(1, []uint64{1}); err != nil {
		t.Errorf("first batch, its store staged, another failed: %v, want nil", err)
	}
	if err := r.stagedFor(1, []uint64{1, 2}); err == nil {
		t.Error("first batch with an unstaged store passed")
	}
	if err := r.stagedFor(2, []uint64{1}); err == nil {
		t.Error("a later batch passed although staging failed")
	}
}

// TestStageOrderFollowsTheBatches: staging takes the stores in the order
// their batches run, the canary first; stores in no batch come last.
func TestStageOrderFollowsTheBatches(t *testing.T) {
	nodes := []NodePlan{{StoreID: 1}, {StoreID: 2}, {StoreID: 3}, {StoreID: 4}, {StoreID: 5}}
	bp := BatchPlan{Batches: []Batch{{Index: 1, Stores: []uint64{4}}, {Index: 2, Stores: []uint64{2, 5}}, {Index: 3, Stores: []uint64{1}}}}
	var got []uint64
	for _, n := range stageOrder(nodes, bp) {
		got = append(got, n.StoreID)
	}
	if fmt.Sprint(got) != "[4 2 5 1 3]" {
		t.Errorf("stage order %v, want [4 2 5 1 3]", got)
	}
}
