package steps

import (
	"context"
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
