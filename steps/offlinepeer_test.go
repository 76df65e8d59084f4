package steps

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/pd"
)

// TestPreflightOfflineStoreHintAndStaleOfflinePeer: an Offline store (being
// removed) fails stores-up with the way out (wait for Tombstone or cancel
// the removal); offline-peer flags PD keeps with no peer on an Offline store
// warn and do not block.
func TestPreflightOfflineStoreHintAndStaleOfflinePeer(t *testing.T) {
	p := testPlan("aes256-ctr", "file", "8.5.2", "8.5.2", "8.5.2")
	removing := []Store{{ID: 1, StateName: "Up"}, {ID: 2, StateName: "Offline", Address: "b"}, {ID: 3, StateName: "Up"}}
	c, _ := find(RunPreflight(Facts{Plan: p, Stores: removing, MaxReplicas: 3, Hosts: reachable(3)}), "stores-up", 0)
	if c.Status != Fail || !strings.Contains(c.Message, "store 2 (b) is Offline") ||
		!strings.Contains(c.Fix, "Tombstone") || !strings.Contains(c.Fix, "pd-ctl store cancel-delete 2") || !strings.Contains(c.Fix, "/pd/api/v1/store/2/state?state=Up") {
		t.Fatalf("an Offline store: %+v", c)
	}

	up := []Store{{ID: 1, StateName: "Up"}, {ID: 2, StateName: "Up"}, {ID: 3, StateName: "Up"}}
	checks := RunPreflight(Facts{Plan: p, Stores: up, MaxReplicas: 3, Hosts: reachable(3), Health: RegionHealth{StaleOfflinePeer: 3}})
	if c, _ := find(checks, "region-health", 0); c.Status != Pass {
		t.Errorf("stale offline-peer flags block: %+v", c)
	}
	if c, ok := find(checks, "offline-peer-stale", 0); !ok || c.Status != Warn || !strings.Contains(c.Message, "3 region(s)") {
		t.Errorf("stale offline-peer flags are not told: %+v", c)
	}
	checks = RunPreflight(Facts{Plan: p, Stores: up, MaxReplicas: 3, Hosts: reachable(3), Health: RegionHealth{OfflinePeer: 1}})
	if c, _ := find(checks, "region-health", 0); c.Status != Fail {
		t.Errorf("a peer on an Offline store does not block: %+v", c)
	}
}

// pdFixture serves PD's JSON for the stores and the region checks
// (tikv/pd @ a186e0cc pkg/response/store.go StoresInfo, region.go
// RegionsInfo), written by hand.
func pdFixture(t *testing.T, stores, offlinePeer string) *pd.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/pd/api/v1/stores":
			_, _ = w.Write([]byte(stores))
		case r.URL.Path == "/pd/api/v1/regions/check/offline-peer":
			_, _ = w.Write([]byte(offlinePeer))
		case strings.HasPrefix(r.URL.Path, "/pd/api/v1/regions/check/"):
			_, _ = w.Write([]byte(`{"count":0,"regions":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := pd.New(pd.Options{Endpoints: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRegionHealthCountsStaleOfflinePeerApart: of PD's offline-peer regions,
// those with a peer on an Offline store count as OfflinePeer, the others
// (PD's flag left from a cancelled removal) as StaleOfflinePeer.
func TestRegionHealthCountsStaleOfflinePeerApart(t *testing.T) {
	regions := `{"count":2,"regions":[
 {"id":10,"start_key":"","end_key":"","peers":[{"id":11,"store_id":1,"role_name":"Voter"},{"id":12,"store_id":2,"role_name":"Voter"},{"id":13,"store_id":3,"role_name":"Voter"}],"leader":{"id":11,"store_id":1,"role_name":"Voter"},"approximate_size":96,"approximate_keys":1000},
 {"id":20,"start_key":"","end_key":"","peers":[{"id":21,"store_id":1,"role_name":"Voter"},{"id":22,"store_id":3,"role_name":"Voter"},{"id":23,"store_id":4,"role_name":"Voter"}],"leader":{"id":21,"store_id":1,"role_name":"Voter"},"approximate_size":96,"approximate_keys":1000}]}`
	store := func(id int, state string) string {
		return `{"store":{"id":` + string(rune('0'+id)) + `,"address":"h:2016` + string(rune('0'+id)) + `","state_name":"` + state + `"},"status":{"leader_count":1,"region_count":2}}`
	}
	allUp := `{"count":4,"stores":[` + store(1, "Up") + `,` + store(2, "Up") + `,` + store(3, "Up") + `,` + store(4, "Up") + `]}`
	h, err := PDClient{C: pdFixture(t, allUp, regions)}.RegionHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.OfflinePeer != 0 || h.StaleOfflinePeer != 2 || !h.Clean() {
		t.Errorf("every store Up: %+v, want both regions stale and the health clean", h)
	}
	oneOffline := `{"count":4,"stores":[` + store(1, "Up") + `,` + store(2, "Offline") + `,` + store(3, "Up") + `,` + store(4, "Up") + `]}`
	h, err = PDClient{C: pdFixture(t, oneOffline, regions)}.RegionHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.OfflinePeer != 1 || h.StaleOfflinePeer != 1 || h.Clean() {
		t.Errorf("store 2 Offline: %+v, want region 10 offline-peer and region 20 stale", h)
	}
}
