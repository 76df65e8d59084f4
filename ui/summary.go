package ui

import (
	"fmt"
	"time"
)

// runSummary lays out the end-of-run summary the engine computed
// (steps.RunSummary, the same facts the headless output prints): how long
// the run took, its batches, the warnings the operator went past, every
// decision and who made it, what became of the old key (a rotation), and
// where the signed report is. It computes nothing itself.
func (m *Model) runSummary() []string {
	if m.report == nil || m.report.Summary == nil {
		return nil
	}
	sum := m.report.Summary
	var out []string
	if sum.Duration > 0 {
		out = append(out, fmt.Sprintf("duration   %s (%s to %s UTC)", sum.Duration.Round(time.Second),
			sum.Started.UTC().Format("15:04:05"), sum.Ended.UTC().Format("15:04:05")))
	}
	out = append(out, fmt.Sprintf("batches    %d (%s), %d stores", sum.Batches, sum.Strategy, sum.Stores))
	out = append(out, fmt.Sprintf("warnings   %d accepted (%d in preflight, %d during the run)", sum.Accepted(), len(sum.PreflightWarnings), len(sum.Warnings)))
	if len(sum.Decisions) == 0 {
		out = append(out, "decisions  none asked")
	}
	for i, d := range sum.Decisions {
		label := "decisions  "
		if i > 0 {
			label = "           "
		}
		out = append(out, fmt.Sprintf("%s%s → %s (by %s)", label, d.ID, d.Chosen, d.By))
	}
	if m.opts.Rotate {
		revocation := sum.Revocation
		if revocation == "" {
			revocation = "not asked: the old key stays in its backend"
		}
		out = append(out, "revocation "+revocation)
	}
	if sum.Report != "" {
		out = append(out, "report     "+sum.Report)
	}
	return out
}
