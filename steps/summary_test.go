package steps

import (
	"strings"
	"testing"
	"time"
)

// TestSummaryTellsTheRunInAFewFacts: duration up to the last step after the
// runner, batches, the warnings the run went on past, the decisions with who
// took them, the revocation, and the report path (issue 15).
func TestSummaryTellsTheRunInAFewFacts(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	res := &Result{Kind: KindRotate, Started: t0, Finished: t0.Add(90 * time.Second),
		Batches: BatchPlan{Batches: []Batch{{}, {}, {}}}, Stores: []*StoreResult{{StoreID: 1}, {StoreID: 2}, {StoreID: 3}},
		Timeline: []Event{
			{Kind: Warning, Step: StepRelease, Time: t0.Add(10 * time.Second), Message: "could not remove the evict-leader scheduler: PD busy; retrying"},
			{Kind: DecisionMade, Step: StepRetire, Time: t0.Add(100 * time.Second), Decision: &Decision{Question: "revoke the old key?", Chosen: ChoiceRevoke, By: "alice"}},
			{Kind: StepDone, Step: StepRetire, Time: t0.Add(125 * time.Second), Message: "old file key gen 1 retired in file (destroyed)"},
		}}
	s := &Session{res: res}
	sum, ok := s.Summary("/r/rotate-1/report.json")
	if !ok {
		t.Fatal("no summary of a run")
	}
	if sum.Duration != 125*time.Second || sum.Batches != 3 || len(sum.Warnings) != 1 || len(sum.Decisions) != 1 || sum.Report != "/r/rotate-1/report.json" {
		t.Fatalf("summary %+v", sum)
	}
	text := strings.Join(sum.Lines(), "\n")
	for _, want := range []string{"summary: rotate finished in 2m5s; 3 stores in 3 batches", "warnings accepted: 1", "revoke the old key? → revoke (by alice)",
		"revocation: old file key gen 1 retired in file (destroyed)", "report: /r/rotate-1/report.json"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if _, ok := (&Session{}).Summary(""); ok {
		t.Error("a session without a run has a summary")
	}
}
