package safetytest

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/sim"
)

// TestAbortPutsBackUnrestartedConfig: a run killed (SIGKILL) after swapping a
// store's tikv.toml but before restarting it, then '--abort': the store still
// runs its old config, so its previous tikv.toml is put back and the next
// unplanned restart cannot switch it to a config the run never verified.
func TestAbortPutsBackUnrestartedConfig(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	before := configs(t, cl)
	// Leaders never leave: the run swaps the canary's config and waits in eviction.
	if err := cl.Inject(sim.Fault{Kind: sim.FaultEvictionStuck}); err != nil {
		t.Fatal(err)
	}
	first := start(t, "apply", plan, "--yes")
	waitJournal(t, plan+".journal", "swap", "done", first)
	first.cmd.Process.Kill()
	first.wait(t)
	if err := cl.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Off: true}); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for id, c := range configs(t, cl) {
		if c != before[id] {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("the killed run had swapped no config")
	}
	r := must(t, "apply", plan, "--abort", "--yes")
	if !strings.Contains(r.stderr.String(), "is back in place") {
		t.Errorf("abort does not say it put a config back:\n%s", r)
	}
	unchanged(t, cl, before, "after --abort")
	assertSafe(t, cl, "after --abort")
}
