package steps_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// buildCLI builds the tikv-ear binary into dir.
func buildCLI(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tikv-ear")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/tikv-ear/tikv-ear")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cliEnv is a sim started in this process and driven by the tikv-ear binary.
type cliEnv struct {
	t    *testing.T
	bin  string
	dir  string // the binary's working directory (reports go here)
	sim  *simEnv
	plan string
}

func newCLIEnv(t *testing.T, bin string) *cliEnv {
	return newCLIEnvEvicting(t, bin, "60s")
}

// newCLIEnvEvicting is newCLIEnv with the plan's evict-timeout.
func newCLIEnvEvicting(t *testing.T, bin, evictTimeout string) *cliEnv {
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: steps.BatchZone, Canary: 1})
	c := &cliEnv{t: t, bin: bin, dir: t.TempDir(), sim: e}
	c.plan = filepath.Join(c.dir, "plan.toml")
	out, err := c.cmd("plan", "--sim", e.c.Options().Dir, "--env", "staging", "--backend", "file", "--out-file", c.plan,
		"--evict-timeout", evictTimeout, "--poll", "50ms", "--report-dir", filepath.Join(c.dir, "reports")).CombinedOutput()
	if err != nil {
		t.Fatalf("tikv-ear plan: %v\n%s", err, out)
	}
	return c
}

func (c *cliEnv) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

// applyUntilKilled runs 'apply --output json' and SIGKILLs it when a store of
// the first two-store batch starts its restart: both stores of the batch hold
// a scheduler then.
func (c *cliEnv) applyUntilKilled() {
	c.applyUntil(func(ev steps.Event) bool {
		return ev.Kind == steps.StepStarted && ev.Step == steps.StepRestart && ev.Batch == 3
	})
}

// applyUntil runs 'apply --output json' and SIGKILLs it at the first event kill accepts.
func (c *cliEnv) applyUntil(kill func(steps.Event) bool) {
	t := c.t
	cmd := c.cmd("apply", c.plan, "--yes", "--output", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev steps.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("apply --output json wrote a line that is not an event: %q", sc.Text())
		}
		if kill(ev) {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
			break
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("apply ended before a two-store batch restarted; stderr:\n%s", stderr.String())
	}
}

// unfinished reads the journal's last run.
func (c *cliEnv) lastRun() steps.RunState {
	recs, err := steps.ReadJournal(c.plan + ".journal")
	if err != nil {
		c.t.Fatal(err)
	}
	last, ok := steps.LastRun(recs)
	if !ok {
		c.t.Fatal("the journal records no run")
	}
	return last
}

// TestSIGKILLMidBatch kills 'tikv-ear apply' while a zone batch is in flight,
// then checks both ways out: --resume completes the rollout, --abort leaves
// the cluster with no scheduler and every store bootable.
func TestSIGKILLMidBatch(t *testing.T) {
	bin := buildCLI(t, t.TempDir())

	t.Run("resume", func(t *testing.T) {
		c := newCLIEnv(t, bin)
		c.applyUntilKilled()
		last := c.lastRun()
		if last.Finished || len(last.Evicted) == 0 {
			t.Fatalf("journal after SIGKILL: finished=%v evicted=%v; want an unfinished run holding schedulers", last.Finished, last.Evicted)
		}
		if len(c.sim.c.PD().EvictSchedulerStores()) == 0 {
			t.Fatal("no scheduler in PD after the kill; the test did not kill mid-batch")
		}
		// A plain apply refuses to start over an unfinished run.
		out, err := c.cmd("apply", c.plan, "--yes").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--resume") {
			t.Fatalf("apply over an unfinished run: %v\n%s", err, out)
		}
		out, err = c.cmd("apply", c.plan, "--resume", "--yes").CombinedOutput()
		if err != nil {
			t.Fatalf("apply --resume: %v\n%s", err, out)
		}
		ctx := context.Background()
		c.sim.assertSafe(ctx, "after --resume")
		if !c.lastRun().Finished {
			t.Error("the journal does not record the end of the resumed run")
		}
		for _, n := range c.sim.plan.Nodes {
			running, err := c.sim.nodes[n.StoreID].Status.Config(ctx)
			if err != nil || running.EffectiveMethod() != tikv.MethodAES256CTR || running.MasterKey.EffectiveType() != tikv.MasterKeyFile {
				t.Errorf("store %d after --resume runs %+v (err %v), want aes256-ctr with a file master key", n.StoreID, running, err)
			}
		}
	})

	t.Run("abort", func(t *testing.T) {
		c := newCLIEnv(t, bin)
		c.applyUntilKilled()
		out, err := c.cmd("apply", c.plan, "--abort", "--yes").CombinedOutput()
		if err != nil {
			t.Fatalf("apply --abort: %v\n%s", err, out)
		}
		ctx := context.Background()
		c.sim.assertSafe(ctx, "after --abort")
		if !c.lastRun().Finished {
			t.Error("the journal does not record the aborted run as ended")
		}
		c.sim.assertBootable("after --abort")
	})
}

// TestResumeAfterAKillBetweenSwapAndRestart: apply is killed after store 2's
// new config was written but before store 2 restarted (its leaders would not
// move), so store 2 runs its old config with the new one on disk. The resumed
// run fails at store 2 again (eviction timed out, policy abort): store 2 must
// be left with its original tikv.toml, not with the new config an unplanned
// restart would take (issue 18's hazard, reached through --resume).
func TestResumeAfterAKillBetweenSwapAndRestart(t *testing.T) {
	bin := buildCLI(t, t.TempDir())
	c := newCLIEnvEvicting(t, bin, "3s")
	ctx := context.Background()
	const store = 2 // batch 3 of the 6-store, 3-zone plan: [1] [4] [2 5] [3 6]
	n, _ := c.sim.plan.Node(store)
	original, _, err := c.sim.nodes[store].ReadFile(ctx, n.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	stuck := sim.Fault{Kind: sim.FaultEvictionStuck, Node: store}
	if err := c.sim.c.Inject(stuck); err != nil {
		t.Fatal(err)
	}
	c.applyUntil(func(ev steps.Event) bool {
		return ev.Kind == steps.StepDone && ev.Step == steps.StepSwap && ev.StoreID == store
	})
	if now, _, err := c.sim.nodes[store].ReadFile(ctx, n.ConfigPath); err != nil || string(now) == string(original) {
		t.Fatalf("store %d's config was not swapped before the kill (err %v)", store, err)
	}
	out, err := c.cmd("apply", c.plan, "--resume", "--yes").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "eviction timed out") {
		t.Fatalf("apply --resume with store %d's leaders stuck: %v; want its eviction to time out\n%s", store, err, out)
	}
	if now, _, err := c.sim.nodes[store].ReadFile(ctx, n.ConfigPath); err != nil || string(now) != string(original) {
		t.Errorf("store %d was never restarted, but after the resumed run its config is not the original (err %v):\n%s\n%s", store, err, now, out)
	}
	stuck.Off = true
	if err := c.sim.c.Inject(stuck); err != nil {
		t.Fatal(err)
	}
	c.sim.assertSafe(ctx, "after the resumed run")
	c.sim.assertBootable("after the resumed run")
}
