//go:build realparts

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/sim"
)

// notSettled begins the engine's warning when a batch's settle times out
// (steps.Runner.settle).
const notSettled = "not settled after"

// bin is the tikv-ear binary TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tikv-ear-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "tikv-ear")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tikv-ear/tikv-ear").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// deadline bounds every wait: generous, since the tests assert outcomes,
// never how long they took.
const deadline = 5 * time.Minute

// env is a sim on a real pd-server and a working directory for the binary.
type env struct {
	t    testing.TB
	c    *sim.Cluster
	dir  string
	plan string
	// batching is the plan's --batching.
	batching string
	// gone is the store deliberately made Offline or Tombstone (0: none):
	// assertClean does not ask it to be Up.
	gone uint64
}

// start runs a 6-store sim on real PD and writes a plan (extra plan flags
// after the defaults, so they win).
func start(t *testing.T, members int, batching string, extra ...string) *env {
	t.Helper()
	return startSized(t, size{Stores: 6, Zones: 3, Regions: 60}, members, batching, extra...)
}

// size is the sim's shape: stores, zones and regions.
type size struct{ Stores, Zones, Regions int }

// startSized is start for any shape (the tests use 6 stores, the benchmark
// 30); members 0 runs the sim's in-process PD instead of real members (the
// benchmark's comparison).
func startSized(t testing.TB, sz size, members int, batching string, extra ...string) *env {
	t.Helper()
	var pdBin string
	if members > 0 {
		var err error
		if pdBin, err = realparts.Binary(realparts.PDServer); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	simDir := filepath.Join(t.TempDir(), "sim")
	c, err := sim.Start(ctx, sim.Options{Stores: sz.Stores, Zones: sz.Zones, Regions: sz.Regions, Speed: 10, Dir: simDir, PDServer: pdBin, PDMembers: members})
	if err != nil {
		t.Fatalf("starting the sim (%d real PD members): %v", members, err)
	}
	t.Cleanup(c.Close)
	e := &env{t: t, c: c, dir: t.TempDir()}
	e.plan = filepath.Join(e.dir, "plan.toml")
	// sim.Start has waited for PD to see every region led and healthy.
	e.batching = batching
	e.writePlan(extra...)
	return e
}

// writePlan runs tikv-ear plan against the sim (again: PD's stores now).
func (e *env) writePlan(extra ...string) {
	e.t.Helper()
	e.must(e.planArgs(extra...)...)
}

// planArgs is the plan command writePlan runs.
func (e *env) planArgs(extra ...string) []string {
	args := []string{"plan", "--sim", e.c.Options().Dir, "--env", "staging", "--backend", "file", "--out-file", e.plan, "--batching", e.batching,
		"--evict-timeout", "3m", "--ready-timeout", "2m", "--settle-timeout", "3m", "--poll", "200ms",
		"--report-dir", filepath.Join(e.dir, "reports")}
	return append(args, extra...)
}

func (e *env) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

// must runs the binary and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	began := time.Now()
	out, err := e.cmd(args...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("tikv-ear %s: %v (whole output: %s)\n%s", strings.Join(args, " "), err, keep(out), tail(out))
	}
	// A settle that waits out its timeout means the engine waits for
	// something real PD never does (issue 12: leaders PD's balance-leader
	// will not move back).
	if strings.Contains(string(out), notSettled) {
		e.t.Errorf("tikv-ear %s: a settle timed out on the real PD:\n%s", strings.Join(args, " "), tail(out))
	}
	e.t.Logf("tikv-ear %s: ok in %s", args[0], time.Since(began).Round(time.Second))
	return string(out)
}

// keep writes a failed command's whole output where it outlives the test's
// temporary directories, and returns the path.
func keep(b []byte) string {
	f, err := os.CreateTemp("", "tikv-ear-e2e-*.log")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return err.Error()
	}
	return f.Name()
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// pdURLs are the client URLs of the PD members running now (a killed
// leader's is left out), or the in-process PD's.
func (e *env) pdURLs() []string {
	if e.c.RealPD() == nil {
		return e.c.PDURLs()
	}
	var urls []string
	for _, m := range e.c.RealPD().Members {
		if m.Running() {
			urls = append(urls, m.ClientURL)
		}
	}
	return urls
}

// pdGet reads a PD route from whichever member answers (a killed leader
// does not).
func (e *env) pdGet(path string, v any) (int, error) {
	var last error
	for _, u := range e.pdURLs() {
		resp, err := http.Get(u + path)
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			last = fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
			continue
		}
		if v != nil && resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, v); err != nil {
				return resp.StatusCode, fmt.Errorf("decoding %s: %w", path, err)
			}
		}
		return resp.StatusCode, nil
	}
	return 0, last
}

// PD's JSON (tikv/pd pkg/response/store.go StoreInfo, region.go RegionInfo).
type pdStores struct {
	Stores []struct {
		Store struct {
			ID        uint64 `json:"id"`
			StateName string `json:"state_name"`
		} `json:"store"`
		Status struct {
			LeaderCount int `json:"leader_count"`
		} `json:"status"`
	} `json:"stores"`
}

type pdRegions struct {
	Regions []struct {
		ID    uint64 `json:"id"`
		Peers []struct {
			StoreID  uint64 `json:"store_id"`
			RoleName string `json:"role_name"`
		} `json:"peers"`
	} `json:"regions"`
}

func (e *env) waitFor(what string, cond func() (bool, string)) {
	e.t.Helper()
	end := time.Now().Add(deadline)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(end) {
			e.t.Fatalf("waiting for %s: last seen %s", what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHealthy waits until PD sees every region led and its region checks
// that preflight blocks on are empty (sim.Cluster.RegionsUnsettled).
func (e *env) waitHealthy() {
	e.waitFor("healthy regions", func() (bool, string) {
		why := e.c.RegionsUnsettled()
		return why == "", why
	})
}

// leaderScheduleLimit reads schedule.leader-schedule-limit.
func (e *env) leaderScheduleLimit() float64 {
	e.t.Helper()
	var sc map[string]any
	if _, err := e.pdGet("/pd/api/v1/config/schedule", &sc); err != nil {
		e.t.Fatal(err)
	}
	v, ok := sc["leader-schedule-limit"].(float64)
	if !ok {
		e.t.Fatalf("leader-schedule-limit is %v", sc["leader-schedule-limit"])
	}
	return v
}

// assertClean checks, from PD's own API, what every exit must leave: no
// evict-leader scheduler, leader-schedule-limit as it was, every store Up,
// and every region with a majority of its voters on live stores.
func (e *env) assertClean(when string, limit float64) {
	e.t.Helper()
	var names []string
	if _, err := e.pdGet("/pd/api/v1/schedulers", &names); err != nil {
		e.t.Fatalf("%s: schedulers: %v", when, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "evict-leader-scheduler") {
			e.t.Errorf("%s: %s is left in PD", when, n)
		}
	}
	if got := e.leaderScheduleLimit(); got != limit {
		e.t.Errorf("%s: leader-schedule-limit is %v, want it restored to %v", when, got, limit)
	}
	up := map[uint64]bool{}
	e.waitFor(when+": every store Up", func() (bool, string) {
		var s pdStores
		if _, err := e.pdGet("/pd/api/v1/stores", &s); err != nil {
			return false, err.Error()
		}
		clear(up)
		var down []string
		for _, st := range s.Stores {
			if st.Store.ID == e.gone {
				continue
			}
			if st.Store.StateName == "Up" {
				up[st.Store.ID] = true
			} else {
				down = append(down, fmt.Sprintf("%d:%s", st.Store.ID, st.Store.StateName))
			}
		}
		want := len(e.c.Nodes())
		if e.gone != 0 {
			want-- // PD lists a Tombstone store only with ?state=2 (an Offline one always)
		}
		return len(down) == 0 && len(up) == want, fmt.Sprint(down)
	})
	var r pdRegions
	if _, err := e.pdGet("/pd/api/v1/regions", &r); err != nil {
		e.t.Fatalf("%s: regions: %v", when, err)
	}
	if len(r.Regions) == 0 {
		e.t.Fatalf("%s: PD knows no region", when)
	}
	for _, reg := range r.Regions {
		voters, live := 0, 0
		for _, p := range reg.Peers {
			if p.RoleName != "Voter" && p.RoleName != "IncomingVoter" {
				continue
			}
			voters++
			if up[p.StoreID] {
				live++
			}
		}
		if 2*live <= voters {
			e.t.Errorf("%s: region %d has %d of %d voters on live stores", when, reg.ID, live, voters)
		}
	}
}

// waitEvicting waits until PD shows an evict-leader scheduler: the run is
// in its rolling restart.
func (e *env) waitEvicting() {
	e.waitFor("an evict-leader scheduler", func() (bool, string) {
		var names []string
		if _, err := e.pdGet("/pd/api/v1/schedulers", &names); err != nil {
			return false, err.Error()
		}
		for _, n := range names {
			if strings.HasPrefix(n, "evict-leader-scheduler") {
				return true, ""
			}
		}
		return false, fmt.Sprint(names)
	})
}

func (e *env) verify() {
	e.t.Helper()
	e.must("verify", "--sim", e.c.Options().Dir)
}

// TestRealApplySerial: apply one store at a time against the real PD. With
// six stores and one canary, batches 3 to 6 evict ahead: the real PD moves a
// store's leaders away while the store before it restarts, and every
// scheduler is gone, the limit restored and every region whole after.
func TestRealApplySerial(t *testing.T) {
	e := start(t, 1, "serial")
	limit := e.leaderScheduleLimit()
	out := e.must("apply", e.plan, "--yes")
	if !strings.Contains(out, "batch 3 (1 store(s), zone z2): moving its leaders away while batch 2 restarts") {
		t.Errorf("the serial apply did not evict batch 3 ahead on the real PD:\n%s", out)
	}
	e.assertClean("after apply (serial)", limit)
	e.verify()
}
