package ui_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// revokeDecision is the engine's retire-old question as steps.retireOld asks
// it: keep first and the default, revoke typed, with what it destroys.
func revokeDecision() *steps.Decision {
	return &steps.Decision{ID: steps.DecisionRetireOld, Question: "revoke the old master key generation 1 (g1) in file? It cannot be undone; every store already runs on the new one",
		Options: []string{steps.ChoiceKeep, steps.ChoiceRevoke}, Default: steps.ChoiceKeep, Typed: steps.ChoiceRevoke,
		Consequences: []string{"destroys: master key generation 1 (g1) in file; its key files are shredded here and on every host",
			"stores 1,2,3 keep running: each re-encrypted its key.dict under generation 2 in this rotation",
			"no longer decryptable: every copy of key.dict taken before this rotation (disk snapshots, file-level backups of the data dirs of stores 1,2,3)",
			"it cannot be undone; keep it instead while such a backup must stay restorable"}}
}

// Revoking is never preselected and never one Enter: Enter on the question
// keeps the key; choosing revoke asks for a typed yes, shown with what it
// destroys, and anything else does not revoke.
func TestIncidentRevocationIsTypedNeverPreselected(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		f := uitest.New(3)
		f.AskAfter = len(f.Events) - 1
		f.Ask = revokeDecision()
		opts := prefilled()
		opts.Rotate, opts.Incident = true, true
		h := newHarness(t, f, opts)
		h.size(size[0], size[1])
		h.idle(ui.ScreenConnect)
		h.press("enter")
		h.idle(ui.ScreenPlan)
		h.press("enter", "G", "y")
		h.until("revoke question", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok })
		contains(t, h.view(), "Decision: revoke the old master key generation 1", "What revoke does:", "destroys: master key generation 1",
			"no longer decryptable", "cannot be undone", "[1 keep (default)]", "2 revoke (type yes)")
		h.press("enter") // one Enter: keeps
		h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
		if got := f.Decided(); !slices.Equal(got, []string{"keep by operator"}) {
			t.Fatalf("%dx%d: one Enter decided %v, want keep", size[0], size[1], got)
		}
	}

	f := uitest.New(3)
	f.AskAfter = len(f.Events) - 1
	f.Ask = revokeDecision()
	opts := prefilled()
	opts.Rotate, opts.Incident = true, true
	h := newHarness(t, f, opts)
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenPlan)
	h.press("enter", "G", "y")
	h.until("revoke question", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok })
	h.press("right", "enter")
	contains(t, h.view(), "Type yes to revoke", "What revoke does:")
	h.press("n", "o", "enter")
	contains(t, h.view(), `"no" is not yes`)
	if _, ok := h.m.DecisionPending(); !ok {
		t.Fatal("typing no answered the question")
	}
	h.press("esc") // back to the options, keep selected again
	contains(t, h.view(), "[1 keep (default)]")
	h.press("2", "enter", "y", "e", "s", "enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	if got := f.Decided(); !slices.Equal(got, []string{"revoke by operator"}) {
		t.Fatalf("typed yes decided %v, want revoke", got)
	}
}

// At 80x24 the revocation question with what it destroys is taller than
// the screen: the options stay on screen under the panel, and pgdn/space
// (keys alone) scroll the panel to its last line; then yes is typed.
func TestRevocationDecisionScrollsAt80x24(t *testing.T) {
	f := uitest.New(9)
	f.AskAfter = len(f.Events) - 1
	dec := revokeDecision()
	for i := range 8 {
		dec.Consequences = append(dec.Consequences, "no longer decryptable: the snapshot of store "+string(rune('1'+i))+" taken before this rotation, kept by the backup system for thirty days")
	}
	dec.Consequences = append(dec.Consequences, "LAST: keep it instead while such a backup must stay restorable")
	f.Ask = dec
	opts := prefilled()
	opts.Rotate, opts.Incident = true, true
	h := newHarness(t, f, opts)
	h.size(80, 24)
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenPlan)
	h.press("enter", "G", "y")
	h.until("revoke question", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok })
	fits := func(what string) string {
		t.Helper()
		v := h.view()
		if n := len(strings.Split(strings.TrimRight(v, "\n"), "\n")); n > 24 {
			t.Fatalf("%s: %d lines at 80x24:\n%s", what, n, v)
		}
		return v
	}
	v := fits("asked")
	contains(t, v, "Decision: revoke the old master key generation 1", "[1 keep (default)]", "2 revoke (type yes)")
	if strings.Contains(v, "LAST:") {
		t.Fatalf("the test's panel fits the screen; it must overflow:\n%s", v)
	}
	for i := 0; i < 30 && !strings.Contains(h.view(), "LAST:"); i++ {
		k, before := []string{"down", "space", "pgdown"}[i%3], h.view()
		h.press(k)
		if h.view() == before {
			t.Fatalf("%s did not scroll the decision:\n%s", k, before)
		}
	}
	v = fits("scrolled")
	contains(t, v, "LAST: keep it instead", "[1 keep (default)]", "2 revoke (type yes)")
	h.press("2", "enter")
	contains(t, fits("typing"), "Type yes to revoke")
	h.press("y", "e", "s", "enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	if got := f.Decided(); !slices.Equal(got, []string{"revoke by operator"}) {
		t.Fatalf("typed yes decided %v, want revoke", got)
	}
}
