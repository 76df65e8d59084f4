package ui_test

import (
	"strings"
	"testing"

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
