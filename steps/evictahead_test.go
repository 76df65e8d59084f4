package steps_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// TestPlanBatchesEvictAhead: a serial batch evicts while the previous one
// restarts only when the two are at most a third of the cluster and the
// previous one is not a canary; zone batches of a three-zone cluster never do.
func TestPlanBatchesEvictAhead(t *testing.T) {
	nodes := func(n int) []steps.NodePlan {
		var out []steps.NodePlan
		for i := 1; i <= n; i++ {
			out = append(out, steps.NodePlan{StoreID: uint64(i), Zone: []string{"z1", "z2", "z3"}[i%3]})
		}
		return out
	}
	ahead := func(bp steps.BatchPlan) []int {
		var out []int
		for _, b := range bp.Batches {
			if b.EvictAhead {
				out = append(out, b.Index)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		stores   int
		canary   int
		batching string
		want     []int
	}{
		{"9 serial, one canary", 9, 1, steps.BatchSerial, []int{3, 4, 5, 6, 7, 8, 9}},
		{"9 serial, two canaries", 9, 2, steps.BatchSerial, []int{4, 5, 6, 7, 8, 9}},
		{"6 serial: two of six", 6, 1, steps.BatchSerial, []int{3, 4, 5, 6}},
		{"5 serial: two of five is more than a third", 5, 1, steps.BatchSerial, nil},
		{"3 serial", 3, 0, steps.BatchSerial, nil},
		{"9 zone", 9, 1, steps.BatchZone, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var regions []steps.RegionPeers
			if tc.batching == steps.BatchZone {
				regions = []steps.RegionPeers{{ID: 1, Stores: []uint64{1, 2, 3}}}
			}
			bp := steps.PlanBatches(nodes(tc.stores), regions, tc.canary, tc.batching)
			if bp.Strategy != tc.batching {
				t.Fatalf("strategy %s, want %s (%s)", bp.Strategy, tc.batching, bp.Reason)
			}
			if got := ahead(bp); !slices.Equal(got, tc.want) {
				t.Errorf("batches evicting ahead %v, want %v", got, tc.want)
			}
		})
	}
}

// aheadHook holds the store of batch `held` in its ready step until the
// store of the next batch has started its eviction, so the test sees the
// eviction ahead without depending on how fast TiKV starts; if the next batch
// does not start evicting while the held one is still starting, the hold
// times out and the test fails.
type aheadHook struct {
	rec         *recorder
	held, next  uint64 // store IDs
	evicting    chan struct{}
	evictOnce   sync.Once
	onRestart   func() // called when the held store's restart starts
	restartOnce sync.Once
	timedOut    bool
	mu          sync.Mutex
}

func (h *aheadHook) Emit(e steps.Event) {
	h.rec.Emit(e)
	switch {
	case e.Kind == steps.StepStarted && e.Step == steps.StepEvict && e.StoreID == h.next:
		h.evictOnce.Do(func() { close(h.evicting) })
	case e.Kind == steps.StepStarted && e.Step == steps.StepRestart && e.StoreID == h.held && h.onRestart != nil:
		h.restartOnce.Do(h.onRestart)
	case e.Kind == steps.StepStarted && e.Step == steps.StepReady && e.StoreID == h.held:
		select {
		case <-h.evicting:
		case <-time.After(20 * time.Second):
			h.mu.Lock()
			h.timedOut = true
			h.mu.Unlock()
		}
	}
}

// serialOrder is the store of each batch of a serial plan.
func serialOrder(t *testing.T, e *simEnv) []uint64 {
	t.Helper()
	bp := e.batches(context.Background())
	var ids []uint64
	for _, b := range bp.Batches {
		if len(b.Stores) != 1 {
			t.Fatalf("batch %d has %d stores; want a serial plan", b.Index, len(b.Stores))
		}
		ids = append(ids, b.Stores[0])
	}
	return ids
}

// TestEvictAheadOnSim: on a six-store serial rollout, the store of batch 4
// moves its leaders away while batch 3's store is still starting, restarts
// only after batch 3 is verified and settled, and the run keeps every region's
// quorum and every write.
func TestEvictAheadOnSim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchSerial, Canary: 1})
	order := serialOrder(t, e)
	h := &aheadHook{rec: &recorder{}, held: order[2], next: order[3], evicting: make(chan struct{})}
	res, err := e.run(ctx, h)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, h.rec.dump())
	}
	if h.timedOut {
		t.Fatalf("store %d (batch 4) did not start evicting while store %d (batch 3) was starting\n%s", h.next, h.held, h.rec.dump())
	}
	e.assertAllVerified(res)
	e.assertSafe(ctx, "after the run")
	// The order the events show: batch 4's eviction before batch 3's
	// verification; batch 4's restart after batch 3's settle; the canary's
	// successor (batch 2) evicted only after the canary was verified.
	h.rec.mu.Lock()
	events := slices.Clone(h.rec.events)
	h.rec.mu.Unlock()
	at := func(kind steps.EventKind, step string, store uint64, batch int) int {
		for i, ev := range events {
			if ev.Kind == kind && ev.Step == step && (store == 0 || ev.StoreID == store) && (batch == 0 || ev.Batch == batch) {
				return i
			}
		}
		t.Fatalf("no %s %s event for store %d batch %d\n%s", kind, step, store, batch, h.rec.dump())
		return -1
	}
	if at(steps.StepStarted, steps.StepEvict, order[3], 0) > at(steps.StepDone, steps.StepVerify, order[2], 0) {
		t.Error("batch 4 started evicting after batch 3 was verified")
	}
	if at(steps.StepStarted, steps.StepRestart, order[3], 0) < at(steps.StepDone, steps.StepSettle, 0, 3) {
		t.Error("batch 4 restarted before batch 3 had settled")
	}
	if at(steps.StepStarted, steps.StepEvict, order[1], 0) < at(steps.StepDone, steps.StepVerify, order[0], 0) {
		t.Error("batch 2 started evicting before the canary was verified")
	}
	// The last batch's settle waits for its regions, never for its leaders
	// (nothing goes down after it), and its line says how far they got.
	last := len(order)
	for _, ev := range events {
		if ev.Step == steps.StepSettle && ev.Batch == last && ev.Kind == steps.StepProgress && strings.Contains(ev.Message, "leaders back") {
			t.Errorf("the last batch's settle waited for leaders: %q", ev.Message)
		}
	}
	if done := events[at(steps.StepDone, steps.StepSettle, 0, last)].Message; !strings.HasPrefix(done, "regions healthy; ") {
		t.Errorf("the last batch's settle says %q, want regions healthy and how far the leaders got", done)
	}
	var label bool
	for _, ev := range events {
		label = label || (ev.Batch == 4 && strings.Contains(ev.Message, "moving its leaders away while batch 3 restarts"))
	}
	if !label {
		t.Errorf("no event says batch 4 evicts while batch 3 restarts\n%s", h.rec.dump())
	}
}

// TestEvictAheadStoppedWhenTheBatchBeforeFails: batch 3's store fails to
// start while batch 4's store is evicting ahead. The run fails with batch
// 3's error (not "interrupted"), batch 4's store is never restarted, its
// scheduler is removed and its config is back byte for byte; a resumed run
// then finishes with every store verified.
func TestEvictAheadStoppedWhenTheBatchBeforeFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchSerial, Canary: 1})
	order := serialOrder(t, e)
	held, next := order[2], order[3]
	fault := sim.Fault{Kind: sim.FaultStartFailure, Node: int(held)}
	n, _ := e.plan.Node(next)
	original, _, err := e.nodes[next].ReadFile(ctx, n.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	h := &aheadHook{rec: &recorder{}, held: held, next: next, evicting: make(chan struct{}),
		onRestart: func() {
			if err := e.c.Inject(fault); err != nil {
				t.Errorf("injecting %s: %v", fault.Kind, err)
			}
		}}
	_, err = e.run(ctx, h)
	if h.timedOut {
		t.Fatalf("store %d did not start evicting while store %d was starting\n%s", next, held, h.rec.dump())
	}
	if err == nil || !strings.Contains(err.Error(), "failed to start") || strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("run error %v; want batch 3's start failure\n%s", err, h.rec.dump())
	}
	for _, ev := range h.rec.find(steps.StepStarted, steps.StepRestart) {
		if ev.StoreID == next {
			t.Errorf("store %d (batch 4) was restarted after batch 3 failed", next)
		}
	}
	for _, ev := range h.rec.find(steps.StepFailed, "") {
		if ev.StoreID == next && ev.Error != "stopped: batch 3 failed" {
			t.Errorf("store %d's failure says %q, want %q", next, ev.Error, "stopped: batch 3 failed")
		}
	}
	if now, _, err := e.nodes[next].ReadFile(ctx, n.ConfigPath); err != nil || string(now) != string(original) {
		t.Errorf("store %d was not restarted, but its config changed (err %v):\n%s", next, err, now)
	}
	e.assertSafe(ctx, "after the failed run")
	fault.Off = true
	if err := e.c.Inject(fault); err != nil {
		t.Fatal(err)
	}
	e.resumeToTheEnd(ctx, "after clearing the fault")
}
