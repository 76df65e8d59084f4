package ui_test

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// TestStoppedRunShowsTheWholeReasonAndHint: at 80 columns the reason a run
// stopped and the engine's hint are wrapped onto the dashboard, never cut
// with "…": they are what the operator acts on.
func TestStoppedRunShowsTheWholeReasonAndHint(t *testing.T) {
	f := uitest.New(3)
	f.ApplyErr = steps.Failf("set [target.key.aws] next-key-id in /tmp/some/long/path/plan.toml, then rotate again; nothing on any host changed",
		"creating the new master-key generation in aws: aws key backend: a new master key needs a next key id before it can go on (ENDOFREASON)")
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	view := h.view()
	contains(t, view, "(ENDOFREASON)", "hint: set [target.key.aws]", "changed")
	for _, line := range strings.Split(view, "\n") {
		if strings.Contains(line, "ENDOFREASON") && strings.HasSuffix(strings.TrimSpace(line), "…") {
			t.Errorf("the reason is cut: %q", line)
		}
	}
}

// TestErrorLineShowsTheWholeErrorAndHint: a screen's error line (here a
// discovery that failed) is wrapped at 80 columns with the engine's hint.
func TestErrorLineShowsTheWholeErrorAndHint(t *testing.T) {
	f := uitest.New(3)
	f.DiscoverErr = steps.Usagef("set [target.key.gcp] next-key-id to another CryptoKey in /tmp/some/long/path/plan.toml, then rotate --incident again (ENDOFHINT)",
		"an incident rotation must move TiKV off the suspect key, but [target.key.gcp] names no next-key-id: a new version would leave key.dict wrapped (ENDOFERROR)")
	h := newHarness(t, f, prefilled())
	h.until("discovery error", func(m *ui.Model) bool { return m.Err() != nil })
	contains(t, h.view(), "(ENDOFERROR)", "hint: set [target.key.gcp]", "(ENDOFHINT)")
}

// TestAbortDialogIsWholeAt80Columns: the abort confirmation wraps inside
// its box at 80 columns instead of being cut with "…".
func TestAbortDialogIsWholeAt80Columns(t *testing.T) {
	f := uitest.New(3)
	f.Hold = make(chan struct{})
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("rollout running", func(m *ui.Model) bool { return m.EventsSeen() > 0 })
	h.press("a")
	v := h.view()
	flat := strings.Join(strings.Fields(strings.NewReplacer("┃", " ", "━", " ").Replace(v)), " ")
	if !strings.Contains(flat, "stores already done stay done. y abort · n keep going") {
		t.Errorf("the abort dialog is not whole at 80 columns:\n%s", v)
	}
	close(f.Hold)
}
