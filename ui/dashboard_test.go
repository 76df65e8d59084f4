package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// At 80 columns the metrics pane is one key away (m); a sample read before
// the store's restart is marked stale, and the verify step's sample (after
// the restart) replaces it: a verified store never shows
// tikv_encryption_is_initialized 0.
func TestDashboardMetricsRefreshAfterRestart(t *testing.T) {
	f := uitest.New(3)
	// Hold after the first store's restart: only the eviction's sample is known.
	cut := 0
	for i, e := range f.Events {
		if e.Kind == steps.StepDone && e.Step == steps.StepRestart {
			cut = i + 1
			break
		}
	}
	all := f.Events
	f.Events = all[:cut]
	f.Hold = make(chan struct{})
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("restart", func(m *ui.Model) bool { return m.EventsSeen() == cut })
	h.press("m")
	contains(t, h.view(), "store 1 metrics", "in evict: before the restart, stale", "tikv_encryption_is_initialized 0", "elapsed")
	h.press("a", "y")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })

	f = uitest.New(3)
	h = newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil && m.EventsSeen() == len(f.Events) })
	h.press("up", "up", "m") // the first store, long verified
	v := h.view()
	contains(t, v, "metrics", "in verify", "tikv_encryption_is_initialized 1", "tikv_encryption_file_num 31")
	if strings.Contains(v, "tikv_encryption_is_initialized 0") || strings.Contains(v, "stale") {
		t.Fatalf("a verified store shows its stale pre-restart sample:\n%s", v)
	}
	h.size(120, 40)
	v = h.view()
	contains(t, v, "metrics", "timeline", "tikv_encryption_is_initialized 1")
	// The timeline has the whole width at 120 columns: its widest line is not cut at ~48.
	widest := 0
	in := false
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(l, "timeline") {
			in = true
			continue
		}
		if in && len([]rune(l)) > widest {
			widest = len([]rune(l))
		}
	}
	if widest <= 60 {
		t.Fatalf("the timeline is at most %d columns wide at 120:\n%s", widest, v)
	}
}

// The report screen ends the run with its summary: duration, batches,
// warnings accepted, every decision and who made it, and the report's path.
func TestReportShowsTheEndOfRunSummary(t *testing.T) {
	f := uitest.New(3)
	f.AskAfter = 4
	f.Ask = &steps.Decision{ID: "evict-timeout-1", Question: "store 1 still has 20 leaders", Options: []string{steps.OnEvictWait, steps.OnEvictSkipEviction, steps.OnEvictAbort}, Default: steps.OnEvictAbort}
	// The engine computes the summary (steps.Session.Summary); the screen lays it out.
	t0 := uitest.Base()
	f.Files.Summary = &steps.RunSummary{Kind: steps.KindApply, Outcome: "finished", Started: t0, Ended: t0.Add(time.Hour), Duration: time.Hour,
		Strategy: "zone", Batches: 3, Stores: 3, PreflightWarnings: []string{"tiup-managed: stores 1,2,3: …", "aes-ni: …"},
		Decisions: []steps.DecisionTaken{{ID: "evict-timeout-1", Question: "store 1 still has 20 leaders", Chosen: steps.OnEvictSkipEviction, By: "operator"}},
		Report:    "reports/report.json"}
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("decision", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok })
	h.press("2", "enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	h.press("enter")
	h.idle(ui.ScreenVerify)
	h.press("enter")
	h.idle(ui.ScreenSchedule)
	h.press("enter")
	h.idle(ui.ScreenReport)
	h.press("G")
	contains(t, h.view(), "Run summary", "duration   1h0m0s (10:00:00 to 11:00:00 UTC)", "batches    3 (zone), 3 stores",
		"warnings   2 accepted (2 in preflight, 0 during the run)",
		"decisions  evict-timeout-1 → skip-eviction (by operator)", "report     reports/report.json")
}

// A batch's settle (and in a serial rollout its restart and verification)
// goes on while the next batch evicts: an event of the earlier batch after
// the later batch started does not take the header's batch count back.
func TestDashboardBatchCountNeverGoesBack(t *testing.T) {
	f := uitest.New(3)
	all := f.Events
	cut := -1
	for i, e := range all {
		if e.Batch == 2 && e.Kind == steps.StepStarted && e.Step == steps.StepEvict {
			cut = i + 1
			break
		}
	}
	if cut < 0 {
		t.Fatal("the fake's script has no eviction in batch 2")
	}
	late := steps.Event{Time: all[cut-1].Time.Add(time.Second), Kind: steps.StepDone, Step: steps.StepVerify, StoreID: all[cut-2].StoreID, Batch: 1, Message: "verified late"}
	for _, e := range all[:cut] {
		if e.Batch == 1 && e.StoreID != 0 {
			late.StoreID, late.Store = e.StoreID, e.Store
		}
	}
	f.Events = append(append([]steps.Event(nil), all[:cut]...), late)
	f.Hold = make(chan struct{})
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("the late event", func(m *ui.Model) bool { return m.EventsSeen() == len(f.Events) })
	contains(t, h.view(), "batch 2/3")
	h.press("a", "y")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
}
