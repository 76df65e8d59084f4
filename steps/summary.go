package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// RunSummary is the end of a run in a few facts, the same in the headless
// text output and on the wizard's last screen: how long it took, its
// batches, the warnings the run went on past, the decisions taken (and by
// whom), what happened to the old key, and where the signed report is.
type RunSummary struct {
	Kind       string
	Outcome    string // "finished", "stopped: <why>"
	Duration   time.Duration
	Batches    int
	Stores     int
	Warnings   []string // warnings the run went on past (accepted)
	Decisions  []string // "<question> → <chosen> (by <who>)"
	Revocation string   // what became of the old master-key generation; "" when the kind revokes nothing
	Report     string   // the signed report.json; "" when none was written
}

// Summary returns the summary of the session's last run; ok is false when
// no run reached the runner. report is the signed report's path ("" for none).
func (s *Session) Summary(report string) (RunSummary, bool) {
	res := s.res
	if res == nil {
		return RunSummary{}, false
	}
	sum := RunSummary{Kind: res.Kind, Outcome: "finished", Batches: len(res.Batches.Batches), Stores: len(res.Stores), Report: report}
	if sum.Kind == "" {
		sum.Kind = s.kind
	}
	switch {
	case errors.Is(res.Err, context.Canceled):
		sum.Outcome = "stopped: " + interruptedText
	case res.Err != nil:
		sum.Outcome = "stopped: " + res.Err.Error()
	}
	end := res.Finished
	for _, e := range res.Timeline {
		if e.Time.After(end) {
			end = e.Time // the steps after the runner (second pass, retire)
		}
		switch {
		case e.Kind == Warning:
			sum.Warnings = append(sum.Warnings, e.Message)
		case e.Kind == DecisionMade && e.Decision != nil:
			d := e.Decision
			sum.Decisions = append(sum.Decisions, fmt.Sprintf("%s → %s (by %s)", d.Question, d.Chosen, FirstNonEmpty(d.By, "policy")))
			if e.Step == StepRetire && d.Chosen == ChoiceKeep {
				sum.Revocation = "the old master key was kept (not revoked)"
			}
		case e.Step == StepRetire && e.Kind == Info:
			sum.Revocation = e.Message // kept, or left to the operator (gcp, azure)
		case e.Step == StepRetire && e.Kind == StepDone:
			sum.Revocation = e.Message
		case e.Step == StepRetire && e.Kind == StepFailed:
			sum.Revocation = "revoking the old master key failed: " + e.Error
		}
	}
	if !res.Started.IsZero() && end.After(res.Started) {
		sum.Duration = end.Sub(res.Started)
	}
	return sum, true
}

// Print writes the summary for a terminal or a CI log.
func (sum RunSummary) Print(w io.Writer) {
	fmt.Fprintf(w, "summary: %s %s in %s; %d stores in %d batches\n", sum.Kind, sum.Outcome, sum.Duration.Round(time.Second), sum.Stores, sum.Batches)
	fmt.Fprintf(w, "  warnings accepted: %d\n", len(sum.Warnings))
	for _, x := range sum.Warnings {
		fmt.Fprintf(w, "    - %s\n", x)
	}
	fmt.Fprintf(w, "  decisions: %d\n", len(sum.Decisions))
	for _, d := range sum.Decisions {
		fmt.Fprintf(w, "    - %s\n", d)
	}
	if sum.Revocation != "" {
		fmt.Fprintf(w, "  revocation: %s\n", sum.Revocation)
	}
	fmt.Fprintf(w, "  report: %s\n", FirstNonEmpty(sum.Report, "none written"))
}

// Lines is the summary as lines without indentation, for a screen.
func (sum RunSummary) Lines() []string {
	var b strings.Builder
	sum.Print(&b)
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}
