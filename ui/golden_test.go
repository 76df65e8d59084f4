package ui_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

var goldenUpdate = flag.Bool("ui-golden-update", false, "rewrite ui/testdata/*.golden from the current views")

// golden compares the ANSI-stripped view at w×h with testdata/<name>-<w>x<h>.golden.
func (h *harness) golden(name string) {
	h.t.Helper()
	for _, s := range [][2]int{{80, 24}, {160, 48}} {
		h.size(s[0], s[1])
		got := h.view()
		path := filepath.Join("testdata", name+"-"+itoa(s[0])+"x"+itoa(s[1])+".golden")
		if *goldenUpdate {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				h.t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				h.t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			h.t.Fatalf("reading %s: %v (run go test ./ui -ui-golden-update)", path, err)
		}
		if got != string(want) {
			h.t.Errorf("%s differs (run go test ./ui -ui-golden-update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
		}
	}
	h.size(80, 24)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestGoldenViews(t *testing.T) {
	f := uitest.New(12)
	f.AskAfter = 20
	f.Ask = &steps.Decision{ID: "evict-timeout-4", Question: "store 4 still has 20 leaders after 10m0s of eviction",
		Options: []string{steps.OnEvictWait, steps.OnEvictSkipEviction, steps.OnEvictAbort}, Default: steps.OnEvictAbort}
	// The engine's summary of this run (steps.Session.Summary), laid out on the Report screen.
	t0 := uitest.Base()
	f.Files.Summary = &steps.RunSummary{Kind: steps.KindApply, Outcome: "finished", Started: t0, Ended: t0.Add(time.Hour), Duration: time.Hour,
		Strategy: "serial", Batches: 12, Stores: 12, PreflightWarnings: []string{"aes-ni: …"},
		Decisions: []steps.DecisionTaken{{ID: "evict-timeout-4", Chosen: steps.OnEvictAbort, By: "operator"}}, Report: "reports/report.json"}
	h := newHarness(t, f, prefilled())
	h.idle(ui.ScreenConnect)
	h.golden("connect")
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	h.golden("algorithm")
	h.press("enter")
	h.idle(ui.ScreenBackend)
	h.press("enter")
	h.focus("Key ID")
	h.press("enter")
	h.focus("Region")
	h.press("enter")
	h.until("preflight", func(m *ui.Model) bool { return strings.Contains(h.view(), "Preflight") && m.Busy() == "" })
	h.golden("preflight")
	h.press("enter")
	h.idle(ui.ScreenPlan)
	h.golden("plan")
	h.press("enter", "G", "y")
	h.until("decision", func(m *ui.Model) bool { _, ok := m.DecisionPending(); return ok && m.EventsSeen() == f.AskAfter+2 })
	h.golden("dashboard-decision")
	h.press("enter")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil && m.EventsSeen() == len(f.Events)+2 })
	h.golden("dashboard-done")
	h.press("enter")
	h.idle(ui.ScreenVerify)
	h.golden("verify")
	h.press("enter")
	h.idle(ui.ScreenSchedule)
	h.press("enter")
	h.idle(ui.ScreenReport)
	h.golden("report")
}
