package steps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestOneNodePlanStillEvicts: a plan naming one store of a three-store cluster
// moves that store's leaders away before restarting it (issue 18: eviction
// was skipped because the plan had one node, although the store led regions).
func TestOneNodePlanStillEvicts(t *testing.T) {
	ctx := context.Background()
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchSerial})
	var target steps.NodePlan
	for _, n := range e.plan.Nodes {
		s, err := e.nodes[n.StoreID].Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Leaders > 0 {
			target = n
			break
		}
	}
	if target.StoreID == 0 {
		t.Fatal("no store holds a leader")
	}
	e.plan.Nodes = []steps.NodePlan{target}
	e.wireNodes()
	rec := &recorder{}
	res, err := e.run(ctx, rec)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, rec.dump())
	}
	e.assertAllVerified(res)
	e.assertSafe(ctx, "after the one-node run")
	if got := rec.find(steps.StepSkipped, steps.StepEvict); len(got) > 0 {
		t.Fatalf("eviction skipped for store %d: %s", target.StoreID, got[0].Message)
	}
	started := rec.find(steps.StepStarted, steps.StepEvict)
	if len(started) != 1 || !strings.Contains(started[0].Message, "leaders away") {
		t.Fatalf("store %d was not evicted before its restart:\n%s", target.StoreID, rec.dump())
	}
	if got := rec.find(steps.StepDone, steps.StepRelease); len(got) != 1 {
		t.Errorf("%d schedulers released, want 1", len(got))
	}
}
