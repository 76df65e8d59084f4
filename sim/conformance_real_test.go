//go:build realparts

package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/sim/clock"
	"github.com/tikv-ear/tikv-ear/sim/pd"
)

// exchange is one request and what a PD answered.
type exchange struct {
	method, path, body string
}

type answer struct {
	status int
	body   []byte
}

func do(t *testing.T, base string, e exchange) answer {
	t.Helper()
	var rd io.Reader
	if e.body != "" {
		rd = strings.NewReader(e.body)
	}
	req, err := http.NewRequest(e.method, base+e.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if e.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", e.method, e.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

// shape describes a JSON value by its type and, for objects, its keys'
// shapes; an array's shape merges its elements'. Values are not compared.
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, val := range x {
			m[k] = shape(val)
		}
		return m
	case []any:
		var merged any
		for _, el := range x {
			merged = merge(merged, shape(el))
		}
		return []any{merged}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func merge(a, b any) any {
	if a == nil {
		return b
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		out := map[string]any{}
		for k, v := range am {
			out[k] = v
		}
		for k, v := range bm {
			out[k] = merge(out[k], v)
		}
		return out
	}
	aa, aok := a.([]any)
	ba, bok := b.([]any)
	if aok && bok {
		return []any{merge(aa[0], ba[0])}
	}
	return a
}

// diffShapes lists where two shapes differ, by JSON path. An empty array on
// one side matches any array (nothing to compare).
func diffShapes(path string, real, sim any, out *[]string) {
	rm, rok := real.(map[string]any)
	sm, sok := sim.(map[string]any)
	if rok && sok {
		keys := map[string]bool{}
		for k := range rm {
			keys[k] = true
		}
		for k := range sm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			rv, rin := rm[k]
			sv, sin := sm[k]
			switch {
			case !sin:
				*out = append(*out, fmt.Sprintf("%s.%s: real PD has it (%v), sim/pd does not", path, k, brief(rv)))
			case !rin:
				*out = append(*out, fmt.Sprintf("%s.%s: sim/pd has it (%v), real PD does not", path, k, brief(sv)))
			default:
				diffShapes(path+"."+k, rv, sv, out)
			}
		}
		return
	}
	ra, rok := real.([]any)
	sa, sok := sim.([]any)
	if rok && sok {
		if ra[0] != nil && sa[0] != nil {
			diffShapes(path+"[]", ra[0], sa[0], out)
		}
		return
	}
	if fmt.Sprint(real) != fmt.Sprint(sim) {
		*out = append(*out, fmt.Sprintf("%s: real PD %v, sim/pd %v", path, brief(real), brief(sim)))
	}
}

func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// compare checks one exchange: the same status, and either the same body
// (errors and messages: JSON strings, null, plain text) or the same shape.
func compare(t *testing.T, e exchange, real, sim answer) []string {
	t.Helper()
	name := e.method + " " + e.path
	var diffs []string
	if real.status != sim.status {
		diffs = append(diffs, fmt.Sprintf("%s: status real PD %d, sim/pd %d (bodies %q / %q)", name, real.status, sim.status, trim(real.body), trim(sim.body)))
	}
	var rv, sv any
	rerr, serr := json.Unmarshal(real.body, &rv), json.Unmarshal(sim.body, &sv)
	_, rObj := rv.(map[string]any)
	_, rArr := rv.([]any)
	switch {
	case rerr == nil && serr == nil && (rObj || rArr):
		var d []string
		diffShapes(name, shape(rv), shape(sv), &d)
		diffs = append(diffs, d...)
	case !bytes.Equal(bytes.TrimSpace(real.body), bytes.TrimSpace(sim.body)):
		diffs = append(diffs, fmt.Sprintf("%s: body real PD %q, sim/pd %q", name, trim(real.body), trim(sim.body)))
	}
	return diffs
}

func trim(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// regionChecks are the /regions/check/{kind} routes tikv-ear reads
// (cluster/pd RegionChecks; tikv/pd server/api/router.go).
var regionChecks = []string{"miss-peer", "extra-peer", "pending-peer", "down-peer", "learner-peer",
	"empty-region", "offline-peer", "oversized-region", "undersized-region"}

// readOnly are the GETs tikv-ear sends (cluster/pd api.go paths).
func readOnly() []exchange {
	ex := []exchange{
		{"GET", "/pd/api/v1/stores", ""},
		{"GET", "/pd/api/v1/stores?state=0&state=1&state=2", ""},
		{"GET", "/pd/api/v1/stores/check?state=up", ""},
		{"GET", "/pd/api/v1/store/1", ""},
		{"GET", "/pd/api/v1/store/999999", ""},
		{"GET", "/pd/api/v1/regions", ""},
		{"GET", "/pd/api/v1/regions/store/1", ""},
		{"GET", "/pd/api/v1/regions/store/999999", ""},
		{"GET", "/pd/api/v1/regions/store/x", ""},
		{"GET", "/pd/api/v1/schedulers", ""},
		{"GET", "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", ""},
		{"GET", "/pd/api/v1/config", ""},
		{"GET", "/pd/api/v1/config/schedule", ""},
		{"GET", "/pd/api/v1/config/replicate", ""},
		{"GET", "/pd/api/v1/members", ""},
		{"GET", "/pd/api/v1/leader", ""},
		{"GET", "/pd/api/v1/version", ""},
		{"GET", "/pd/api/v1/health", ""},
		{"GET", "/pd/api/v1/cluster", ""},
		{"GET", "/pd/api/v2/ready", ""},
	}
	for _, k := range regionChecks {
		ex = append(ex, exchange{"GET", "/pd/api/v1/regions/check/" + k, ""})
	}
	return ex
}

// writes are the scheduler and config changes tikv-ear makes, in order,
// each followed by the reads that show it.
func writes() []exchange {
	evict := func(id int) string { return fmt.Sprintf(`{"name":"evict-leader-scheduler","store_id":%d}`, id) }
	return []exchange{
		{"POST", "/pd/api/v1/schedulers", evict(999999)},
		{"DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-1", ""},
		{"POST", "/pd/api/v1/schedulers", evict(1)},
		{"GET", "/pd/api/v1/schedulers", ""},
		{"GET", "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", ""},
		{"POST", "/pd/api/v1/schedulers", evict(1)},
		{"POST", "/pd/api/v1/schedulers", evict(2)},
		{"POST", "/pd/api/v1/schedulers", evict(999999)},
		{"GET", "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", ""},
		{"DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-2", ""},
		{"DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-1", ""},
		{"DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-1", ""},
		{"GET", "/pd/api/v1/schedulers", ""},
		{"GET", "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", ""},
		{"POST", "/pd/api/v1/config", `{"leader-schedule-limit": 8}`},
		{"GET", "/pd/api/v1/config/schedule", ""},
		{"POST", "/pd/api/v1/config", `{"schedule.leader-schedule-limit": 4}`},
		{"GET", "/pd/api/v1/config", ""},
	}
}

func run(t *testing.T, realBase, simBase string, ex []exchange) []string {
	var diffs []string
	for _, e := range ex {
		diffs = append(diffs, compare(t, e, do(t, realBase, e), do(t, simBase, e))...)
	}
	return diffs
}

// TestRealPDConformance sends the requests tikv-ear sends to the real
// pd-server and to sim/pd, both before any store registered and with the
// same simulated stores joined, and requires the same status codes, the
// same error and message bodies, and JSON bodies of the same shape (keys and
// value types). No difference is excused: sim/pd is fixed instead.
func TestRealPDConformance(t *testing.T) {
	bin, err := realparts.Binary(realparts.PDServer)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string

	// Before any store registered: PD is not bootstrapped.
	fresh := realparts.MustStartPD(t, 1, realPDConfig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idle := pd.New(pd.Config{ClusterID: 1, Regions: 6, Version: DefaultVersion, NotBootstrapped: true}, clock.New(10), []pd.StoreSpec{{ID: 1, Address: "127.0.0.1:1"}})
	go idle.Run(ctx)
	idleURLs, err := idle.Serve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pre := append(readOnly(), exchange{"POST", "/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":1}`})
	diffs = append(diffs, run(t, fresh.Members[0].ClientURL, idleURLs[0], pre)...)

	// The same stores joined to each.
	opt := Options{Stores: 3, Zones: 3, Regions: 12, Speed: 10}
	simCl, err := Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer simCl.Close()
	opt.PDServer = bin
	realCl, err := Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer realCl.Close()
	waitLeaders(t, realCl, 12)
	realBase, simBase := realCl.PDURLs()[0], simCl.PDURLs()[0]
	diffs = append(diffs, run(t, realBase, simBase, readOnly())...)
	diffs = append(diffs, run(t, realBase, simBase, writes())...)
	t.Logf("%d requests compared before bootstrap, %d after", len(pre), len(readOnly())+len(writes()))
	slices.Sort(diffs)
	diffs = slices.Compact(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

// waitLeaders polls PD until the stores report n leaders in all and PD
// serves every store (node_state Serving, 1: a new store is Preparing, 0 and
// omitted, until PD's store check promotes it).
func waitLeaders(t *testing.T, c *Cluster, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		total := 0
		for _, s := range c.storeStates() {
			total += s.Leaders
		}
		var body struct {
			Stores []struct {
				Store struct {
					NodeState int `json:"node_state"`
				} `json:"store"`
			} `json:"stores"`
		}
		serving := getJSON(c.PDURLs()[0]+"/pd/api/v1/stores", &body) == nil && len(body.Stores) > 0
		for _, s := range body.Stores {
			serving = serving && s.Store.NodeState == 1
		}
		if total >= n && serving {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PD shows %d leaders, want %d", total, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRealConformanceComparatorSeesDifferences: the comparison itself finds
// a missing key, a type change, a status and a body difference.
func TestRealConformanceComparatorSeesDifferences(t *testing.T) {
	e := exchange{"GET", "/x", ""}
	got := compare(t, e, answer{200, []byte(`{"a":1,"b":{"c":"x"},"l":[{"k":1}]}`)}, answer{200, []byte(`{"a":"1","b":{},"l":[{"k":1,"j":2}]}`)})
	if len(got) != 3 {
		t.Errorf("shape differences: %q", got)
	}
	got = compare(t, e, answer{404, []byte(`"store 1 not found"`)}, answer{500, []byte(`"store 1 not found."`)})
	if len(got) != 2 {
		t.Errorf("status and body differences: %q", got)
	}
}
