package steps

import (
	"strings"
	"testing"
	"time"
)

// TestPhysicalFloor: per batch, the most loaded store's leaders at PD's
// eviction rate, one restart and one catch-up; a batch without leaders costs
// no eviction; a batch's eviction overlaps the previous batch's catch-up.
func TestPhysicalFloor(t *testing.T) {
	bp := BatchPlan{Batches: []Batch{{Index: 1, Stores: []uint64{1}}, {Index: 2, Stores: []uint64{2, 3}}, {Index: 3, Stores: []uint64{4}}}}
	f := PhysicalFloor(bp, FloorParams{Leaders: map[uint64]int{1: 30, 2: 12, 3: 60, 4: 0}, EvictRate: 3, Restart: 10 * time.Second, CatchUp: 3 * time.Second})
	want := []time.Duration{10*time.Second + 13*time.Second, 20*time.Second + 13*time.Second, 13 * time.Second}
	for i, b := range f.Batches {
		if b.Total() != want[i] {
			t.Errorf("batch %d floor %s, want %s", b.Index, b.Total(), want[i])
		}
	}
	// 10 s eviction, then per batch the restart, the longer of the next
	// eviction and the catch-up, and the last catch-up: 10+10+20+10+3+10+3.
	if f.Total() != 66*time.Second {
		t.Errorf("floor %s, want 1m6s", f.Total())
	}
	if line := FloorLine(132*time.Second, f); !strings.Contains(line, "wall/floor 2.00") {
		t.Errorf("line %q does not say wall/floor 2.00", line)
	}
}

// TestFloorObserverTakesTheClustersBest: the fastest whole eviction (leaders
// ÷ time from its start to no leaders; an unfinished one counts for
// nothing), the leaders before eviction, and the fastest restart-to-ready.
func TestFloorObserverTakesTheClustersBest(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var o FloorObserver
	for _, id := range []uint64{1, 2, 3} {
		o.Emit(Event{Kind: StepStarted, Step: StepEvict, StoreID: id, Time: t0})
	}
	for _, s := range []struct {
		id      uint64
		at      time.Duration
		leaders int
	}{{1, 0, 30}, {1, 2 * time.Second, 24}, {1, 4 * time.Second, 12}, {2, time.Second / 2, 8}, {2, time.Second, 2}, {2, 3 * time.Second, 0}, {2, 4 * time.Second, 0}, {3, 2 * time.Second, 12}, {3, 6 * time.Second, 0}} {
		o.Emit(Event{Kind: MetricSample, Step: StepEvict, StoreID: s.id, Time: t0.Add(s.at), Total: map[uint64]int{1: 30, 2: 9, 3: 12}[s.id], Metrics: &Sample{Leaders: s.leaders}})
	}
	o.Emit(Event{Kind: MetricSample, Step: StepSettle, StoreID: 1, Time: t0, Metrics: &Sample{Leaders: 99}, Total: 99})
	res := &Result{Stores: []*StoreResult{
		{StoreID: 1, Phases: []Phase{{Step: StepRestart, Start: t0, End: t0.Add(time.Second), OK: true}, {Step: StepReady, Start: t0.Add(time.Second), End: t0.Add(12 * time.Second), OK: true}}},
		{StoreID: 2, Phases: []Phase{{Step: StepRestart, Start: t0, End: t0.Add(time.Second), OK: true}, {Step: StepReady, Start: t0.Add(time.Second), End: t0.Add(10 * time.Second), OK: true}}},
		{StoreID: 3, Phases: []Phase{{Step: StepRestart, Start: t0, End: t0.Add(time.Second), OK: true}}}, // never ready: not a restart
	}}
	p := o.Params(res)
	// Store 2: 9 leaders in 3 s (its 12/s between two close samples is the
	// tool's timing, not PD's); store 3: 12 in 6 s; store 1 never finished.
	if p.EvictRate != 3 || p.Leaders[1] != 30 || p.Leaders[2] != 9 || p.Leaders[3] != 12 || p.Restart != 10*time.Second {
		t.Errorf("params %+v, want rate 3/s, leaders 30, 9 and 12, restart 10s", p)
	}
}

// TestFloorCountsOnlyStoresThisRunRestarted: a resumed run skips the stores
// an earlier run finished; their batches are no part of its floor.
func TestFloorCountsOnlyStoresThisRunRestarted(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bp := BatchPlan{Batches: []Batch{{Index: 1, Stores: []uint64{1}}, {Index: 2, Stores: []uint64{2, 3}}, {Index: 3, Stores: []uint64{4}}}}
	restart := []Phase{{Step: StepRestart, Start: t0, End: t0.Add(time.Second), OK: true}, {Step: StepReady, Start: t0.Add(time.Second), End: t0.Add(10 * time.Second), OK: true}}
	res := &Result{Stores: []*StoreResult{
		{StoreID: 1, Skipped: true}, {StoreID: 2, Skipped: true}, {StoreID: 3, Phases: restart}, {StoreID: 4, Phases: restart},
	}}
	var o FloorObserver
	line := o.Summary(bp, res, 30*time.Second)
	// Two batches (store 3's and store 4's) of one 10 s restart each, no eviction seen.
	if !strings.Contains(line, "physical floor 20s (2 batches") || !strings.Contains(line, "wall/floor 1.50") {
		t.Fatalf("floor line %q, want 2 batches of 10 s (the skipped stores' batch dropped)", line)
	}
}

// TestPhysicalFloorEvictAhead: a batch that evicts ahead may evict from the
// previous batch's restart on; the next restart still waits for both that
// eviction and the previous catch-up. Three stores of 30 leaders at 3 a
// second (10 s), 10 s restarts, 3 s catch-ups: 10 + 10 + max(3, 10) for
// batch 2's eviction after batch 1's restart, + max(10+3, 10) with batch 3
// evicting during batch 2's restart, + 10 + 3 = 56 s (63 s without it).
func TestPhysicalFloorEvictAhead(t *testing.T) {
	bp := BatchPlan{Batches: []Batch{{Index: 1, Stores: []uint64{1}}, {Index: 2, Stores: []uint64{2}}, {Index: 3, Stores: []uint64{3}, EvictAhead: true}}}
	p := FloorParams{Leaders: map[uint64]int{1: 30, 2: 30, 3: 30}, EvictRate: 3, Restart: 10 * time.Second, CatchUp: 3 * time.Second}
	if got := PhysicalFloor(bp, p).Total(); got != 56*time.Second {
		t.Errorf("floor %s, want 56s", got)
	}
	bp.Batches[2].EvictAhead = false
	if got := PhysicalFloor(bp, p).Total(); got != 63*time.Second {
		t.Errorf("floor without evicting ahead %s, want 1m3s", got)
	}
}
