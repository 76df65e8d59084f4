package ui_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// BenchmarkDashboardRender draws the dashboard of a 300-store rollout with a
// busy log pane (the focus store, the last one, holds a long log tail).
func BenchmarkDashboardRender(b *testing.B) {
	f := uitest.New(300)
	at := uitest.Base()
	for i := range 500 {
		e := steps.NodeLogEvent(300, uitest.LogLine(at, "INFO", fmt.Sprintf("compaction %d finished", i)))
		e.Time = at
		if i%10 == 0 {
			e.Message = uitest.LogLine(at, "INFO", "encryption: rotate data key.")
		}
		f.Events = append(f.Events, e)
	}
	h := newHarness(b, f, prefilled())
	h.toPlan()
	h.press("enter", "G", "y")
	// The engine's buffer may drop log lines under load (by design); wait for the run's end.
	h.until("the run", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil && len(h.msgs) == 0 })
	h.size(160, 48)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		_ = h.m.View()
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/frame")
}
