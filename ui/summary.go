package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
)

// runSummary is the end-of-run summary the report screen shows: how long
// the run took, its batches, the warnings the operator went past, every
// decision and who made it, what became of the old key (a rotation), and
// where the signed report is. It reads the engine's result and its
// timeline, nothing else.
func (m *Model) runSummary() []string {
	r := m.result
	if r == nil {
		return nil
	}
	var out []string
	if !r.Started.IsZero() && r.Finished.After(r.Started) {
		out = append(out, fmt.Sprintf("duration   %s (%s to %s UTC)", r.Finished.Sub(r.Started).Round(time.Second),
			r.Started.UTC().Format("15:04:05"), r.Finished.UTC().Format("15:04:05")))
	}
	stores := 0
	for _, b := range r.Batches.Batches {
		stores += len(b.Stores)
	}
	out = append(out, fmt.Sprintf("batches    %d (%s), %d stores", len(r.Batches.Batches), r.Batches.Strategy, stores))
	checks := m.checks
	if m.preview != nil {
		checks = append(append([]steps.Check(nil), checks...), m.preview.Checks...)
	}
	_, preflight, _ := preflightCounts(checks) // counted as the preflight header counts them: one per finding

	during := 0
	var decisions, retire []string
	for _, e := range r.Timeline {
		switch {
		case e.Kind == steps.Warning:
			during++
		case e.Kind == steps.DecisionMade && e.Decision != nil:
			decisions = append(decisions, fmt.Sprintf("%s → %s (by %s)", e.Decision.ID, e.Decision.Chosen, e.Decision.By))
		case e.Step == steps.StepRetire && e.Kind != steps.DecisionAsk && e.Kind != steps.DecisionMade:
			retire = append(retire, strings.TrimSpace(e.Message+" "+e.Error))
		}
	}
	out = append(out, fmt.Sprintf("warnings   %d accepted (%d in preflight, %d during the run)", preflight+during, preflight, during))
	if len(decisions) == 0 {
		out = append(out, "decisions  none asked")
	}
	for i, d := range decisions {
		label := "decisions  "
		if i > 0 {
			label = "           "
		}
		out = append(out, label+d)
	}
	if m.opts.Rotate {
		if len(retire) == 0 {
			retire = []string{"not asked: the old key stays in its backend"}
		}
		for i, s := range retire {
			label := "revocation "
			if i > 0 {
				label = "           "
			}
			out = append(out, label+s)
		}
	}
	if m.report != nil && m.report.JSON != "" {
		out = append(out, "report     "+m.report.JSON)
	}
	return out
}
