package safetytest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTwoAppliesOneStarts: two applies of copies of one plan, started 0.3 s
// apart as separate processes, never both run: exactly one starts, the other
// is refused before preflight naming the holder (run id, pid, machine, start
// time) and journals nothing; no region loses its majority.
func TestTwoAppliesOneStarts(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	copyPlan := copyFile(t, plan, filepath.Join(dir, "plan-copy.toml"))

	first := start(t, "apply", plan, "--yes")
	time.Sleep(300 * time.Millisecond)
	second := start(t, "apply", copyPlan, "--yes")
	first.wait(t)
	second.wait(t)

	winner, loser := first, second
	loserPlan := copyPlan
	if first.code != 0 {
		winner, loser, loserPlan = second, first, plan
	}
	if winner.code != 0 {
		t.Fatalf("neither apply ran:\n%s\n%s", first, second)
	}
	if loser.code == 0 {
		t.Fatalf("both applies ran:\n%s\n%s", first, second)
	}
	for _, want := range []string{"held by run apply-", "pid ", "started ", "nothing changed"} {
		if !strings.Contains(loser.stderr.String(), want) {
			t.Errorf("the refused apply does not say %q:\n%s", want, loser)
		}
	}
	if strings.Contains(loser.stderr.String(), "preflight of") {
		t.Errorf("the refused apply got as far as preflight:\n%s", loser)
	}
	if runs := journalRuns(t, loserPlan+".journal"); len(runs) != 0 {
		t.Errorf("the refused apply journaled runs %v", runs)
	}
	assertSafe(t, cl, "after two concurrent applies")

	// The lease was released: a later run of the other copy starts and finds
	// every store already on the target.
	again := must(t, "apply", loserPlan, "--yes")
	if !strings.Contains(again.stderr.String(), "already running the target") {
		t.Errorf("the later apply did not verify and skip the stores:\n%s", again)
	}
	assertSafe(t, cl, "after the later apply")
}

// TestResumeRefusedWhileHolderLives: '--resume' of a run that is still going
// is refused naming the live holder; the run finishes untouched.
func TestResumeRefusedWhileHolderLives(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	first := start(t, "apply", plan, "--yes")
	waitJournal(t, plan+".journal", "stage", "done", first)
	resume := run(t, "apply", plan, "--resume", "--yes")
	if resume.code == 0 || !strings.Contains(resume.stderr.String(), "held by run apply-") || !strings.Contains(resume.stderr.String(), "alive") {
		t.Errorf("--resume during a live run was not refused naming the holder:\n%s", resume)
	}
	if first.wait(t) != 0 {
		t.Fatalf("the first run failed:\n%s", first)
	}
	assertSafe(t, cl, "after the refused resume")
}

// TestKilledRunLeaseAndLimit: a run killed with SIGKILL mid-rollout leaves its
// lease behind. Another copy of the plan is refused (the holder is dead; the
// hint names --break-lock) and, with --break-lock, runs and restores PD's
// leader-schedule-limit to the value before the killed run raised it, not to
// the raised value it finds (issue 18: 36 journaled as "the original").
func TestKilledRunLeaseAndLimit(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	copyPlan := copyFile(t, plan, filepath.Join(dir, "plan-copy.toml"))
	orig := limit(t, cl)

	first := start(t, "apply", plan, "--yes")
	waitJournal(t, plan+".journal", "schedule-limit", "started", first)
	waitJournal(t, plan+".journal", "swap", "done", first)
	first.cmd.Process.Kill()
	first.wait(t)
	if raised := limit(t, cl); raised == orig {
		t.Fatalf("the killed run had not raised leader-schedule-limit (%d)", raised)
	}

	refused := run(t, "apply", copyPlan, "--yes")
	if refused.code == 0 || !strings.Contains(refused.stderr.String(), "dead") || !strings.Contains(refused.stderr.String(), "--break-lock") {
		t.Fatalf("a copy of the plan ran over a dead holder's lease without --break-lock:\n%s", refused)
	}
	broke := run(t, "apply", copyPlan, "--yes", "--break-lock")
	if broke.code != 0 {
		t.Fatalf("--break-lock over a dead holder:\n%s", broke)
	}
	if got := limit(t, cl); got != orig {
		t.Errorf("leader-schedule-limit is %d after the run, want the original %d", got, orig)
	}
	assertSafe(t, cl, "after the broken lease's run")
}

// TestKilledRunResumes: the killed run's own '--resume' takes its dead lease
// over without --break-lock and finishes.
func TestKilledRunResumes(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	orig := limit(t, cl)
	first := start(t, "apply", plan, "--yes")
	waitJournal(t, plan+".journal", "swap", "done", first)
	first.cmd.Process.Kill()
	first.wait(t)
	must(t, "apply", plan, "--resume", "--yes")
	if got := limit(t, cl); got != orig {
		t.Errorf("leader-schedule-limit is %d after the resume, want %d", got, orig)
	}
	assertSafe(t, cl, "after resume")
}
