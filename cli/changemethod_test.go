package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// cancelOn is a writer that cancels a context once what was written contains
// a marker: the operator pressing Ctrl-C at a known point of the run.
type cancelOn struct {
	keBuffer
	marker string
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.keBuffer.Write(p)
	if strings.Contains(c.String(), c.marker) {
		c.once.Do(c.cancel)
	}
	return n, err
}

// TestChangeMethodInterruptedLeavesThePlanAndSaysHowToGoOn interrupts a
// change-method during its first restart (issue 15): plan.toml still names
// the method the cluster had, no plan.toml.lock is left behind, the output is
// one clear line (no "context canceled") with a resume hint that works.
func TestChangeMethodInterruptedLeavesThePlanAndSaysHowToGoOn(t *testing.T) {
	cl := disableStartSim(t)
	keWait(t, "PD to see every store Up", func() bool {
		for _, s := range cl.Stores() {
			if s.State != "Up" {
				return false
			}
		}
		return true
	})
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	keMust(t, kePlanArgs(cl, dir, "--env", "staging", "--backend", "file", "--key-dir", filepath.Join(t.TempDir(), "keys"))...)
	keMust(t, "apply", plan, "--yes")
	before := keLoadPlan(t, plan).Target.Method
	if before == tikv.MethodAES128CTR {
		t.Fatalf("the test needs a plan whose method is not %s", tikv.MethodAES128CTR)
	}

	// Without --yes and without a terminal, the same refusal as apply and rotate.
	if r := keRun(t, "change-method", plan, "--to", tikv.MethodAES128CTR); r.code != ExitUsage || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("change-method without --yes or a terminal: want exit 2 and the confirmation hint\n%s", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errb := &cancelOn{marker: "▸ restart", cancel: cancel}
	out := &keBuffer{}
	args := []string{"change-method", plan, "--to", tikv.MethodAES128CTR, "--yes"}
	code := MainContext(ctx, args, IO{In: strings.NewReader(""), Out: out, Err: errb, Getenv: func(string) string { return "" }})
	r := keResult{args: args, code: code, stdout: out.String(), stderr: errb.String()}
	if code != ExitAborted {
		t.Fatalf("interrupted change-method: want exit %d\n%s", ExitAborted, r)
	}
	if got := keLoadPlan(t, plan).Target.Method; got != before {
		t.Errorf("plan.toml names method %s after an interrupted change-method; want %s until the run completes", got, before)
	}
	if _, err := os.Stat(plan + ".lock"); !os.IsNotExist(err) {
		t.Errorf("%s.lock is left behind (stat: %v)", plan, err)
	}
	if strings.Contains(r.stderr, "context canceled") {
		t.Errorf("the output says \"context canceled\"; want one line saying the run was interrupted\n%s", r)
	}
	if n := strings.Count(r.stderr, "tikv-ear: error:"); n != 1 {
		t.Errorf("want exactly one error line, got %d\n%s", n, r)
	}
	resume := "tikv-ear change-method " + plan + " --to " + tikv.MethodAES128CTR + " --resume"
	if !strings.Contains(r.stderr, resume) || !strings.Contains(r.stderr, "--abort") {
		t.Fatalf("no resume hint %q and abort hint\n%s", resume, r)
	}
	// The interrupted run may have restarted store 1 with the new config and
	// it may still be starting: the resume would then refuse, naming it
	// ("cannot resume yet", resumecheck.go). An operator waits for what the
	// error's hint says, every store Up, as here.
	keWait(t, "every store to serve and PD to see it Up after the interruption", func() bool {
		for _, n := range cl.Nodes() {
			if !n.Proc.Running() {
				return false
			}
		}
		for _, s := range cl.Stores() {
			if s.State != "Up" {
				return false
			}
		}
		return true
	})
	// The hint works: the resumed run finishes, and only then the plan names the new method.
	again := keMust(t, append(strings.Fields(strings.TrimPrefix(resume, "tikv-ear ")), "--yes")...)
	// The headless output ends with the run's summary (steps.RunSummary).
	for _, want := range []string{"summary: change-method finished in ", " batches", "warnings accepted: ", "decisions: ", "report: " + filepath.Join(dir, "reports")} {
		if !strings.Contains(again.stderr, want) {
			t.Errorf("the resumed run's output lacks the summary's %q\n%s", want, again)
		}
	}
	if got := keLoadPlan(t, plan).Target.Method; got != tikv.MethodAES128CTR {
		t.Errorf("after the resumed run plan.toml names %s; want %s", got, tikv.MethodAES128CTR)
	}
	keVerify(t, plan)
}
