package steps_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestBindPlanStoreDownIsNotAnotherHost: a store whose TiKV is down (or
// still starting, as after a run aborted right after restarting it) does not
// make the plan "not match the cluster" when its unit binds the host to the
// store; with only a restart command there is nothing else to read, so the
// binding is refused with the reason and the way on, never passed blind.
func TestBindPlanStoreDownIsNotAnotherHost(t *testing.T) {
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 6, Speed: 10})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	down := e.c.Nodes()[1]
	down.Proc.Stop()
	if ok, err := e.nodes[down.StoreID].PortListening(ctx, down.Port); err != nil || ok {
		t.Fatalf("port of the stopped store: listening=%v err=%v, want not listening", ok, err)
	}
	stores, err := steps.PDClient{C: e.pdc}.Stores(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.plan.Nodes[1].Service == "" {
		t.Fatalf("the sim's plan node has no unit: %+v", e.plan.Nodes[1])
	}
	if _, err := steps.BindPlan(ctx, e.plan, stores, e.nodes, nil); err != nil {
		t.Fatalf("BindPlan with store %d down = %v, want the plan bound by its unit", down.StoreID, err)
	}

	// The same node driven by a restart command: no unit to read.
	for i := range e.plan.Nodes {
		if e.plan.Nodes[i].StoreID == down.StoreID {
			e.plan.Nodes[i].RestartCommand = "sudo systemctl restart " + e.plan.Nodes[i].Service
			e.plan.Nodes[i].Service = ""
		}
	}
	e.wireNodes()
	_, err = steps.BindPlan(ctx, e.plan, stores, e.nodes, nil)
	var be *steps.BindingError
	if !errors.As(err, &be) {
		t.Fatalf("BindPlan with a restart command and the port down = %v, want a BindingError", err)
	}
	if len(be.Mismatches) != 1 || be.Mismatches[0].StoreID != down.StoreID || be.Mismatches[0].Field != "port" ||
		!strings.Contains(be.Mismatches[0].Cluster, "wait until the store has started") {
		t.Fatalf("mismatches = %v, want one on store %d's port saying to wait for it", be.Mismatches, down.StoreID)
	}
}
