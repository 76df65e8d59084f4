package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// RunSummary is the end of a run in a few facts, computed here once for
// every face (the headless text output prints it, the wizard's Report
// screen lays it out): how long it took, its batches, the warnings the run
// went on past (preflight's and the run's own), the decisions taken (and by
// whom), what happened to the old key, and where the signed report is.
type RunSummary struct {
	Kind    string
	Outcome string // "finished", "stopped: <why>"
	// Started and Ended bound the run, Ended at its last step (after the
	// runner: second pass, revocation); Duration is the span between.
	Started, Ended time.Time
	Duration       time.Duration
	Strategy       string // the batching: serial or zone
	Batches        int
	Stores         int
	// PreflightWarnings are the preflight's warnings the run went past, one
	// per finding (stores that share it named together); Warnings are the
	// warnings of the run itself.
	PreflightWarnings []string
	Warnings          []string
	Decisions         []DecisionTaken
	Revocation        string // what became of the old master-key generation; "" when the kind revokes nothing
	Report            string // the signed report.json; "" when none was written
}

// DecisionTaken is one decision of a run: its id, its question, the option
// chosen and who chose it (operator, a flag, or the plan's policy).
type DecisionTaken struct {
	ID, Question, Chosen, By string
}

// Accepted is the number of warnings the run went on past.
func (sum RunSummary) Accepted() int { return len(sum.PreflightWarnings) + len(sum.Warnings) }

// Summary returns the summary of the session's last run; ok is false when
// no run reached the runner. report is the signed report's path ("" for none).
func (s *Session) Summary(report string) (RunSummary, bool) {
	res := s.res
	if res == nil {
		return RunSummary{}, false
	}
	sum := RunSummary{Kind: FirstNonEmpty(res.Kind, s.kind), Outcome: "finished", Strategy: res.Batches.Strategy,
		Batches: len(res.Batches.Batches), Stores: len(res.Stores), Report: report,
		PreflightWarnings: append([]string(nil), s.accepted...)}
	switch {
	case errors.Is(res.Err, context.Canceled):
		sum.Outcome = "stopped: " + interruptedText
	case res.Err != nil:
		sum.Outcome = "stopped: " + res.Err.Error()
	}
	sum.Started, sum.Ended = res.Started, res.Finished
	for _, e := range res.Timeline {
		if e.Time.After(sum.Ended) {
			sum.Ended = e.Time // the steps after the runner (second pass, retire)
		}
		switch {
		case e.Kind == Warning:
			sum.Warnings = append(sum.Warnings, e.Message)
		case e.Kind == DecisionMade && e.Decision != nil:
			d := e.Decision
			sum.Decisions = append(sum.Decisions, DecisionTaken{ID: d.ID, Question: d.Question, Chosen: d.Chosen, By: FirstNonEmpty(d.By, "policy")})
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
	if !sum.Started.IsZero() && sum.Ended.After(sum.Started) {
		sum.Duration = sum.Ended.Sub(sum.Started)
	}
	return sum, true
}

// acceptedWarnings is what a passing preflight gate went past: one line per
// warning finding (GroupChecks), "<id>: <message>".
func acceptedWarnings(checks []Check) []string {
	var out []string
	for _, g := range GroupChecks(checks) {
		if g.Check.Status == Warn {
			out = append(out, g.Check.ID+": "+g.Message())
		}
	}
	return out
}

// Print writes the summary for a terminal or a CI log.
func (sum RunSummary) Print(w io.Writer) {
	fmt.Fprintf(w, "summary: %s %s in %s; %d stores in %d batches\n", sum.Kind, sum.Outcome, sum.Duration.Round(time.Second), sum.Stores, sum.Batches)
	fmt.Fprintf(w, "  warnings accepted: %d (%d in preflight, %d during the run)\n", sum.Accepted(), len(sum.PreflightWarnings), len(sum.Warnings))
	for _, x := range sum.PreflightWarnings {
		fmt.Fprintf(w, "    - preflight: %s\n", x)
	}
	for _, x := range sum.Warnings {
		fmt.Fprintf(w, "    - %s\n", x)
	}
	fmt.Fprintf(w, "  decisions: %d\n", len(sum.Decisions))
	for _, d := range sum.Decisions {
		fmt.Fprintf(w, "    - %s → %s (by %s)\n", d.Question, d.Chosen, d.By)
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
