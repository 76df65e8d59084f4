package steps

import (
	"strings"
	"testing"
)

func sixNodes() []NodePlan {
	var ns []NodePlan
	zones := []string{"z1", "z2", "z3"}
	for i := 1; i <= 6; i++ {
		ns = append(ns, NodePlan{StoreID: uint64(i), Zone: zones[(i-1)%3]})
	}
	return ns
}

func TestPlanBatchesZoneWhenSafe(t *testing.T) {
	// every region has one voter per zone
	regions := []RegionPeers{{ID: 1, Stores: []uint64{1, 2, 3}}, {ID: 2, Stores: []uint64{4, 5, 6}}, {ID: 3, Stores: []uint64{1, 5, 3}}}
	bp := PlanBatches(sixNodes(), regions, 1, BatchZone)
	if bp.Strategy != BatchZone {
		t.Fatalf("strategy %s: %s", bp.Strategy, bp.Reason)
	}
	// canary store 1 (z1), then z1 rest {4}, z2 {2,5}, z3 {3,6}
	want := [][]uint64{{1}, {4}, {2, 5}, {3, 6}}
	if len(bp.Batches) != len(want) {
		t.Fatalf("batches %+v", bp.Batches)
	}
	for i, b := range bp.Batches {
		if len(b.Stores) != len(want[i]) || b.Stores[0] != want[i][0] || b.Index != i+1 {
			t.Fatalf("batch %d = %+v, want %v", i, b, want[i])
		}
	}
	if !bp.Batches[0].Canary || bp.Batches[1].Canary {
		t.Fatalf("canary flags wrong: %+v", bp.Batches)
	}
}

func TestPlanBatchesFallsBackWhenAZoneHoldsAMajority(t *testing.T) {
	regions := []RegionPeers{{ID: 1, Stores: []uint64{1, 2, 3}}, {ID: 7, Stores: []uint64{1, 4, 2}}} // 1 and 4 are both z1
	bp := PlanBatches(sixNodes(), regions, 0, BatchZone)
	if bp.Strategy != BatchSerial || len(bp.Batches) != 6 {
		t.Fatalf("want serial fallback, got %s %d batches", bp.Strategy, len(bp.Batches))
	}
	if !strings.Contains(bp.Reason, "region 7 has 2 of 3 voters in zone z1") {
		t.Fatalf("reason should name the region: %s", bp.Reason)
	}
}

func TestPlanBatchesFallsBackWithoutRegionsOrZones(t *testing.T) {
	if bp := PlanBatches(sixNodes(), nil, 0, BatchZone); bp.Strategy != BatchSerial || !strings.Contains(bp.Reason, "region list") {
		t.Fatalf("no regions: %+v", bp)
	}
	ns := sixNodes()
	ns[2].Zone = ""
	if bp := PlanBatches(ns, []RegionPeers{}, 0, BatchZone); bp.Strategy != BatchSerial || !strings.Contains(bp.Reason, "store 3 has none") {
		t.Fatalf("missing zone: %+v", bp)
	}
}
