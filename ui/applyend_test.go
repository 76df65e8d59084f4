package ui

import (
	"errors"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestRunEndWaitsForTheLastEvents: Apply can return before the dashboard
// has taken the run's last events (a rollback's); the end of the run shows
// once they are in, so where each store stands is read from the state the
// run left, not from the one before its rollback.
func TestRunEndWaitsForTheLastEvents(t *testing.T) {
	m := newTestModel(nil, Options{Home: true})
	m.dash.init(dashPreview())
	m.screen, m.applying, m.eventsOpen = ScreenDashboard, true, true
	for _, e := range []steps.Event{
		{Kind: steps.StepStarted, Step: steps.StepRestart, StoreID: 1, Batch: 1},
		{Kind: steps.StepDone, Step: steps.StepRestart, StoreID: 1, Batch: 1},
	} {
		m.Update(eventMsg{e})
	}
	m.Update(resultMsg{op: opApply, err: errors.New("store 1 rolled back: TiKV failed to start")})
	if v := screenAt(t, m, 80, 24); strings.Contains(v, "run stopped") {
		t.Fatalf("the run's end shows before its last events:\n%s", v)
	}
	m.Update(eventMsg{steps.Event{Kind: steps.StepDone, Step: steps.StepRollback, StoreID: 1, Batch: 1}})
	m.Update(eventsClosedMsg{})
	v := screenAt(t, m, 80, 24)
	flat := strings.Join(strings.Fields(v), " ")
	if !strings.Contains(flat, "run stopped: store 1 rolled back") || !strings.Contains(flat, "Store 1 rolled back") || strings.Contains(flat, "NOT verified") {
		t.Fatalf("the run's end does not say store 1 was rolled back:\n%s", v)
	}
}
