//go:build realparts

package e2e

import (
	"bytes"
	"context"
	"syscall"
	"testing"
)

// TestRealApplyZoneRotateIncidentDisable: apply by zone, rotate, rotate
// --incident and disable, each against the real PD, on one cluster.
func TestRealApplyZoneRotateIncidentDisable(t *testing.T) {
	e := start(t, 1, "zone")
	limit := e.leaderScheduleLimit()
	e.must("apply", e.plan, "--yes")
	e.assertClean("after apply (zone)", limit)
	e.verify()
	e.must("rotate", e.plan, "--yes")
	e.assertClean("after rotate", limit)
	e.verify()
	e.must("rotate", e.plan, "--yes", "--incident")
	e.assertClean("after rotate --incident", limit)
	e.verify()
	e.must("disable", e.plan, "--yes")
	e.assertClean("after disable", limit)
}

// TestRealPDLeaderKilledMidRun: with three PD members, the leader is killed
// (SIGKILL) while the run evicts leaders; PD elects another and the run
// finishes (or is resumed) with everything clean.
func TestRealPDLeaderKilledMidRun(t *testing.T) {
	e := start(t, 3, "zone")
	limit := e.leaderScheduleLimit()
	run := e.cmd("apply", e.plan, "--yes")
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitEvicting()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	old, err := e.c.RealPD().WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old.Kill()
	next, err := e.c.RealPD().WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PD leader %s killed; %s leads", old.Name, next.Name)
	if err := run.Wait(); err != nil {
		t.Logf("apply ended with %v after the PD leader was killed; resuming\n%s", err, tail(out.Bytes()))
		e.must("apply", e.plan, "--yes", "--resume")
	}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	e.assertClean("after the PD leader was killed mid-run", limit)
	e.verify()
}

// killMidRun starts apply and kills it with SIGKILL while it evicts leaders.
func (e *env) killMidRun() {
	e.t.Helper()
	run := e.cmd("apply", e.plan, "--yes")
	if err := run.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.waitEvicting()
	_ = run.Process.Signal(syscall.SIGKILL)
	_ = run.Wait()
}

// TestRealSIGKILLResume: the binary is killed with SIGKILL while it evicts
// leaders; apply --resume finishes the job.
func TestRealSIGKILLResume(t *testing.T) {
	e := start(t, 1, "zone")
	limit := e.leaderScheduleLimit()
	e.killMidRun()
	e.must("apply", e.plan, "--yes", "--resume")
	e.assertClean("after SIGKILL and resume", limit)
	e.verify()
}

// TestRealSIGKILLAbort: the binary is killed with SIGKILL while it evicts
// leaders; apply --abort leaves PD as it found it.
func TestRealSIGKILLAbort(t *testing.T) {
	e := start(t, 1, "zone")
	limit := e.leaderScheduleLimit()
	e.killMidRun()
	e.must("apply", e.plan, "--yes", "--abort")
	e.assertClean("after SIGKILL and abort", limit)
}
