package ui_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

func TestEnableFlowConnectToReport(t *testing.T) {
	f := uitest.New(5)
	h := newHarness(t, f, prefilled())
	h.idle(ui.ScreenConnect)
	contains(t, h.view(), "Read-only so far", "5 stores", "zone-a", "v8.5.1", "plaintext", "step 1/8")

	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	contains(t, h.view(), "aes256-ctr", "(recommended)", "3100 MB/s", "5 of 5 stores run a TiKV version that has it", "needs TiKV built with static OpenSSL")
	h.press("down", "enter") // sm4-ctr is disabled
	if h.m.Screen() != ui.ScreenAlgorithm || h.m.Err() == nil || !strings.Contains(h.m.Err().Error(), "sm4-ctr is not available") {
		t.Fatalf("a disabled method was accepted: screen %s, err %v", h.m.Screen(), h.m.Err())
	}
	h.press("up", "right") // back to aes256-ctr, data keys every 14d
	h.press("enter")
	h.idle(ui.ScreenBackend)
	contains(t, h.view(), "AWS KMS", "refused for production")

	h.press("enter")
	h.focus("Key ID")
	h.press("enter")
	h.focus("Region")
	h.press("enter")
	h.until("preflight", func(m *ui.Model) bool { return strings.Contains(h.view(), "Preflight") && m.Busy() == "" })
	contains(t, h.view(), "2 pass", "1 warn", "0 fail", "tiup-managed")
	c := h.f.LastChoices()
	if c.Method != "aes256-ctr" || c.DataKeyRotation != "14d" || c.Backend != "aws" || c.BackendFields["key-id"] != "alias/tikv" || c.BackendFields["region"] != "us-east-1" {
		t.Fatalf("preflight got choices %+v", c)
	}

	h.press("enter")
	h.idle(ui.ScreenPlan)
	contains(t, h.view(), "5 stores", "canary", "serial batching", "diff 1/5", "+data-encryption-method = \"aes256-ctr\"", "on-evict-timeout"[:0])
	h.press("tab")
	contains(t, h.view(), "diff 2/5")
	h.press("s")
	h.until("save form", func(m *ui.Model) bool { return strings.Contains(h.view(), "Save the plan to") })
	h.press("enter")
	h.until("saved", func(m *ui.Model) bool { return strings.Contains(h.view(), "plan saved to plan.toml") })
	if got := h.f.Saved(); !slices.Equal(got, []string{"plan.toml"}) {
		t.Fatalf("saved %v", got)
	}

	h.press("enter")
	contains(t, h.view(), "Apply now?")
	h.press("n")
	if h.m.Screen() != ui.ScreenPlan || strings.Contains(h.view(), "Apply now?") {
		t.Fatal("n did not cancel the apply confirmation")
	}
	h.press("enter", "G", "y")
	if h.m.Screen() != ui.ScreenDashboard {
		t.Fatalf("y did not start the rollout: %s", h.m.Screen())
	}
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil && m.EventsSeen() == len(f.Events) })
	v := h.view()
	contains(t, v, "5/5 stores", "run finished: every store verified", "verified", "encryption is being enabled")
	if strings.Contains(v, "Read-only so far") {
		t.Error("the safe banner still shows after apply")
	}

	h.press("enter")
	h.idle(ui.ScreenVerify)
	contains(t, h.view(), "5 of 5 stores verified", "aes256-gcm", "ON DISK")
	h.press("enter")
	h.idle(ui.ScreenSchedule)
	contains(t, h.view(), "AWS KMS automatic key rotation", "every 365d · built into the key service", "systemd timer on this machine · every 365d\n")
	h.press("down")
	contains(t, h.view(), "./tikv-ear-rotate.timer")
	h.press("enter")
	h.idle(ui.ScreenReport)
	contains(t, h.view(), "Encryption at rest is on; 5 of 5 stores verified", "in  reports/", "    report.json       signed report", "    report.html       HTML view", "    report.dsse.json  signature bundle",
		"  cd reports\n  tikv-ear verify-report report.dsse.json")
	if s := h.f.ReportSchedule(); s == nil || s.ID != "systemd" {
		t.Fatalf("report got schedule %+v", s)
	}
	want := []string{"Journal", "Discover", "Algorithms", "Backends", "Preflight", "BuildPlan", "SavePlan", "Apply", "Verify", "ScheduleOptions", "WriteReport"}
	if got := h.f.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls\n got %v\nwant %v", got, want)
	}
	if err := h.m.Outcome(); err != nil {
		t.Fatalf("outcome %v", err)
	}
}

func TestEvictTimeoutDecisionAskedInline(t *testing.T) {
	f := uitest.New(3)
	f.AskAfter = 4
	f.Ask = &steps.Decision{ID: "evict-timeout-1", Question: "store 1 still has 20 leaders after 10m0s of eviction",
		Options: []string{steps.OnEvictWait, steps.OnEvictSkipEviction, steps.OnEvictAbort}, Default: steps.OnEvictAbort}
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("decision", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok && m.EventsSeen() == f.AskAfter+2 })
	contains(t, h.view(), "Decision:", "still has 20 leaders", "[3 abort (plan default)]")
	h.press("right") // wraps to wait
	contains(t, h.view(), "[1 wait]")
	h.press("2", "enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	if got := f.Decided(); !slices.Equal(got, []string{"skip-eviction by operator"}) {
		t.Fatalf("decided %v", got)
	}
	if _, ok := h.m.DecisionPending(); ok {
		t.Fatal("the decision is still shown after it was answered")
	}
}

func TestVerifyFailedDecisionRollback(t *testing.T) {
	f := uitest.New(3)
	f.AskAfter = 10
	f.Ask = &steps.Decision{ID: "verify-failed-1", Question: "store 1 did not reach the target: reading key.dict failed",
		Options: []string{steps.OnVerifyRollback, steps.OnVerifyAbort}, Default: steps.OnVerifyRollback}
	f.ApplyErr = errors.New("store 1 rolled back: reading key.dict failed")
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("decision", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok })
	contains(t, h.view(), "[1 rollback (plan default)]", "2 abort")
	h.press("enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	if got := f.Decided(); !slices.Equal(got, []string{"rollback by operator"}) {
		t.Fatalf("decided %v", got)
	}
	contains(t, h.view(), "run stopped: store 1 rolled back")
	if err := h.m.Outcome(); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("outcome %v", err)
	}
}

func TestAbortCancelsTheRollout(t *testing.T) {
	f := uitest.New(3)
	f.Hold = make(chan struct{}) // Apply waits after its events until cancelled
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("events", func(m *ui.Model) bool { return m.EventsSeen() == len(f.Events) })
	h.press("q")
	if h.m.Screen() != ui.ScreenDashboard {
		t.Fatal("q left the dashboard during a rollout")
	}
	contains(t, h.view(), "press a to abort safely")
	h.press("a")
	contains(t, h.view(), "Abort the rollout?")
	h.press("n")
	if strings.Contains(h.view(), "Abort the rollout?") {
		t.Fatal("n did not dismiss the abort question")
	}
	h.press("ctrl+c") // asks, like a
	contains(t, h.view(), "Abort the rollout?")
	h.press("n")
	h.press("a", "y")
	h.until("apply returned", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	_, err := h.m.Result()
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("apply error %v, want the cancellation", err)
	}
	if h.m.Outcome() == nil {
		t.Fatal("an aborted rollout reported success")
	}
}

func TestPauseKeyClosesTheGate(t *testing.T) {
	f := uitest.New(2)
	f.Hold = make(chan struct{})
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.press("p")
	h.until("paused view", func(m *ui.Model) bool { return strings.Contains(h.view(), "paused: the engine holds") })
	contains(t, h.view(), "p resume")
	h.press("p")
	if strings.Contains(h.view(), "paused: the engine holds") {
		t.Fatal("p did not resume")
	}
	close(f.Hold)
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
}

func TestProductionRefusesFileKey(t *testing.T) {
	h := newHarness(t, uitest.New(3), prefilled())
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	h.press("enter")
	h.idle(ui.ScreenBackend)
	h.press("down", "down", "down", "down", "enter")
	if h.m.Err() == nil || !strings.Contains(h.m.Err().Error(), "file is not available: refused for production") {
		t.Fatalf("file backend accepted in production: %v", h.m.Err())
	}
	if h.m.Screen() != ui.ScreenBackend {
		t.Fatalf("left the backend screen: %s", h.m.Screen())
	}
	h.press("esc")
	if h.m.Screen() != ui.ScreenAlgorithm {
		t.Fatalf("esc went to %s", h.m.Screen())
	}
}

func TestBlockingFindingsStopTheWizard(t *testing.T) {
	f := uitest.New(3)
	f.Disc.Findings = append(f.Disc.Findings, steps.Check{ID: "no-evict-scheduler", Status: steps.Fail, Message: "an evict-leader scheduler already covers store(s) 2", Fix: "run 'tikv-ear apply --abort plan.toml'"})
	h := newHarness(t, f, prefilled())
	h.idle(ui.ScreenConnect)
	contains(t, h.view(), "1 blocking finding(s)", "evict-leader scheduler already covers")
	h.press("enter")
	if h.m.Screen() != ui.ScreenConnect || h.m.Err() == nil {
		t.Fatalf("went on despite a blocking finding: %s", h.m.Screen())
	}
	f.Disc.Findings = f.Disc.Findings[:1] // fixed; rediscover
	h.press("r")
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
}

func TestConnectFormWithoutPrefill(t *testing.T) {
	f := uitest.New(3)
	h := newHarness(t, f, ui.Options{})
	h.focus("Environment")
	h.press("enter")
	h.focus("TiUP cluster name")
	h.press("enter")
	h.focus("PD endpoints")
	h.press("enter") // empty: refused
	h.until("validation", func(m *ui.Model) bool { return strings.Contains(h.view(), "give PD endpoints or a TiUP cluster name") })
	for _, r := range "pd-1:2379" {
		h.press(string(r))
	}
	h.press("enter")
	for _, f := range []string{"SSH user", "SSH identity file", "known_hosts file", "ssh_config file"} {
		h.focus(f)
		h.press("enter")
	}
	h.idle(ui.ScreenConnect)
	h.until("discovered", func(m *ui.Model) bool { return strings.Contains(h.view(), "3 stores") })
	contains(t, h.view(), "Cluster pd-1:2379")
}

func TestResumePrompt(t *testing.T) {
	f := uitest.New(3)
	f.Open = &ui.Unfinished{Run: "apply-17", Kind: steps.KindApply, Started: uitest.Base(), LastStep: "restart store 2", Done: 1, Total: 3, Evicted: []uint64{2}, Preview: f.Preview}
	h := newHarness(t, f, prefilled())
	h.idle(ui.ScreenResume)
	contains(t, h.view(), "An earlier run did not finish", "apply-17", "1 of 3 verified", "evict-leader scheduler still on store(s) 2", "r resume the run")
	h.press("r")
	if h.m.Screen() != ui.ScreenDashboard {
		t.Fatalf("r went to %s", h.m.Screen())
	}
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })

	f2 := uitest.New(3)
	f2.Open = f.Open
	h2 := newHarness(t, f2, prefilled())
	h2.idle(ui.ScreenResume)
	h2.press("x")
	h2.until("cleaned", func(m *ui.Model) bool { return m.Screen() == ui.ScreenConnect })
	if !slices.Contains(f2.Calls(), "AbortUnfinished") || slices.Contains(f2.Calls(), "Apply") {
		t.Fatalf("calls %v", f2.Calls())
	}
}

func TestRotateFlowWithIncident(t *testing.T) {
	f := uitest.New(3)
	opts := prefilled()
	opts.Rotate, opts.Incident = true, true
	h := newHarness(t, f, opts)
	h.idle(ui.ScreenConnect)
	contains(t, h.view(), "INCIDENT", "rotate the master key", "step 1/6")
	h.press("enter")
	h.idle(ui.ScreenPlan) // no algorithm or backend step: the plan's backend makes the new generation
	contains(t, h.view(), "new master key", "now      master-key = generation 1", "previous-master-key = generation 1",
		"1. create generation 2 in aws", "3. pass 2: previous-master-key removed", "enter rotate…")
	if strings.Contains(h.view(), "diff 1/") || strings.Contains(h.view(), "save plan.toml") {
		t.Errorf("a rotation preview shows diffs or offers to save the plan:\n%s", h.view())
	}
	h.press("enter")
	contains(t, h.view(), "Rotate now?", "This creates generation 2 in aws", "y rotate")
	h.press("esc")
	h.press("esc")
	if h.m.Screen() != ui.ScreenConnect {
		t.Fatalf("esc from the rotation preview went to %s, want Connect", h.m.Screen())
	}
	h.press("enter")
	h.idle(ui.ScreenPlan)
	h.press("enter", "G", "y")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil && m.EventsSeen() == len(f.Events) })
	contains(t, h.view(), "INCIDENT", "timeline")
	if c := f.LastChoices(); !c.Rotate || !c.Incident || c.Method != "" {
		t.Fatalf("choices %+v", c)
	}
}

// Every screen fits every size: no line wider than the terminal, exactly its height.
func TestLayoutsNeverOverflow(t *testing.T) {
	f := uitest.New(40)
	f.Ask = &steps.Decision{ID: "evict-timeout-1", Question: strings.Repeat("a long question ", 12), Options: []string{"wait", "skip-eviction", "abort"}, Default: "abort"}
	f.AskAfter = 30
	h := newHarness(t, f, prefilled())
	sizes := [][2]int{{80, 24}, {100, 30}, {160, 48}, {60, 16}}
	check := func(where string) {
		for _, s := range sizes {
			h.size(s[0], s[1])
			v := h.m.View().Content
			lines := strings.Split(v, "\n")
			if len(lines) != s[1] {
				t.Errorf("%s at %dx%d: %d lines", where, s[0], s[1], len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > s[0] {
					t.Errorf("%s at %dx%d: line %d is %d wide: %q", where, s[0], s[1], i, w, ansi.Strip(l))
				}
			}
		}
		h.size(80, 24)
	}
	h.idle(ui.ScreenConnect)
	check("connect")
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	check("algorithm")
	h.press("enter")
	h.idle(ui.ScreenBackend)
	h.press("enter")
	h.focus("Key ID")
	check("backend form")
	h.press("enter")
	h.focus("Region")
	h.press("enter")
	h.until("preflight", func(m *ui.Model) bool { return strings.Contains(h.view(), "Preflight") && m.Busy() == "" })
	check("preflight")
	h.press("enter")
	h.idle(ui.ScreenPlan)
	check("plan")
	h.press("enter", "G", "y")
	h.until("decision", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok && m.EventsSeen() == f.AskAfter+2 })
	check("dashboard with decision")
	h.press("d")
	check("dashboard details")
	h.press("enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	h.press("enter")
	h.idle(ui.ScreenVerify)
	check("verify")
}

func TestDiscoverErrorKeepsTheWayBack(t *testing.T) {
	f := uitest.New(3)
	f.DiscoverErr = errors.New("reading stores from PD http://127.0.0.1:2379: connection refused")
	h := newHarness(t, f, prefilled())
	h.idle(ui.ScreenConnect)
	contains(t, h.view(), "connection refused", "e enter settings")
	h.press("enter") // nothing discovered: enter opens the settings
	h.focus("Environment")
	h.press("esc")
	f.DiscoverErr = nil
	h.press("r")
	h.idle(ui.ScreenConnect)
	contains(t, h.view(), "3 stores")
}
