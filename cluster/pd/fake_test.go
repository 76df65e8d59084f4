package pd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakePD serves the reference-shaped fixtures in testdata/ and keeps the
// evict-leader scheduler's state the way PD does (reference pd-and-tiup.md §1.4).
type fakePD struct {
	t *testing.T

	mu       sync.Mutex
	evict    map[uint64]bool // stores covered by evict-leader-scheduler; nil = no scheduler
	requests []string        // "METHOD path?query"
	fail503  int             // answer this many requests with 503 first
	legacy   bool            // pretend to be an old PD: no scheduler-config route
}

func newFakePD(t *testing.T) *fakePD { return &fakePD{t: t} }

func (f *fakePD) fixture(name string) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
	}
	return data
}

// writeString renders a PD-style JSON string body.
func writeString(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	b, _ := json.Marshal(s)
	_, _ = w.Write(b)
}

func writeRaw(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// notFound is PD's scheduler-not-found body (reference §1.0).
const notFound = "[PD:scheduler:ErrSchedulerNotFound]scheduler not found"

func (f *fakePD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	f.requests = append(f.requests, line)
	if f.fail503 > 0 {
		f.fail503--
		// The client matches on the status only; this body is a placeholder.
		http.Error(w, "no leader", http.StatusServiceUnavailable)
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/pd/api/v1/stores":
		if r.URL.RawQuery == "state=0&state=1&state=2" {
			writeRaw(w, 200, f.fixture("stores_all.json"))
		} else {
			writeRaw(w, 200, f.fixture("stores.json"))
		}
	case r.Method == http.MethodGet && p == "/pd/api/v1/stores/check":
		f.storesCheck(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/pd/api/v1/store/"):
		id := strings.TrimPrefix(p, "/pd/api/v1/store/")
		if id == "1" {
			writeRaw(w, 200, f.fixture("store_1.json"))
			return
		}
		// tikv/pd errors/errs.go ErrStoreNotFound.
		writeString(w, 404, "[PD:core:ErrStoreNotFound]store "+id+" not found")
	case r.Method == http.MethodGet && p == "/pd/api/v1/health":
		writeRaw(w, 200, f.fixture("health.json"))
	case r.Method == http.MethodGet && p == "/pd/api/v1/members":
		writeRaw(w, 200, f.fixture("members.json"))
	case r.Method == http.MethodGet && p == "/pd/api/v1/leader":
		writeRaw(w, 200, f.fixture("leader.json"))
	case r.Method == http.MethodGet && p == "/pd/api/v1/version":
		writeRaw(w, 200, f.fixture("version.json"))
	case r.Method == http.MethodGet && p == "/pd/api/v1/cluster":
		writeRaw(w, 200, f.fixture("cluster.json"))
	case r.Method == http.MethodGet && p == "/pd/api/v1/config/replicate":
		writeRaw(w, 200, f.fixture("replicate.json"))
	case r.Method == http.MethodGet && p == "/pd/api/v1/config":
		writeRaw(w, 200, f.fixture("config.json"))
	case r.Method == http.MethodPost && p == "/pd/api/v1/config":
		var kv map[string]any
		if err := json.NewDecoder(r.Body).Decode(&kv); err != nil || len(kv) == 0 {
			writeString(w, 400, "The input is invalid.") // server/api/config.go @Failure 400
			return
		}
		writeString(w, 200, "The config is updated.") // server/api/config.go @Success 200
	case r.Method == http.MethodGet && p == "/pd/api/v2/ready":
		writeRaw(w, 200, nil)
	case strings.HasPrefix(p, "/pd/api/v1/regions/check/"):
		kind := strings.TrimPrefix(p, "/pd/api/v1/regions/check/")
		switch kind {
		case "down-peer":
			writeRaw(w, 200, f.fixture("regions_down_peer.json"))
		case "miss-peer":
			writeRaw(w, 200, f.fixture("regions_miss_peer.json"))
		default:
			writeRaw(w, 200, []byte(`{"count":0,"regions":[]}`))
		}
	case strings.HasPrefix(p, "/pd/api/v1/schedulers") || strings.HasPrefix(p, "/pd/api/v1/scheduler-config/"):
		f.schedulers(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakePD) storesCheck(w http.ResponseWriter, r *http.Request) {
	var all storesInfo
	if err := json.Unmarshal(f.fixture("stores_all.json"), &all); err != nil {
		f.t.Error(err)
	}
	want := r.URL.Query()["state"]
	var raw struct {
		Stores []json.RawMessage `json:"stores"`
	}
	_ = json.Unmarshal(f.fixture("stores_all.json"), &raw)
	var out []json.RawMessage
	for i, s := range all.Stores {
		if slices.Contains(want, strings.ToLower(s.Store.StateName)) {
			out = append(out, raw.Stores[i])
		}
	}
	body, _ := json.Marshal(map[string]any{"count": len(out), "stores": out})
	writeRaw(w, 200, body)
}

func (f *fakePD) schedulers(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	const evictPrefix = "/pd/api/v1/schedulers/evict-leader-scheduler-"
	switch {
	case r.Method == http.MethodGet && p == "/pd/api/v1/schedulers":
		names := []string{"balance-leader-scheduler", "balance-region-scheduler"}
		if f.evict != nil {
			if f.legacy {
				for id := range f.evict {
					names = append(names, fmt.Sprintf("evict-leader-scheduler-%d", id))
				}
			} else {
				names = append(names, "evict-leader-scheduler")
			}
		}
		body, _ := json.Marshal(names)
		writeRaw(w, 200, body)
	case r.Method == http.MethodPost && p == "/pd/api/v1/schedulers":
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeString(w, 400, err.Error())
			return
		}
		id, ok := req["store_id"].(float64) // must be a JSON number
		if req["name"] != "evict-leader-scheduler" || !ok {
			writeString(w, 400, "The input is invalid.")
			return
		}
		if f.evict == nil {
			f.evict = map[uint64]bool{uint64(id): true}
			writeString(w, 200, "The scheduler is created.")
			return
		}
		f.evict[uint64(id)] = true
		writeString(w, 200, "The scheduler has been applied to the store.")
	case r.Method == http.MethodGet && p == "/pd/api/v1/scheduler-config/evict-leader-scheduler/list":
		if f.evict == nil || f.legacy {
			http.NotFound(w, r)
			return
		}
		ranges := map[string]any{}
		for id := range f.evict {
			ranges[strconv.FormatUint(id, 10)] = []map[string]string{{"start-key": "", "end-key": ""}}
		}
		body, _ := json.Marshal(map[string]any{"store-id-ranges": ranges, "batch": 3})
		writeRaw(w, 200, body)
	case r.Method == http.MethodDelete && p == "/pd/api/v1/schedulers/evict-leader-scheduler":
		f.t.Errorf("client sent the suffix-less DELETE %s, which drops the scheduler for every store", p)
		f.evict = nil
		writeRaw(w, 200, []byte("null")) // the test has already failed; body irrelevant
	case r.Method == http.MethodDelete && strings.HasPrefix(p, evictPrefix):
		// PD redirects to scheduler-config/.../delete/<id> and answers the
		// inner status with body null (reference §1.4).
		id, err := strconv.ParseUint(strings.TrimPrefix(p, evictPrefix), 10, 64)
		if err != nil || f.evict == nil || !f.evict[id] {
			writeRaw(w, 404, []byte("null"))
			return
		}
		delete(f.evict, id)
		if len(f.evict) == 0 {
			f.evict = nil
		}
		writeRaw(w, 200, []byte("null"))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakePD) evicted() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []uint64
	for id := range f.evict {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (f *fakePD) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}
