//go:build realparts

package safetytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/sim"
)

// realSim starts the sim with a real pd-server member (internal/realparts),
// failing, never skipping, when the binary is missing. sim.Start returns once
// PD sees every region led and its region checks empty, so the plan made
// next is not refused for a fresh cluster's pending peers.
func realSim(t *testing.T) *sim.Cluster {
	t.Helper()
	bin, err := realparts.Binary(realparts.PDServer)
	if err != nil {
		t.Fatal(err)
	}
	cl := startSimWith(t, sim.Options{Stores: 3, PDServer: bin, PDMembers: 1})
	// The stores' PD sessions log their errors and refusals there; a failed
	// test shows them before the temporary directory goes.
	t.Cleanup(func() {
		if t.Failed() {
			b, err := os.ReadFile(filepath.Join(cl.Options().Dir, sim.RealPDLogFile))
			t.Logf("%s (err %v):\n%s", sim.RealPDLogFile, err, b)
		}
	})
	return cl
}

// TestRealTwoAppliesOneStarts is TestTwoAppliesOneStarts against a real
// pd-server: the lease's PD side (evict-leader schedulers, the original
// leader-schedule-limit) is read from the real API.
func TestRealTwoAppliesOneStarts(t *testing.T) {
	cl := realSim(t)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	copyPlan := copyFile(t, plan, filepath.Join(dir, "plan-copy.toml"))
	orig := limit(t, cl)
	first := start(t, "apply", plan, "--yes")
	time.Sleep(300 * time.Millisecond)
	second := start(t, "apply", copyPlan, "--yes")
	first.wait(t)
	second.wait(t)
	if (first.code == 0) == (second.code == 0) {
		t.Fatalf("want exactly one apply to run:\n%s\n%s", first, second)
	}
	loser := first
	if first.code == 0 {
		loser = second
	}
	if !strings.Contains(loser.stderr.String(), "held by run apply-") {
		t.Errorf("the refused apply does not name the holder:\n%s", loser)
	}
	if got := limit(t, cl); got != orig {
		t.Errorf("leader-schedule-limit %d after the run, want %d", got, orig)
	}
	assertSafe(t, cl, "after two concurrent applies on a real PD")
}

// TestRealKilledRunLeaseAndLimit is TestKilledRunLeaseAndLimit against a real pd-server.
func TestRealKilledRunLeaseAndLimit(t *testing.T) {
	cl := realSim(t)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	copyPlan := copyFile(t, plan, filepath.Join(dir, "plan-copy.toml"))
	orig := limit(t, cl)
	first := start(t, "apply", plan, "--yes")
	waitJournal(t, plan+".journal", "schedule-limit", "started", first)
	first.cmd.Process.Kill()
	first.wait(t)
	refused := run(t, "apply", copyPlan, "--yes")
	if refused.code == 0 || !strings.Contains(refused.stderr.String(), "--break-lock") {
		t.Fatalf("a copy ran over a dead holder's lease:\n%s", refused)
	}
	must(t, "apply", copyPlan, "--yes", "--break-lock")
	if got := limit(t, cl); got != orig {
		t.Errorf("leader-schedule-limit %d after the run, want the original %d", got, orig)
	}
	assertSafe(t, cl, "after the broken lease's run on a real PD")
}
