package pd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// manualTime is a hand-driven sim clock for deterministic tests.
type manualTime struct {
	mu sync.Mutex
	t  time.Time
}

func (m *manualTime) now() time.Time { m.mu.Lock(); defer m.mu.Unlock(); return m.t }
func (m *manualTime) advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

func testStores(n int) []StoreSpec {
	var out []StoreSpec
	for i := 1; i <= n; i++ {
		out = append(out, StoreSpec{
			ID:            uint64(i),
			Address:       fmt.Sprintf("127.0.0.1:%d", 20160+i),
			StatusAddress: fmt.Sprintf("127.0.0.1:%d", 20180+i),
			DeployPath:    fmt.Sprintf("/home/tidb/deploy/tikv-%d/bin", 20160+i),
			Labels:        []Label{{"zone", fmt.Sprintf("z%d", (i-1)%3+1)}, {"host", fmt.Sprintf("h%d", i)}},
		})
	}
	return out
}

type harness struct {
	t  *testing.T
	c  *Cluster
	mt *manualTime
}

func newHarness(t *testing.T, cfg Config, stores int) *harness {
	t.Helper()
	if cfg.ClusterID == 0 {
		cfg.ClusterID = 7000000000000000001
	}
	if cfg.Regions == 0 {
		cfg.Regions = 12
	}
	mt := &manualTime{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return &harness{t: t, c: newCluster(cfg, clock.New(1), testStores(stores), mt.now), mt: mt}
}

// ticks advances time by one tick interval, lets every running store
// heartbeat (as its node would) and runs a tick, n times.
func (h *harness) ticks(n int) {
	for i := 0; i < n; i++ {
		h.mt.advance(h.c.cfg.TickInterval)
		h.heartbeatAll()
		h.c.tick()
	}
}

// heartbeatAll sends a heartbeat for every running store, as the nodes would.
func (h *harness) heartbeatAll(except ...uint64) {
	for _, s := range h.c.Snapshot() {
		skip := !s.Alive
		for _, e := range except {
			skip = skip || e == s.ID
		}
		if !skip {
			h.c.StoreHeartbeat(s.ID, "8.5.2", "abc123", s.Start)
		}
	}
}

func (h *harness) do(method, path, body string) (int, string) {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.c.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	code, body := h.do(http.MethodGet, path, "")
	if code != http.StatusOK {
		h.t.Fatalf("GET %s = %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		h.t.Fatalf("GET %s: decoding %q: %v", path, body, err)
	}
}

func (h *harness) leaders(id uint64) int {
	l, _ := h.c.StoreCounts(id)
	return l
}

func jsonString(t *testing.T, body string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("body %q is not a JSON string: %v", body, err)
	}
	return s
}
