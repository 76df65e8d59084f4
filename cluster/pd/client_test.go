package pd

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pingcap/kvproto/pkg/metapb"
)

func newTestClient(t *testing.T, endpoints ...string) *Client {
	t.Helper()
	c, err := New(Options{Endpoints: endpoints, Timeout: 2 * time.Second, Retries: 2, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startFake(t *testing.T) (*fakePD, *httptest.Server) {
	f := newFakePD(t)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// deadEndpoint returns a 127.0.0.1 address nothing listens on.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestStoresDecodesPDShapes(t *testing.T) {
	f, srv := startFake(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()

	stores, err := c.Stores(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != 3 {
		t.Fatalf("got %d stores, want 3", len(stores))
	}
	s := stores[0]
	if s.Store.Id != 1 || s.Store.Address != "10.0.1.17:20160" || s.Store.StatusAddress != "10.0.1.17:20180" {
		t.Errorf("store 1 meta = %+v", s.Store)
	}
	if s.Store.State != metapb.StoreState_Up || s.Store.StateName != StateUp {
		t.Errorf("state omitted in JSON must decode as Up, got %v/%q", s.Store.State, s.Store.StateName)
	}
	if got := s.Store.LabelMap(); got["zone"] != "z1" || got["host"] != "host1" {
		t.Errorf("labels = %v", got)
	}
	if s.Store.DeployPath != "/tidb-deploy/tikv-20160/bin" || s.Store.Version != "8.5.2" {
		t.Errorf("deploy_path/version = %q/%q", s.Store.DeployPath, s.Store.Version)
	}
	// "460.4GiB" → 460.4 × 2^30 bytes, truncated as go-units does.
	if want := ByteSize(494350735769); s.Status.Capacity != want {
		t.Errorf("capacity = %d, want %d", s.Status.Capacity, want)
	}
	if s.Status.Uptime == nil || s.Status.Uptime.Duration != time.Hour+43*time.Minute+51*time.Second+571234567*time.Nanosecond {
		t.Errorf("uptime = %v", s.Status.Uptime)
	}
	if s.Status.LeaderCount != 12 || s.Status.RegionCount != 36 {
		t.Errorf("counts = %d/%d", s.Status.LeaderCount, s.Status.RegionCount)
	}
	if s.Status.StartTS == nil || !s.Status.StartTS.Equal(time.Date(2024, 11, 27, 9, 53, 20, 0, time.UTC)) {
		t.Errorf("start_ts = %v", s.Status.StartTS)
	}
	if !stores[1].Status.PauseLeaderTransferIn || stores[0].Status.PauseLeaderTransferIn {
		t.Errorf("pause_leader_transfer_in: store 4 should be paused, store 1 not")
	}
	if stores[2].Store.StateName != StateDisconnected || stores[2].Status.PendingPeerCount != 2 {
		t.Errorf("store 5 = %q pending %d", stores[2].Store.StateName, stores[2].Status.PendingPeerCount)
	}

	all, err := c.Stores(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[1].Store.State != metapb.StoreState_Tombstone || all[1].Store.StateName != StateTombstone {
		t.Fatalf("with tombstone: %d stores, second %+v", len(all), all[1].Store)
	}
	if all[1].Status.Capacity != 0 {
		t.Errorf("\"0B\" = %d", all[1].Status.Capacity)
	}
	if !slices.Contains(f.log(), "GET /pd/api/v1/stores?state=0&state=1&state=2") {
		t.Errorf("tombstone query not sent as TiUP does: %v", f.log())
	}
}

func TestStoreAndNotFound(t *testing.T) {
	_, srv := startFake(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	s, err := c.Store(ctx, 1)
	if err != nil || s.Store.Id != 1 {
		t.Fatalf("Store(1) = %+v, %v", s, err)
	}
	_, err = c.Store(ctx, 9)
	if !IsNotFound(err) {
		t.Fatalf("Store(9) err = %v, want 404", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Message != "[PD:core:ErrStoreNotFound]store 9 not found" || se.Endpoint != srv.URL {
		t.Fatalf("status error = %#v", se)
	}
	if !strings.Contains(err.Error(), srv.URL+"/pd/api/v1/store/9: 404") {
		t.Errorf("error does not name endpoint and status: %v", err)
	}
}

func TestStoresByStateAndByAddress(t *testing.T) {
	f, srv := startFake(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	got, err := c.StoresByState(ctx, "Up", "Disconnected")
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, s := range got {
		ids = append(ids, s.Store.Id)
	}
	if !slices.Equal(ids, []uint64{1, 4, 5}) {
		t.Errorf("ids = %v", ids)
	}
	if !slices.Contains(f.log(), "GET /pd/api/v1/stores/check?state=up&state=disconnected") {
		t.Errorf("query: %v", f.log())
	}
	s, err := c.StoreByAddress(ctx, "10.0.1.18:20160")
	if err != nil || s.Store.Id != 4 {
		t.Fatalf("StoreByAddress = %+v, %v", s, err)
	}
	if _, err := c.StoreByAddress(ctx, "10.9.9.9:20160"); err == nil {
		t.Fatal("unknown address: no error")
	}
}

func TestClusterInfoEndpoints(t *testing.T) {
	_, srv := startFake(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()

	h, err := c.Health(ctx)
	if err != nil || len(h) != 2 || !h[0].Health || h[1].Health || h[1].ClientURLs[0] != "http://10.0.1.12:2379" {
		t.Errorf("Health = %+v, %v", h, err)
	}
	m, err := c.Members(ctx)
	if err != nil || m.Header.ClusterID != 7441234567890123456 || len(m.Members) != 2 || m.Leader.Name != "pd-10.0.1.11-2379" {
		t.Errorf("Members = %+v, %v", m, err)
	}
	l, err := c.Leader(ctx)
	if err != nil || l.MemberID != 3474484975246189105 || l.BinaryVersion != "v8.5.2" {
		t.Errorf("Leader = %+v, %v", l, err)
	}
	v, err := c.Version(ctx)
	if err != nil || v != "8.5.2" {
		t.Errorf("Version = %q, %v", v, err)
	}
	cl, err := c.Cluster(ctx)
	if err != nil || cl.Id != 7441234567890123456 || cl.MaxPeerCount != 3 {
		t.Errorf("Cluster = %+v, %v", cl, err)
	}
	rc, err := c.ReplicationConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rc.MaxReplicas != 3 || !slices.Equal(rc.LocationLabels, []string{"zone", "host"}) ||
		rc.StrictlyMatchLabel || !rc.EnablePlacementRules || rc.IsolationLevel != "zone" {
		t.Errorf("ReplicationConfig = %+v", rc)
	}
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sched, _ := cfg["schedule"].(map[string]any); sched["leader-schedule-limit"] != float64(4) {
		t.Errorf("Config schedule = %v", cfg["schedule"])
	}
	if err := c.SetConfig(ctx, map[string]any{"schedule.leader-schedule-limit": 64}); err != nil {
		t.Errorf("SetConfig: %v", err)
	}
	if err := c.SetConfig(ctx, nil); err == nil {
		t.Error("SetConfig(nil): no error")
	}
	ok, err := c.Ready(ctx)
	if err != nil || !ok {
		t.Errorf("Ready = %v, %v", ok, err)
	}
	names, err := c.Schedulers(ctx)
	if err != nil || !slices.Contains(names, "balance-leader-scheduler") {
		t.Errorf("Schedulers = %v, %v", names, err)
	}
}

func TestReplicationConfigShapes(t *testing.T) {
	var rc ReplicationConfig
	if err := rc.UnmarshalJSON([]byte(`{"max-replicas":5,"location-labels":"","strictly-match-label":"true","enable-placement-rules":"false","isolation-level":""}`)); err != nil {
		t.Fatal(err)
	}
	if rc.MaxReplicas != 5 || len(rc.LocationLabels) != 0 || !rc.StrictlyMatchLabel || rc.EnablePlacementRules {
		t.Errorf("got %+v", rc)
	}
	if err := rc.UnmarshalJSON([]byte(`{"strictly-match-label":"yes"}`)); err == nil {
		t.Error("\"yes\" accepted as a boolean")
	}
}

func TestParseByteSize(t *testing.T) {
	cases := map[string]ByteSize{
		"0B":       0,
		"512":      512,
		"1KiB":     1024,
		"1.5MiB":   1572864,
		"2 GiB":    2 << 30,
		"1t":       1 << 40,
		"460.4GiB": ByteSize(494350735769),
		"3gb":      3 << 30,
	}
	for in, want := range cases {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "1.2.3GiB", "12XB", "-1B"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
}

func TestRegionsCheck(t *testing.T) {
	_, srv := startFake(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()

	down, err := c.RegionsCheck(ctx, CheckDownPeer)
	if err != nil {
		t.Fatal(err)
	}
	if down.Count != 1 || !slices.Equal(down.RegionIDs(), []uint64{88}) {
		t.Errorf("down-peer = %d %v", down.Count, down.RegionIDs())
	}
	if st := down.StoreIDs(); len(st) != 1 || st[5] != 1 {
		t.Errorf("down-peer stores = %v, want store 5 once", st)
	}
	if down.Regions[0].DownPeers[0].DownSeconds != 660 || down.Regions[0].Epoch.ConfVer != 5 {
		t.Errorf("down peer detail = %+v", down.Regions[0])
	}
	miss, err := c.RegionsCheck(ctx, CheckMissPeer)
	if err != nil {
		t.Fatal(err)
	}
	if miss.Count != 2 || !slices.Equal(miss.RegionIDs(), []uint64{8, 12}) {
		t.Errorf("miss-peer = %d %v", miss.Count, miss.RegionIDs())
	}
	learner := miss.Regions[1].Peers[1]
	if learner.Role != metapb.PeerRole_Learner || learner.RoleName != "Learner" || learner.StoreId != 5 {
		t.Errorf("learner peer = %+v", learner)
	}
	empty, err := c.RegionsCheck(ctx, CheckOfflinePeer)
	if err != nil || empty.Count != 0 {
		t.Errorf("offline-peer = %+v, %v", empty, err)
	}
	if _, err := c.RegionsCheck(ctx, "sick-peer"); err == nil {
		t.Error("unknown check accepted")
	}
}

func TestFailoverToNextEndpoint(t *testing.T) {
	f, srv := startFake(t)
	dead := deadEndpoint(t)
	c := newTestClient(t, dead, srv.URL)
	v, err := c.Version(context.Background())
	if err != nil || v != "8.5.2" {
		t.Fatalf("Version via second endpoint = %q, %v", v, err)
	}
	// The working endpoint is now preferred: the dead one is not tried first again.
	n := len(f.log())
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.log()) != n+1 {
		t.Errorf("requests = %d, want %d", len(f.log()), n+1)
	}
}

// TestFailoverPastMemberNotStarted: a PD member that was just started again
// answers 500 "server not started" (its redirector, tikv/pd
// pkg/utils/apiutil/serverapi/middleware.go); the next member answers.
func TestFailoverPastMemberNotStarted(t *testing.T) {
	_, srv := startFake(t)
	starting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "[PD:server:ErrServerNotStarted]server not started", http.StatusInternalServerError)
	}))
	defer starting.Close()
	c := newTestClient(t, starting.URL, srv.URL)
	v, err := c.Version(context.Background())
	if err != nil || v != "8.5.2" {
		t.Fatalf("Version past a member not started = %q, %v", v, err)
	}
}

func TestAllEndpointsDown(t *testing.T) {
	a, b := deadEndpoint(t), deadEndpoint(t)
	c := newTestClient(t, a, b)
	_, err := c.Stores(context.Background(), false)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatal("not an *UnreachableError")
	}
	// 3 rounds (1 + Retries 2) × 2 endpoints.
	if len(ue.Attempts) != 6 {
		t.Errorf("attempts = %d, want 6", len(ue.Attempts))
	}
	for _, want := range []string{a, b} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(ue.Hint(), "check --pd") || strings.Contains(err.Error(), "check --pd") {
		t.Errorf("the fix belongs in Hint(), once: error %q, hint %q", err, ue.Hint())
	}
}

func TestRetry503ThenSucceed(t *testing.T) {
	f, srv := startFake(t)
	f.fail503 = 2
	c := newTestClient(t, srv.URL)
	v, err := c.Version(context.Background())
	if err != nil || v != "8.5.2" {
		t.Fatalf("Version after two 503s = %q, %v", v, err)
	}
	if got := len(f.log()); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
}

func TestRetry503Exhausted(t *testing.T) {
	f, srv := startFake(t)
	f.fail503 = 100
	c := newTestClient(t, srv.URL)
	_, err := c.Version(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want a 503 StatusError", err)
	}
	if !strings.Contains(err.Error(), "no leader after 3 attempts") {
		t.Errorf("err = %v", err)
	}
	if got := len(f.log()); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	f, srv := startFake(t)
	f.fail503 = 100
	c, err := New(Options{Endpoints: []string{srv.URL}, Retries: 50, RetryDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(f.log()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = c.Version(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEvictLeaderLifecycle(t *testing.T) {
	f, srv := startFake(t)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()

	ids, err := c.EvictLeaderStores(ctx)
	if err != nil || len(ids) != 0 {
		t.Fatalf("no scheduler: %v, %v (404 must mean none)", ids, err)
	}
	if err := c.AddEvictLeader(ctx, 4); err != nil { // "The scheduler is created."
		t.Fatal(err)
	}
	if err := c.AddEvictLeader(ctx, 1); err != nil { // "The scheduler has been applied to the store."
		t.Fatal(err)
	}
	if err := c.AddEvictLeader(ctx, 4); err != nil { // again: idempotent
		t.Fatal(err)
	}
	ids, err = c.EvictLeaderStores(ctx)
	if err != nil || !slices.Equal(ids, []uint64{1, 4}) {
		t.Fatalf("EvictLeaderStores = %v, %v", ids, err)
	}

	if err := c.RemoveEvictLeader(ctx, 4); err != nil { // 200 null
		t.Fatal(err)
	}
	if got := f.evicted(); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after remove 4: %v (store 1 must stay covered)", got)
	}
	if err := c.RemoveEvictLeader(ctx, 4); err != nil { // 404 null counts as success
		t.Fatalf("second remove: %v", err)
	}
	if err := c.RemoveEvictLeader(ctx, 1); err != nil { // last store: scheduler gone
		t.Fatal(err)
	}
	if got := f.evicted(); len(got) != 0 {
		t.Fatalf("after removing all: %v", got)
	}
	for _, r := range f.log() {
		if r == "DELETE /pd/api/v1/schedulers/evict-leader-scheduler" {
			t.Fatal("suffix-less DELETE sent")
		}
	}
	if !slices.Contains(f.log(), "DELETE /pd/api/v1/schedulers/evict-leader-scheduler-4") {
		t.Errorf("DELETE with suffix not sent: %v", f.log())
	}
}

func TestRemoveEvictLeaderSchedulerNotFoundBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			writeString(w, http.StatusInternalServerError, notFound)
		case r.URL.Path == "/pd/api/v1/scheduler-config/evict-leader-scheduler/list":
			writeRaw(w, 200, []byte(`{"store-id-ranges":{},"batch":3}`)) // tikv/pd#9908: empty ranges left behind
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	if err := c.RemoveEvictLeader(context.Background(), 7); err != nil {
		t.Fatalf("body containing %q must count as success: %v", schedulerNotFound, err)
	}
}

func TestRemoveEvictLeaderVerifies(t *testing.T) {
	// A PD that answers 200 but keeps the store listed: the client must notice.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			writeRaw(w, 200, []byte("null"))
		case r.URL.Path == "/pd/api/v1/scheduler-config/evict-leader-scheduler/list":
			writeRaw(w, 200, []byte(`{"store-id-ranges":{"7":[{"start-key":"","end-key":""}]},"batch":3}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	err := c.RemoveEvictLeader(context.Background(), 7)
	if err == nil || !strings.Contains(err.Error(), "still listed") {
		t.Fatalf("err = %v, want still-listed error", err)
	}
}

func TestRemoveEvictLeaderServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeString(w, http.StatusInternalServerError, "boom")
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	err := c.RemoveEvictLeader(context.Background(), 7)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 || se.Message != "boom" {
		t.Fatalf("err = %v, want the 500 with PD's body", err)
	}
}

func TestEvictLeaderLegacyNames(t *testing.T) {
	f, srv := startFake(t)
	f.legacy = true
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	if err := c.AddEvictLeader(ctx, 5); err != nil {
		t.Fatal(err)
	}
	ids, err := c.EvictLeaderStores(ctx)
	if err != nil || !slices.Equal(ids, []uint64{5}) {
		t.Fatalf("legacy EvictLeaderStores = %v, %v", ids, err)
	}
}

func TestAddEvictLeaderErrorButListed(t *testing.T) {
	// operator v1: a failed POST is success when the scheduler already covers the store.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			writeString(w, http.StatusInternalServerError, "scheduler existed")
		case r.URL.Path == "/pd/api/v1/scheduler-config/evict-leader-scheduler/list":
			writeRaw(w, 200, []byte(`{"store-id-ranges":{"3":[{"start-key":"","end-key":""}]},"batch":3}`))
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	if err := c.AddEvictLeader(context.Background(), 3); err != nil {
		t.Errorf("listed store: %v", err)
	}
	if err := c.AddEvictLeader(context.Background(), 4); err == nil {
		t.Error("unlisted store after a failed POST: no error")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "--pd") {
		t.Errorf("no endpoints: %v", err)
	}
	if _, err := New(Options{Endpoints: []string{"ftp://x:1"}}); err == nil {
		t.Error("ftp scheme accepted")
	}
	c, err := New(Options{Endpoints: []string{"10.0.1.11:2379", "http://10.0.1.12:2379/"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoints(); !slices.Equal(got, []string{"http://10.0.1.11:2379", "http://10.0.1.12:2379"}) {
		t.Errorf("endpoints = %v", got)
	}
	if _, err := New(Options{Endpoints: []string{"a:1"}, HTTP: http.DefaultClient, TLS: TLSFiles{CA: "x"}}); err == nil {
		t.Error("HTTP and TLS together accepted")
	}
}

func TestAddEvictLeaderRetriesARacingCreate(t *testing.T) {
	// Real PD (a186e0cc) answered the second of two concurrent POSTs of one
	// zone batch with 400 ErrSchedulerExisted; posted again it adds the store.
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			posts++
			if posts == 1 {
				writeString(w, http.StatusBadRequest, "[PD:scheduler:ErrSchedulerExisted]scheduler existed")
				return
			}
			writeString(w, http.StatusOK, "The scheduler is created.")
		case r.URL.Path == "/pd/api/v1/scheduler-config/evict-leader-scheduler/list":
			writeRaw(w, 200, []byte(`{"store-id-ranges":{"3":[{"start-key":"","end-key":""}]},"batch":3}`))
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	if err := c.AddEvictLeader(context.Background(), 6); err != nil || posts != 2 {
		t.Fatalf("racing create: %v after %d POSTs", err, posts)
	}
}
