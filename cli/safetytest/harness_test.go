// Package safetytest is the concurrency and tampering suite of issue 18: it
// runs tikv-ear as separate processes (this test binary re-executed as the
// command) against one simulated cluster, reproduces the operator-side
// failures the issue lists, and asserts from the sim's quorum tracker and
// write ledger that no region lost its majority and no write was lost.
package safetytest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cli"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// mainEnv makes this test binary run as tikv-ear (a second process).
const mainEnv = "TIKV_EAR_SAFETYTEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], cli.SystemIO()))
	}
	os.Exit(m.Run())
}

// proc is one tikv-ear process.
type proc struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	code           int
}

// start runs tikv-ear args as its own process.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{args: args, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), mainEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting tikv-ear %v: %v", args, err)
	}
	go func() {
		defer close(p.done)
		err := p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if err != nil && p.code < 0 {
			p.code = -1
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit (at most 3 minutes) and returns its code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("tikv-ear %v did not finish:\n%s", p.args, p)
	}
	return p.code
}

func (p *proc) String() string {
	return fmt.Sprintf("tikv-ear %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(p.args, " "), p.code, p.stdout.String(), p.stderr.String())
}

// run runs tikv-ear to the end.
func run(t *testing.T, args ...string) *proc {
	t.Helper()
	p := start(t, args...)
	p.wait(t)
	return p
}

// must runs tikv-ear and fails the test unless it exits 0.
func must(t *testing.T, args ...string) *proc {
	t.Helper()
	p := run(t, args...)
	if p.code != 0 {
		t.Fatalf("%s", p)
	}
	return p
}

// startSim starts a small simulated cluster whose stores all serve.
func startSim(t *testing.T, stores int) *sim.Cluster {
	t.Helper()
	return startSimWith(t, sim.Options{Stores: stores})
}

// startSimWith starts a sim of o (3 zones, 60 regions, speed 50 unless set).
func startSimWith(t *testing.T, o sim.Options) *sim.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o.Zones, o.Regions, o.Speed, o.Dir = cmp.Or(o.Zones, 3), cmp.Or(o.Regions, 60), cmp.Or(o.Speed, 50), t.TempDir()
	cl, err := sim.Start(ctx, o)
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	deadline := time.Now().Add(30 * time.Second)
	for {
		up := true
		for _, n := range cl.Nodes() {
			up = up && n.Proc.Running()
		}
		if up {
			return cl
		}
		if time.Now().After(deadline) {
			t.Fatal("the simulated stores did not all start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// makePlan writes a staging plan with a file key for the sim into dir.
func makePlan(t *testing.T, cl *sim.Cluster, dir string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, "plan.toml")
	args := []string{"plan", "--sim", cl.Env().Dir, "--out-file", out, "--report-dir", filepath.Join(dir, "reports"),
		"--env", "staging", "--backend", "file", "--key-dir", filepath.Join(dir, "operator-keys"),
		"--poll", "100ms", "--evict-timeout", "20s", "--ready-timeout", "20s", "--settle-timeout", "20s", "--timeout", "5s"}
	must(t, append(args, extra...)...)
	return out
}

// copyFile copies a plan (an operator's second copy of it).
func copyFile(t *testing.T, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// assertSafe reads the sim's quorum tracker and write ledger: no region ever
// lost its live majority and no acknowledged write was lost.
func assertSafe(t *testing.T, cl *sim.Cluster, when string) {
	t.Helper()
	if cl.PD() == nil {
		assertRealPDClean(t, cl, when)
		return
	}
	if losses := cl.PD().QuorumLosses(); len(losses) > 0 {
		t.Errorf("%s: %d regions lost their majority, first: region %d with %d voters alive", when, len(losses), losses[0].RegionID, losses[0].AliveVoters)
	}
	if acked, lost := cl.PD().LedgerCheck(); lost > 0 {
		t.Errorf("%s: %d of %d acknowledged writes lost", when, lost, acked)
	}
	if ids := cl.PD().EvictSchedulerStores(); len(ids) > 0 {
		t.Errorf("%s: evict-leader schedulers left on stores %v", when, ids)
	}
}

// journalRuns returns the runs a journal records (none when it does not exist).
func journalRuns(t *testing.T, path string) []string {
	t.Helper()
	recs, err := steps.ReadJournal(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var runs []string
	for _, r := range recs {
		if len(runs) == 0 || runs[len(runs)-1] != r.Run {
			runs = append(runs, r.Run)
		}
	}
	return runs
}

// limit reads PD's leader-schedule-limit through the API.
func limit(t *testing.T, cl *sim.Cluster) int {
	t.Helper()
	c, err := pd.New(pd.Options{Endpoints: cl.PDURLs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n, err := steps.PDClient{C: c}.LeaderScheduleLimit(context.Background())
	if err != nil {
		t.Fatalf("reading leader-schedule-limit: %v", err)
	}
	return n
}

// waitJournal waits until the journal records step in state (a run under way).
func waitJournal(t *testing.T, path, step, state string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		recs, _ := steps.ReadJournal(path)
		for _, r := range recs {
			if r.Step == step && r.State == state {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("the run ended before its journal recorded %s/%s:\n%s", step, state, p)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("the journal never recorded %s/%s", step, state)
}

// editPlan loads a plan, lets edit change it and writes it to a new file.
func editPlan(t *testing.T, from, to string, edit func(*steps.Plan)) string {
	t.Helper()
	p, err := steps.LoadPlan(from)
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// configs returns every simulated store's tikv.toml.
func configs(t *testing.T, cl *sim.Cluster) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	for _, n := range cl.Nodes() {
		b, err := os.ReadFile(n.Paths.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		out[n.StoreID] = string(b)
	}
	return out
}

// unchanged fails the test when any store's tikv.toml changed.
func unchanged(t *testing.T, cl *sim.Cluster, before map[uint64]string, when string) {
	t.Helper()
	for id, b := range configs(t, cl) {
		if b != before[id] {
			t.Errorf("%s: store %d's tikv.toml changed", when, id)
		}
	}
}

// assertRealPDClean is what can be read with a real pd-server, whose regions
// the sim's quorum tracker and write ledger do not see (those invariants are
// unknown there, not passed): no evict-leader scheduler is left.
func assertRealPDClean(t *testing.T, cl *sim.Cluster, when string) {
	t.Helper()
	c, err := pd.New(pd.Options{Endpoints: cl.PDURLs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.EvictLeaderStores(context.Background())
	if err != nil || len(ids) > 0 {
		t.Errorf("%s: real PD evict-leader stores %v (err %v)", when, ids, err)
	}
	t.Logf("%s: the quorum tracker and write ledger do not run with a real pd-server: region majorities are unknown here (the in-process PD runs of this suite check them)", when)
}
