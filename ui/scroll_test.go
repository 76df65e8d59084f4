package ui_test

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// A table that fits stays put: ↓ must not hide its first rows.
func TestDownNeverScrollsATableThatFits(t *testing.T) {
	h := newHarness(t, uitest.New(3), prefilled())
	h.idle(ui.ScreenConnect)
	before := h.view()
	h.press("down", "down", "space", "G")
	if after := h.view(); after != before {
		t.Fatalf("scroll keys moved a body that fits:\nbefore\n%s\nafter\n%s", before, after)
	}
	contains(t, h.view(), "ID    ADDRESS", "\n1 ")
}

// Content taller than 80x24 scrolls instead of being cut: every store of 40
// can be brought on screen, and the marker says how much is below.
func TestLongContentScrollsAt80x24(t *testing.T) {
	h := newHarness(t, uitest.New(40), prefilled())
	h.idle(ui.ScreenConnect)
	v := h.view()
	contains(t, v, "more below (pgdn/space)", "pgdn/space scroll")
	if strings.Contains(v, "… and") {
		t.Fatalf("the store table is cut instead of scrolled:\n%s", v)
	}
	if strings.Contains(v, "\n40 ") {
		t.Fatalf("store 40 already on screen at 80x24:\n%s", v)
	}
	h.press("G")
	contains(t, h.view(), "\n40 ", "end (pgup/home to go back)")
	h.press("g")
	contains(t, h.view(), "\n1 ")
	h.press("down")
	if strings.Contains(h.view(), "\n1 ") && !strings.Contains(h.view(), "↑ 1 above") {
		t.Fatalf("↓ did not scroll an overflowing body:\n%s", h.view())
	}
}

// ? opens the full key help on every screen (bubbles/help's full view), and
// esc or ? closes it; in a form f1 does (? is text there).
func TestQuestionMarkOpensTheFullHelp(t *testing.T) {
	h := newHarness(t, uitest.New(3), prefilled())
	h.idle(ui.ScreenConnect)
	contains(t, h.view(), "? all keys")
	h.press("?")
	contains(t, h.view(), "Keys", "this screen", "discover again", "scrolling", "scroll down a page", "everywhere", "ctrl+c")
	h.press("esc")
	if strings.Contains(h.view(), "scroll down a page") {
		t.Fatalf("esc did not close the help:\n%s", h.view())
	}
	h.press("e")
	h.focus("Environment")
	contains(t, h.view(), "f1 all keys")
	h.update(keyPress("f1"))
	contains(t, h.view(), "Keys", "cancel")
	h.press("?")
	if strings.Contains(h.view(), "scroll down a page") {
		t.Fatalf("? did not close the help:\n%s", h.view())
	}
}

// The confirmation is pinned below the plan, the plan still scrolls, and
// y does not confirm blind: it first shows the end of the plan.
func TestPlanConfirmationIsNeverBlind(t *testing.T) {
	f := uitest.New(40)
	h := newHarness(t, f, prefilled())
	h.toPlan()
	h.press("enter")
	contains(t, h.view(), "Apply now?", "more below (pgdn/space)")
	h.press("y")
	if h.m.Screen() != ui.ScreenPlan {
		t.Fatalf("y confirmed before the end of the plan was on screen")
	}
	contains(t, h.view(), "end of the plan", "press y again", "Apply now?", "above")
	h.press("pgup")
	contains(t, h.view(), "Apply now?", "more below")
	h.press("y")
	if h.m.Screen() != ui.ScreenDashboard {
		t.Fatalf("second y did not apply: %s\n%s", h.m.Screen(), h.view())
	}
}

// The algorithm screen never shows one noisy figure as fact: the median with
// its range and sample count, where it was measured, and a warning when the
// samples disagree.
func TestAlgorithmThroughputShowsItsUncertainty(t *testing.T) {
	f := uitest.New(3)
	f.Algos[2].Speed = ui.Throughput{Samples: []float64{900, 3100, 2800, 400, 3000}, Bytes: 4 << 20, Machine: "fake CPU, 2 cores, amd64"}
	h := newHarness(t, f, prefilled())
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	v := h.view()
	contains(t, v, "~3900 MB/s here (3700–4000)", "400–3100 MB/s here (noisy)", "median 2800 MB/s of 5 samples of 4 MiB",
		"range 400–3100", "fake CPU, 2 cores, amd64", "not on the TiKV hosts", "noisy: the samples differ")
	if strings.Contains(v, "3100 MB/s measured") {
		t.Fatalf("a single figure is shown as fact:\n%s", v)
	}
}

func TestThroughputMedianAndSpread(t *testing.T) {
	tp := ui.Throughput{Samples: []float64{100, 300, 200, 400}}
	if m := tp.Median(); m != 250 {
		t.Errorf("median %v, want 250", m)
	}
	if lo, hi := tp.Range(); lo != 100 || hi != 400 {
		t.Errorf("range %v–%v", lo, hi)
	}
	if s := tp.Spread(); s != 1.2 || !tp.Noisy() {
		t.Errorf("spread %v noisy %v, want 1.2 and noisy", s, tp.Noisy())
	}
	steady := ui.Throughput{Samples: []float64{1000, 1100, 1050}}
	if steady.Noisy() {
		t.Errorf("a 10%% spread is called noisy")
	}
	if (ui.Throughput{}).Measured() {
		t.Error("no samples reads as measured")
	}
}
