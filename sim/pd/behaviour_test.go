package pd

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStoresFilterQuirk(t *testing.T) {
	h := newHarness(t, Config{}, 3)
	count := func(path string) int {
		var si StoresInfo
		h.getJSON(path, &si)
		if si.Count != len(si.Stores) {
			t.Fatalf("%s: count %d but %d stores", path, si.Count, len(si.Stores))
		}
		return si.Count
	}
	if n := count("/pd/api/v1/stores"); n != 3 {
		t.Errorf("default filter (Up+Offline) = %d stores, want 3", n)
	}
	if n := count("/pd/api/v1/stores?state=2"); n != 0 {
		t.Errorf("?state=2 (Tombstone only) = %d stores, want 0", n)
	}
	if n := count("/pd/api/v1/stores?state=0&state=1&state=2"); n != 3 {
		t.Errorf("TiUP's ?state=0&state=1&state=2 = %d stores, want 3", n)
	}
	if code, body := h.do(http.MethodGet, "/pd/api/v1/stores?state=7", ""); code != 500 || jsonString(t, body) != "unknown StoreState: 7" {
		t.Errorf("?state=7 = %d %s", code, body)
	}
	if n := count("/pd/api/v1/stores/check?state=UP"); n != 3 {
		t.Errorf("stores/check?state=UP = %d, want 3 (case-insensitive)", n)
	}
	if code, _ := h.do(http.MethodGet, "/pd/api/v1/stores/check?state=bogus", ""); code != 400 {
		t.Errorf("stores/check?state=bogus = %d, want 400", code)
	}
	h.c.StoreStopped(2)
	h.mt.advance(25 * time.Second)
	h.heartbeatAll()
	if n := count("/pd/api/v1/stores/check?state=disconnected"); n != 1 {
		t.Errorf("stores/check?state=disconnected = %d, want 1", n)
	}
	if n := count("/pd/api/v1/stores/check?state=up&state=Disconnected"); n != 3 {
		t.Errorf("two states = %d, want 3", n)
	}
}

func TestStoreByID(t *testing.T) {
	h := newHarness(t, Config{}, 3)
	code, body := h.do(http.MethodGet, "/pd/api/v1/store/42", "")
	if code != 404 || jsonString(t, body) != "[PD:core:ErrStoreNotFound]store 42 not found" {
		t.Errorf("unknown store = %d %s", code, body)
	}
	if code, _ := h.do(http.MethodGet, "/pd/api/v1/store/abc", ""); code != 400 {
		t.Errorf("bad id = %d, want 400", code)
	}
}

func TestEvictLeaderAPI(t *testing.T) {
	h := newHarness(t, Config{}, 3)
	post := func(body string) (int, string) { return h.do(http.MethodPost, "/pd/api/v1/schedulers", body) }

	if code, body := post(`{"name":"evict-leader-scheduler","store_id":1}`); code != 200 || jsonString(t, body) != "The scheduler is created." {
		t.Fatalf("create = %d %s", code, body)
	}
	if code, body := post(`{"name":"evict-leader-scheduler","store_id":2}`); code != 200 || jsonString(t, body) != "The scheduler has been applied to the store." {
		t.Fatalf("add to existing = %d %s", code, body)
	}
	for _, bad := range []string{`{"name":"evict-leader-scheduler"}`, `{"name":"evict-leader-scheduler","store_id":"1"}`} {
		if code, body := post(bad); code != 400 || jsonString(t, body) != "missing store id" {
			t.Errorf("%s = %d %s, want 400 missing store id", bad, code, body)
		}
	}
	var names []string
	h.getJSON("/pd/api/v1/schedulers", &names)
	if !strings.Contains(strings.Join(names, ","), "evict-leader-scheduler") {
		t.Errorf("schedulers = %v", names)
	}
	var list map[string]any
	h.getJSON("/pd/api/v1/scheduler-config/evict-leader-scheduler/list", &list)
	ranges := list["store-id-ranges"].(map[string]any)
	if len(ranges) != 2 || ranges["1"] == nil || list["batch"] != float64(3) {
		t.Errorf("list = %v", list)
	}
	if r := ranges["1"].([]any)[0].(map[string]any); r["start-key"] != "" || r["end-key"] != "" {
		t.Errorf("range = %v", r)
	}
	var st StoreInfo
	h.getJSON("/pd/api/v1/store/1", &st)
	if !st.Status.PauseLeaderTransferIn {
		t.Errorf("store 1 must show pause_leader_transfer_in while evicted")
	}

	// The suffix form redirects to the per-store delete: inner status, body null.
	code, body := h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler-1", "")
	if code != 200 || strings.TrimSpace(body) != "null" {
		t.Errorf("delete suffix = %d %q, want 200 null", code, body)
	}
	if got := h.c.EvictSchedulerStores(); len(got) != 1 || got[0] != 2 {
		t.Errorf("evicted stores = %v, want [2]", got)
	}
	code, body = h.do(http.MethodDelete, "/pd/api/v1/scheduler-config/evict-leader-scheduler/delete/1", "")
	if code != 404 || jsonString(t, body) != "[PD:scheduler:ErrScheduleConfigNotExist]the config does not exist" {
		t.Errorf("delete absent store = %d %s", code, body)
	}
	code, body = h.do(http.MethodDelete, "/pd/api/v1/scheduler-config/evict-leader-scheduler/delete/2", "")
	if code != 200 || jsonString(t, body) != "The last store has been deleted" {
		t.Errorf("delete last = %d %s", code, body)
	}
	if code, _ := h.do(http.MethodGet, "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", ""); code != 404 {
		t.Errorf("list without scheduler = %d, want 404", code)
	}
	code, body = h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler-2", "")
	if code != 404 || strings.TrimSpace(body) != "null" {
		t.Errorf("delete suffix without scheduler = %d %q, want 404 null", code, body)
	}

	// No suffix removes the scheduler for every store.
	post(`{"name":"evict-leader-scheduler","store_id":1}`)
	post(`{"name":"evict-leader-scheduler","store_id":3}`)
	code, body = h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler", "")
	if code != 200 || jsonString(t, body) != "The scheduler is removed." || len(h.c.EvictSchedulerStores()) != 0 {
		t.Errorf("delete all = %d %s, stores %v", code, body, h.c.EvictSchedulerStores())
	}
	code, body = h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler", "")
	if code != 404 || jsonString(t, body) != "[PD:scheduler:ErrSchedulerNotFound]scheduler not found" {
		t.Errorf("delete missing = %d %s", code, body)
	}

	// The config endpoint accepts the same body and a batch in [1, 10].
	post(`{"name":"evict-leader-scheduler","store_id":1}`)
	cfgURL := "/pd/api/v1/scheduler-config/evict-leader-scheduler/config"
	if code, body := h.do(http.MethodPost, cfgURL, `{"store_id":2,"batch":5}`); code != 200 || jsonString(t, body) != "The scheduler has been applied to the store." {
		t.Errorf("config = %d %s", code, body)
	}
	if code, _ := h.do(http.MethodPost, cfgURL, `{"batch":11}`); code != 400 {
		t.Errorf("batch 11 = %d, want 400", code)
	}
	h.getJSON("/pd/api/v1/scheduler-config/evict-leader-scheduler/list", &list)
	if list["batch"] != float64(5) || len(list["store-id-ranges"].(map[string]any)) != 2 {
		t.Errorf("list after config = %v", list)
	}
}

func TestLeadersLeaveEvictedStoreAndReturn(t *testing.T) {
	h := newHarness(t, Config{Regions: 30}, 3)
	before := h.leaders(1)
	if before != 10 {
		t.Fatalf("initial leaders on store 1 = %d, want 10 (balanced)", before)
	}
	h.do(http.MethodPost, "/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":1}`)
	h.ticks(2)
	if got := h.leaders(1); got != before-2*3 {
		t.Errorf("after 2 ticks leaders = %d, want %d (batch 3 per tick)", got, before-6)
	}
	h.ticks(10)
	if got := h.leaders(1); got != 0 {
		t.Fatalf("leaders on evicted store = %d, want 0", got)
	}
	h.ticks(20)
	if got := h.leaders(1); got != 0 {
		t.Errorf("leaders came back while the scheduler is present: %d", got)
	}
	h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler-1", "")
	h.ticks(10)
	if got := h.leaders(1); got < 9 {
		t.Errorf("leaders after removal = %d, want them back (>= 9)", got)
	}
}

func TestEvictionStuck(t *testing.T) {
	h := newHarness(t, Config{Regions: 30}, 3)
	h.c.SetEvictionStuck(1, true)
	h.do(http.MethodPost, "/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":1}`)
	h.ticks(20)
	if got := h.leaders(1); got != 10 {
		t.Errorf("stuck store leaders = %d, want 10 unchanged", got)
	}
	h.c.SetEvictionStuck(1, false)
	h.ticks(10)
	if got := h.leaders(1); got != 0 {
		t.Errorf("after unstick leaders = %d, want 0", got)
	}
}

func TestQuorumTrackerAndLedger(t *testing.T) {
	h := newHarness(t, Config{Regions: 9, WriteRate: 20}, 3)
	h.ticks(5)
	h.c.StoreStopped(3)
	h.ticks(20) // election after 10s, writes continue on 2 of 3
	if l := h.c.QuorumLosses(); len(l) != 0 {
		t.Fatalf("one store of three stopped: quorum losses %v, want none", l)
	}
	ackedBefore, _ := h.c.LedgerCheck()
	h.c.StoreStopped(2)
	h.ticks(5)
	losses := h.c.QuorumLosses()
	if len(losses) != 9 {
		t.Fatalf("two stores of three stopped: %d quorum losses, want 9", len(losses))
	}
	for _, l := range losses {
		if l.AliveVoters != 1 || !l.To.IsZero() || l.From.IsZero() {
			t.Errorf("loss %+v: want 1 alive voter, ongoing", l)
		}
	}
	acked, _ := h.c.LedgerCheck()
	if acked != ackedBefore {
		t.Errorf("writes acknowledged without quorum: %d -> %d", ackedBefore, acked)
	}
	h.c.StoreHeartbeat(2, "8.5.2", "abc", h.mt.now())
	h.c.StoreHeartbeat(3, "8.5.2", "abc", h.mt.now())
	h.ticks(20)
	for _, l := range h.c.QuorumLosses() {
		if l.To.IsZero() || !l.To.After(l.From) {
			t.Errorf("loss %+v not closed after restart", l)
		}
	}
	acked, lost := h.c.LedgerCheck()
	if acked <= ackedBefore || lost != 0 {
		t.Errorf("ledger acked=%d (before %d) lost=%d, want more writes and none lost", acked, ackedBefore, lost)
	}
}

// TestLedgerDetectsStaleElection shows the ledger check can fail: a leader
// elected from a replica that lacks acknowledged writes loses them.
func TestLedgerDetectsStaleElection(t *testing.T) {
	h := newHarness(t, Config{Regions: 1, WriteRate: 10}, 3)
	h.ticks(3)
	r := h.c.regions[0]
	h.c.StoreStopped(r.peers[r.leader].storeID)
	for _, p := range r.peers {
		p.applied = 0 // a buggy replica that never received the log
	}
	h.ticks(15)
	if _, lost := h.c.LedgerCheck(); lost == 0 {
		t.Fatalf("a stale election must show lost writes")
	}
}

func TestRollingRestartKeepsQuorumAndLedger(t *testing.T) {
	h := newHarness(t, Config{Regions: 12, WriteRate: 20}, 3)
	for id := uint64(1); id <= 3; id++ {
		h.do(http.MethodPost, "/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":`+string('0'+rune(id))+`}`)
		for i := 0; i < 20 && h.leaders(id) > 0; i++ {
			h.ticks(1)
			h.heartbeatAll()
		}
		if h.leaders(id) != 0 {
			t.Fatalf("store %d kept leaders", id)
		}
		h.c.StoreStopped(id)
		h.ticks(5)
		h.heartbeatAll()
		h.c.StoreHeartbeat(id, "8.5.2", "new", h.mt.now())
		h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler-"+string('0'+rune(id)), "")
		h.ticks(10)
		h.heartbeatAll()
	}
	if l := h.c.QuorumLosses(); len(l) != 0 {
		t.Errorf("rolling restart lost quorum: %v", l)
	}
	acked, lost := h.c.LedgerCheck()
	if acked == 0 || lost != 0 {
		t.Errorf("ledger acked=%d lost=%d", acked, lost)
	}
}

func TestPendingPeersAfterRestartAndDownPeers(t *testing.T) {
	h := newHarness(t, Config{Regions: 6, WriteRate: 10}, 3)
	h.c.StoreStopped(1)
	h.ticks(15)
	var ri RegionsInfo
	h.getJSON("/pd/api/v1/regions/check/pending-peer", &ri)
	if ri.Count != 0 {
		t.Errorf("pending while stopped = %d, want 0", ri.Count)
	}
	h.c.StoreHeartbeat(1, "8.5.2", "abc", h.mt.now())
	h.getJSON("/pd/api/v1/regions/check/pending-peer", &ri)
	if ri.Count != 6 || len(ri.Regions[0].PendingPeers) != 1 || ri.Regions[0].PendingPeers[0].StoreId != 1 {
		t.Fatalf("pending after restart = %+v, want 6 regions with store 1 pending", ri)
	}
	if s := h.c.Snapshot()[0]; s.PendingPeers != 6 {
		t.Errorf("snapshot pending = %d", s.PendingPeers)
	}
	h.ticks(h.c.cfg.CatchUpTicks)
	h.getJSON("/pd/api/v1/regions/check/pending-peer", &ri)
	if ri.Count != 0 {
		t.Errorf("pending after catch-up = %d, want 0", ri.Count)
	}

	h.c.StoreStopped(2)
	h.ticks(60)
	h.getJSON("/pd/api/v1/regions/check/down-peer", &ri)
	if ri.Count != 0 {
		t.Errorf("down-peer before max-peer-down-duration = %d", ri.Count)
	}
	h.mt.advance(10 * time.Minute)
	h.ticks(1)
	var raw map[string]any
	h.getJSON("/pd/api/v1/regions/check/down-peer", &raw)
	regions := raw["regions"].([]any)
	if raw["count"] != float64(6) || len(regions) != 6 {
		t.Fatalf("down-peer = %v", raw)
	}
	dp := regions[0].(map[string]any)["down_peers"].([]any)[0].(map[string]any)
	if dp["down_seconds"].(float64) < 600 || dp["peer"].(map[string]any)["store_id"] != float64(2) {
		t.Errorf("down peer = %v", dp)
	}
}

func TestConfigPost(t *testing.T) {
	h := newHarness(t, Config{Regions: 4}, 3)
	for _, body := range []string{`{"leader-schedule-limit": 64}`, `{"schedule.leader-schedule-limit": 64}`} {
		h.c.schedule.LeaderScheduleLimit = 4
		if code, resp := h.do(http.MethodPost, "/pd/api/v1/config", body); code != 200 || jsonString(t, resp) != "The config is updated." {
			t.Fatalf("%s = %d %s", body, code, resp)
		}
		var conf struct{ Schedule map[string]any }
		h.getJSON("/pd/api/v1/config", &conf)
		if conf.Schedule["leader-schedule-limit"] != float64(64) {
			t.Errorf("%s: limit = %v", body, conf.Schedule["leader-schedule-limit"])
		}
	}
	code, resp := h.do(http.MethodPost, "/pd/api/v1/config", `{"no-such-item": 1}`)
	if code != 400 || jsonString(t, resp) != "config item no-such-item not found" {
		t.Errorf("unknown item = %d %s", code, resp)
	}
	if code, resp := h.do(http.MethodPost, "/pd/api/v1/config/replicate", `{"max-replicas": 5}`); code != 200 {
		t.Fatalf("replicate = %d %s", code, resp)
	}
	var ri RegionsInfo
	h.getJSON("/pd/api/v1/regions/check/miss-peer", &ri)
	if ri.Count != 4 {
		t.Errorf("miss-peer with max-replicas 5 = %d, want 4", ri.Count)
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t, Config{}, 3)
	h.c.SetUnavailable(true)
	for _, p := range []string{"/pd/api/v1/stores", "/pd/api/v2/ready", "/pd/api/v1/health"} {
		if code, _ := h.do(http.MethodGet, p, ""); code != 503 {
			t.Errorf("unavailable %s = %d, want 503", p, code)
		}
	}
	h.c.SetUnavailable(false)
	h.c.SetNoLeader(true)
	code, body := h.do(http.MethodGet, "/pd/api/v1/stores", "")
	if code != 503 || strings.TrimSpace(body) != "[PD:apiutil:ErrRedirectNoLeader]redirect finds no leader" {
		t.Errorf("no leader = %d %q", code, body)
	}
	if code, _ := h.do(http.MethodGet, "/pd/api/v2/ready", ""); code != 200 {
		t.Errorf("ready is never forwarded, got %d", code)
	}
	h.c.SetNoLeader(false)
	if code, _ := h.do(http.MethodGet, "/pd/api/v1/stores", ""); code != 200 {
		t.Errorf("after faults cleared = %d", code)
	}
}

func TestDecodesIntoStoreInfo(t *testing.T) {
	h := newHarness(t, Config{}, 3)
	_, body := h.do(http.MethodGet, "/pd/api/v1/stores", "")
	var si StoresInfo
	if err := json.Unmarshal([]byte(body), &si); err != nil {
		t.Fatal(err)
	}
	if si.Stores[0].Store.GetId() != 1 || si.Stores[0].Status.LeaderCount == 0 {
		t.Errorf("decoded %+v", si.Stores[0])
	}
}

func TestPlacementSixStores(t *testing.T) {
	h := newHarness(t, Config{Regions: 30}, 6)
	for _, r := range h.c.regions {
		zones := map[string]bool{}
		for _, p := range r.peers {
			zones[h.c.label(p.storeID, "zone")] = true
		}
		if len(r.peers) != 3 || len(zones) != 3 {
			t.Fatalf("region %d: %d peers on %d zones, want 3 on 3", r.id, len(r.peers), len(zones))
		}
	}
	for _, s := range h.c.Snapshot() {
		if s.Leaders != 5 || s.Regions != 15 {
			t.Errorf("store %d: %d leaders %d regions, want 5 and 15", s.ID, s.Leaders, s.Regions)
		}
	}
	h.do(http.MethodPost, "/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":4}`)
	h.ticks(10)
	if got := h.leaders(4); got != 0 {
		t.Fatalf("store 4 leaders = %d, want 0", got)
	}
	h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler-4", "")
	h.ticks(10)
	if got := h.leaders(4); got < 4 {
		t.Errorf("store 4 leaders after removal = %d, want back near 5", got)
	}
}

// Listing the evict-leader config while another request deletes its last
// store answers 200 or 404, never a panic: the list read the scheduler after
// a check made under an earlier lock (seen once in `make bench`: a nil
// dereference in schedulerConfig while a run released its last store).
func TestEvictLeaderListWhileTheLastStoreIsDeleted(t *testing.T) {
	h := newHarness(t, Config{}, 3)
	const list = "/pd/api/v1/scheduler-config/evict-leader-scheduler/list"
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			h.c.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/pd/api/v1/schedulers",
				strings.NewReader(`{"name":"evict-leader-scheduler","store_id":1}`)))
			h.c.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete,
				"/pd/api/v1/scheduler-config/evict-leader-scheduler/delete/1", nil))
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		rec := httptest.NewRecorder()
		h.c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, list, nil))
		if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
			t.Fatalf("list = %d %s, want 200 or 404", rec.Code, rec.Body)
		}
	}
}
