package ui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestVerificationAfterAStoppedRunSaysHowToGoOnAndOffersNoSchedule pins the
// Verification screen of a run the operator aborted (issue 15): it says the
// run stopped (not "context canceled"), which store runs the new config
// unverified and the exact resume and abort commands, and Enter leads to no
// rotation schedule and no report.
func TestVerificationAfterAStoppedRunSaysHowToGoOnAndOffersNoSchedule(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.screen, m.preview, m.applyDone = ScreenVerify, &PlanPreview{}, true
	st := steps.StoppedRun{Kind: steps.KindApply, Interrupted: true, Unverified: []uint64{1},
		Resume: "tikv-ear apply plan.toml --resume", Abort: "tikv-ear apply plan.toml --abort"}
	m.applyErr = &steps.Error{Msg: st.Sentence(), Hints: st.Hints(), Code: steps.ExitAborted, Err: context.Canceled}
	m.evidence = []StoreEvidence{{StoreID: 1, Method: "aes256-ctr", KeyDict: "aes256-gcm", OK: true}, {StoreID: 2, Problems: []string{"running data-encryption-method is \"plaintext\""}}}
	v := unwrapped(screenAt(t, m, 80, 24))
	for _, want := range []string{"The run stopped", "store 1 has the new config in its tikv.toml and was not verified", "tikv-ear apply plan.toml --resume", "tikv-ear apply plan.toml --abort", "No rotation schedule and no report"} {
		if !strings.Contains(strings.ReplaceAll(v, " ", ""), strings.ReplaceAll(want, " ", "")) { // wrapped at 80 columns
			t.Errorf("the Verification screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "context canceled") {
		t.Errorf("the screen says \"context canceled\":\n%s", v)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.screen != ScreenVerify || m.busy != "" {
		t.Fatalf("Enter after a stopped run went to screen %v (busy %q); want no schedule and no report", m.screen, m.busy)
	}
}

// TestSchedulePeriodChangesWithTheArrowKeys pins the period choice of the
// Schedule screen (issue 15): → makes it longer, ← shorter, for every
// schedule tikv-ear runs; a KMS's own rotation keeps its period.
func TestSchedulePeriodChangesWithTheArrowKeys(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.screen, m.preview = ScreenSchedule, &PlanPreview{}
	m.sched = []ScheduleOption{{ID: "aws-auto", Period: "365d", KMSNative: true}, {ID: "cron", Period: "365d"}, {ID: "manual", Period: "365d"}}
	m.Update(tea.KeyPressMsg{Code: tea.KeyLeft})
	m.Update(tea.KeyPressMsg{Code: tea.KeyLeft})
	if m.sched[1].Period != "90d" || m.sched[2].Period != "90d" || m.sched[0].Period != "365d" {
		t.Fatalf("after ← ←: %+v", m.sched)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyRight})
	if m.sched[1].Period != "180d" {
		t.Fatalf("after →: %+v", m.sched)
	}
	if v := screenAt(t, m, 80, 24); !strings.Contains(v, "every 180d") {
		t.Errorf("the screen does not show the new period:\n%s", v)
	}
}
