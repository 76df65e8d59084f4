package pd

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// capture is one body of testdata/pd: what a real pd-server answered to one
// request, as its header records it.
type capture struct {
	method, path string
	code         int
	body         []byte
}

var (
	captureRequest  = regexp.MustCompile(`(?m)^# request: (GET|POST|DELETE) (\S+)`)
	captureResponse = regexp.MustCompile(`(?m)^# response: HTTP (\d{3})$`)
)

// readCapture reads testdata/pd/<name>: the request and status from its
// header, the body byte for byte after it.
func readCapture(t *testing.T, name string) capture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpus.Dir(t, "pd"), name))
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := bytes.Cut(raw, []byte(corpus.CaptureMarker))
	if !ok {
		t.Fatalf("testdata/pd/%s: not a capture", name)
	}
	req, resp := captureRequest.FindSubmatch(head), captureResponse.FindSubmatch(head)
	if req == nil || resp == nil {
		t.Fatalf("testdata/pd/%s: the header names no request or response", name)
	}
	code, _ := strconv.Atoi(string(resp[1]))
	return capture{method: string(req[1]), path: string(req[2]), code: code, body: corpus.Read(t, "pd", name)}
}

// replay serves the captures of files as PD did, and fails the test for any
// request none of them answers: the client must ask exactly what real PD was asked.
func replay(t *testing.T, files ...string) *Client {
	t.Helper()
	caps := map[string]capture{}
	for _, f := range files {
		c := readCapture(t, f)
		caps[c.method+" "+c.path] = c
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := caps[r.Method+" "+r.URL.RequestURI()]
		if !ok {
			t.Errorf("the client asked %s %s, which no capture of %v answers", r.Method, r.URL.RequestURI(), files)
			http.Error(w, "not captured", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(c.code)
		_, _ = w.Write(c.body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Endpoints: []string{srv.URL}, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storeStates renders stores as "id:state" in PD's order.
func storeStates(stores []StoreInfo) []string {
	var out []string
	for _, s := range stores {
		out = append(out, strconv.FormatUint(s.Store.Id, 10)+":"+s.Store.StateName)
	}
	return out
}

// TestRealPDCaptures sends each request of testdata/pd through the client
// to a server that answers with the body a real pd-server gave, and checks
// what tikv-ear reads from it. Expected values were read from the captured
// bodies, not from the client.
func TestRealPDCaptures(t *testing.T) {
	ctx := context.Background()
	stores := func(list func(*Client) ([]StoreInfo, error), want ...string) func(*testing.T, *Client) {
		return func(t *testing.T, c *Client) {
			got, err := list(c)
			if err != nil || !slices.Equal(storeStates(got), want) {
				t.Errorf("stores %v, %v; want %v", storeStates(got), err, want)
			}
		}
	}
	plain := func(c *Client) ([]StoreInfo, error) { return c.Stores(ctx, false) }
	withTombstone := func(c *Client) ([]StoreInfo, error) { return c.Stores(ctx, true) }
	byState := func(s string) func(*Client) ([]StoreInfo, error) {
		return func(c *Client) ([]StoreInfo, error) { return c.StoresByState(ctx, s) }
	}
	rawList := func(path string) func(*Client) ([]StoreInfo, error) {
		return func(c *Client) ([]StoreInfo, error) { return c.storeList(ctx, path) }
	}
	store := func(id uint64, state string) func(*testing.T, *Client) {
		return func(t *testing.T, c *Client) {
			s, err := c.Store(ctx, id)
			if err != nil || s.Store.Id != id || s.Store.StateName != state || s.Store.Address != "mock:://tikv-"+strconv.FormatUint(id, 10)+":"+strconv.FormatUint(id, 10) {
				t.Errorf("store %+v, %v; want %d %s", s, err, id, state)
			}
		}
	}
	emptyCheck := func(kind RegionCheck) func(*testing.T, *Client) {
		return func(t *testing.T, c *Client) {
			rc, err := c.RegionsCheck(ctx, kind)
			if err != nil || rc.Count != 0 || len(rc.RegionIDs()) != 0 {
				t.Errorf("check %s: %+v, %v; want none", kind, rc, err)
			}
		}
	}
	cases := map[string]func(*testing.T, *Client){
		"stores-all-up.json":                    stores(plain, "1:Up", "2:Up", "3:Up", "4:Up", "5:Up", "6:Up"),
		"stores-with-offline.json":              stores(plain, "4:Up", "5:Up", "6:Offline", "1:Up", "2:Up", "3:Up"),
		"stores-tombstone-hidden.json":          stores(plain, "4:Up", "5:Up", "1:Up", "2:Up", "3:Up"),
		"stores-disconnected.json":              stores(plain, "2:Disconnected", "3:Disconnected", "4:Disconnected", "5:Disconnected", "1:Disconnected"),
		"stores-down.json":                      stores(plain, "5:Down", "1:Down", "2:Down", "3:Down", "4:Down"),
		"stores-all-states-down-tombstone.json": stores(withTombstone, "2:Down", "3:Down", "4:Down", "5:Down", "6:Tombstone", "1:Down"),
		"stores-check-down.json":                stores(byState(StateDown), "1:Down", "2:Down", "3:Down", "4:Down", "5:Down"),
		"stores-check-tombstone.json":           stores(byState(StateTombstone), "6:Tombstone"),
		// metapb state 0 is Up: PD lists Down stores under it (Down is not a metapb state).
		"stores-state-up-filter.json":           stores(rawList(pathStores+"?state=0"), "1:Down", "2:Down", "3:Down", "4:Down", "5:Down"),
		"stores-state-tombstone.json":           stores(rawList(pathStores+"?state=2"), "6:Tombstone"),
		"store-up.json":                         store(1, StateUp),
		"store-disconnected.json":               store(1, StateDisconnected),
		"store-down.json":                       store(1, StateDown),
		"store-offline.json":                    store(6, StateOffline),
		"store-tombstone.json":                  store(6, StateTombstone),
		"regions-check-down-peer-empty.json":    emptyCheck(CheckDownPeer),
		"regions-check-down-peer-all-down.json": emptyCheck(CheckDownPeer),
		"regions-check-miss-peer-empty.json":    emptyCheck(CheckMissPeer),
		"regions-check-pending-peer-empty.json": emptyCheck(CheckPendingPeer),
		"regions-check-offline-peer.json":       emptyCheck(CheckOfflinePeer),
		"store-not-found.json": func(t *testing.T, c *Client) {
			_, err := c.Store(ctx, 99)
			if !IsNotFound(err) || !strings.Contains(err.Error(), "store 99 not found") {
				t.Errorf("err = %v, want a 404 naming store 99", err)
			}
		},
		"store-delete.json": func(t *testing.T, c *Client) {
			msg, err := c.send(ctx, http.MethodDelete, pathStore+"6", nil)
			if err != nil || msg != "The store is set as Offline." {
				t.Errorf("delete store: %q, %v", msg, err)
			}
		},
		"cluster.json": func(t *testing.T, c *Client) {
			cl, err := c.Cluster(ctx)
			if err != nil || cl.Id != 7715556475661907092 || cl.MaxPeerCount != 3 {
				t.Errorf("cluster %+v, %v", cl, err)
			}
		},
		"config.json": func(t *testing.T, c *Client) {
			cfg, err := c.Config(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sched, _ := cfg["schedule"].(map[string]any)
			repl, _ := cfg["replication"].(map[string]any)
			if sched["max-store-down-time"] != "40s" || repl["location-labels"] != "zone,host" {
				t.Errorf("config schedule %v replication %v", sched["max-store-down-time"], repl["location-labels"])
			}
		},
		"config-schedule.json": func(t *testing.T, c *Client) {
			var sched map[string]any
			if err := c.getJSON(ctx, pathConfig+"/schedule", &sched); err != nil || sched["max-store-down-time"] != "40s" {
				t.Errorf("schedule config %v, %v", sched["max-store-down-time"], err)
			}
		},
		"config-replicate.json": func(t *testing.T, c *Client) {
			rc, err := c.ReplicationConfig(ctx)
			if err != nil || rc.MaxReplicas != 3 || !slices.Equal(rc.LocationLabels, []string{"zone", "host"}) || !rc.EnablePlacementRules || rc.StrictlyMatchLabel || rc.IsolationLevel != "" {
				t.Errorf("replication config %+v, %v", rc, err)
			}
		},
		"health.json": func(t *testing.T, c *Client) {
			h, err := c.Health(ctx)
			if err != nil || len(h) != 1 || h[0].Name != "pd1" || !h[0].Health || h[0].MemberID != 4776639847118839820 {
				t.Errorf("health %+v, %v", h, err)
			}
		},
		"members.json": func(t *testing.T, c *Client) {
			m, err := c.Members(ctx)
			if err != nil || len(m.Members) != 1 || m.Leader == nil || m.Leader.Name != "pd1" || m.Header.ClusterID != 7715556475661907092 {
				t.Errorf("members %+v, %v", m, err)
			}
		},
		"schedulers-default.json": func(t *testing.T, c *Client) {
			s, err := c.Schedulers(ctx)
			if err != nil || len(s) != 0 {
				t.Errorf("schedulers %v, %v; want none", s, err)
			}
		},
		"schedulers-with-evict-leader.json": func(t *testing.T, c *Client) {
			s, err := c.Schedulers(ctx)
			if err != nil || !slices.Equal(s, []string{EvictLeaderScheduler}) {
				t.Errorf("schedulers %v, %v", s, err)
			}
		},
		"evict-leader-list.json": func(t *testing.T, c *Client) {
			ids, err := c.EvictLeaderStores(ctx)
			if err != nil || !slices.Equal(ids, []uint64{1}) {
				t.Errorf("evict-leader stores %v, %v; want [1]", ids, err)
			}
		},
		"scheduler-add-evict-leader.json": func(t *testing.T, c *Client) {
			if err := c.AddEvictLeader(ctx, 1); err != nil {
				t.Errorf("add evict-leader: %v", err)
			}
		},
		"scheduler-delete-evict-leader.json": func(t *testing.T, c *Client) {
			msg, err := c.send(ctx, http.MethodDelete, pathSchedulers+"/"+EvictLeaderScheduler+"-1", nil)
			if err != nil || msg != "" {
				t.Errorf("delete evict-leader-scheduler-1: %q, %v; want PD's null, read as no message", msg, err)
			}
		},
		"scheduler-delete-missing.json": func(t *testing.T, c *Client) {
			// RemoveEvictLeader takes this 404 for "already gone" (TiUP RemoveStoreEvict).
			_, err := c.send(ctx, http.MethodDelete, pathSchedulers+"/"+EvictLeaderScheduler+"-1", nil)
			if !IsNotFound(err) {
				t.Errorf("err = %v, want a 404", err)
			}
		},
		"region.json": func(t *testing.T, c *Client) {
			var r Region
			if err := c.getJSON(ctx, "/pd/api/v1/region/id/10", &r); err != nil || r.ID != 10 || len(r.Peers) != 1 || r.Peers[0].StoreId != 6 {
				t.Errorf("region %+v, %v", r, err)
			}
		},
		"regions-count.json": func(t *testing.T, c *Client) {
			var st struct {
				Count          int            `json:"count"`
				StorePeerCount map[string]int `json:"store_peer_count"`
			}
			if err := c.getJSON(ctx, "/pd/api/v1/stats/region", &st); err != nil || st.Count != 1 || st.StorePeerCount["6"] != 1 {
				t.Errorf("region stats %+v, %v", st, err)
			}
		},
	}
	var covered []string
	for n := range cases {
		covered = append(covered, n)
	}
	corpus.RequireCases(t, "pd", "*.json", covered)
	states := map[string]bool{}
	for _, n := range corpus.Names(t, "pd", "*.json") {
		t.Run(n, func(t *testing.T) { cases[n](t, replay(t, n)) })
		for _, s := range []string{StateUp, StateDisconnected, StateDown, StateOffline, StateTombstone} {
			if bytes.Contains(corpus.Read(t, "pd", n), []byte(`"state_name": "`+s+`"`)) {
				states[s] = true
			}
		}
	}
	if len(states) != 5 {
		t.Errorf("the captures cover store states %v, want all five", states)
	}
}
