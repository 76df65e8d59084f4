package pd

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tikv-ear/tikv-ear/sim/clock"
	simpd "github.com/tikv-ear/tikv-ear/sim/pd"
)

// TestAgainstSimulatedPD drives the client against package sim/pd, written
// separately from the same reference, so a misreading on either side shows.
func TestAgainstSimulatedPD(t *testing.T) {
	specs := []simpd.StoreSpec{
		{ID: 1, Address: "127.0.0.1:20160", StatusAddress: "127.0.0.1:20180", DeployPath: "/tidb-deploy/tikv-20160/bin", Labels: []simpd.Label{{Key: "zone", Value: "z1"}, {Key: "host", Value: "h1"}}},
		{ID: 2, Address: "127.0.0.1:20161", StatusAddress: "127.0.0.1:20181", DeployPath: "/tidb-deploy/tikv-20161/bin", Labels: []simpd.Label{{Key: "zone", Value: "z2"}, {Key: "host", Value: "h2"}}},
		{ID: 3, Address: "127.0.0.1:20162", StatusAddress: "127.0.0.1:20182", DeployPath: "/tidb-deploy/tikv-20162/bin", Labels: []simpd.Label{{Key: "zone", Value: "z3"}, {Key: "host", Value: "h3"}}},
	}
	sim := simpd.New(simpd.Config{ClusterID: 42, Regions: 12, WriteRate: -1}, clock.New(1), specs)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c := newTestClient(t, deadEndpoint(t), srv.URL)
	ctx := context.Background()

	stores, err := c.Stores(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != 3 {
		t.Fatalf("stores = %d", len(stores))
	}
	for _, s := range stores {
		if s.Store.StateName != StateUp || s.Store.LabelMap()["zone"] == "" || s.Status.Capacity == 0 {
			t.Errorf("store %d = %+v / %+v", s.Store.Id, s.Store, s.Status)
		}
	}
	cl, err := c.Cluster(ctx)
	if err != nil || cl.Id != 42 {
		t.Errorf("Cluster = %+v, %v", cl, err)
	}
	rc, err := c.ReplicationConfig(ctx)
	if err != nil || rc.MaxReplicas != 3 || !slices.Equal(rc.LocationLabels, []string{"zone", "host"}) {
		t.Errorf("ReplicationConfig = %+v, %v", rc, err)
	}
	if v, err := c.Version(ctx); err != nil || v == "" {
		t.Errorf("Version = %q, %v", v, err)
	}
	if m, err := c.Members(ctx); err != nil || len(m.Members) != 3 || m.Leader == nil {
		t.Errorf("Members = %+v, %v", m, err)
	}
	if h, err := c.Health(ctx); err != nil || len(h) != 3 {
		t.Errorf("Health = %+v, %v", h, err)
	}
	regions, err := c.Regions(ctx)
	if err != nil || len(regions) != 12 {
		t.Fatalf("Regions = %d, %v", len(regions), err)
	}
	for _, r := range regions {
		if len(r.Peers) != 3 {
			t.Errorf("region %d has %d peers, want 3", r.ID, len(r.Peers))
		}
	}
	if ok, err := c.Ready(ctx); err != nil || !ok {
		t.Errorf("Ready = %v, %v", ok, err)
	}
	if rcheck, err := c.RegionsCheck(ctx, CheckMissPeer); err != nil || rcheck.Count != 0 {
		t.Errorf("miss-peer = %+v, %v", rcheck, err)
	}

	// Evict-leader semantics.
	if ids, err := c.EvictLeaderStores(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("initial evict stores = %v, %v", ids, err)
	}
	for _, id := range []uint64{2, 3, 2} {
		if err := c.AddEvictLeader(ctx, id); err != nil {
			t.Fatalf("AddEvictLeader(%d): %v", id, err)
		}
	}
	if ids, err := c.EvictLeaderStores(ctx); err != nil || !slices.Equal(ids, []uint64{2, 3}) {
		t.Fatalf("evict stores = %v, %v", ids, err)
	}
	if got := sim.EvictSchedulerStores(); !slices.Equal(got, []uint64{2, 3}) {
		t.Errorf("sim sees %v", got)
	}
	for _, id := range []uint64{2, 2, 3} { // the second remove of 2 answers 404: success
		if err := c.RemoveEvictLeader(ctx, id); err != nil {
			t.Fatalf("RemoveEvictLeader(%d): %v", id, err)
		}
	}
	if got := sim.EvictSchedulerStores(); len(got) != 0 {
		t.Errorf("sim still evicts %v", got)
	}

	// No leader: 503 is retried, then reported.
	sim.SetNoLeader(true)
	_, err = c.Stores(ctx, false)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 {
		t.Errorf("no-leader err = %v", err)
	}
	sim.SetNoLeader(false)
	if _, err := c.Stores(ctx, false); err != nil {
		t.Errorf("after leader is back: %v", err)
	}
}
