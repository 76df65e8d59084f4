package steps_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestRunRaisesAndRestoresLeaderScheduleLimit: PD's leader-schedule-limit is
// raised for the run (TiUP's +32, at most 64) and put back at the end, and the
// journal records both so a crash in between is undone by resume or abort.
func TestRunRaisesAndRestoresLeaderScheduleLimit(t *testing.T) {
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 30, Speed: 100, Batching: steps.BatchZone, Canary: 1})
	ctx := context.Background()
	pdc := steps.PDClient{C: e.pdc}
	before, err := pdc.LeaderScheduleLimit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	raisedTo := -1
	sink := steps.SinkFunc(func(ev steps.Event) {
		if ev.Kind == steps.StepStarted && ev.Step == steps.StepEvict {
			if n, err := pdc.LeaderScheduleLimit(ctx); err == nil {
				mu.Lock()
				raisedTo = n
				mu.Unlock()
			}
		}
	})
	if _, err := e.run(ctx, sink); err != nil {
		t.Fatal(err)
	}
	if want := min(before+32, 64); raisedTo != want {
		t.Fatalf("during the run leader-schedule-limit was %d, want %d (from %d)", raisedTo, want, before)
	}
	if after, err := pdc.LeaderScheduleLimit(ctx); err != nil || after != before {
		t.Fatalf("after the run leader-schedule-limit is %d (%v), want %d", after, err, before)
	}
	recs, err := steps.ReadJournal(e.journal)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := steps.LastRun(recs)
	if last.LimitToRestore != "" || !last.Finished {
		t.Fatalf("journal: limit to restore %q, finished %v", last.LimitToRestore, last.Finished)
	}
	// A crash between raising and restoring leaves the run open with the original value.
	crashed := append([]steps.Record(nil), recs...)
	var cut []steps.Record
	for _, r := range crashed {
		if r.Run != last.Run {
			continue
		}
		cut = append(cut, r)
		if r.Step == steps.StepScheduleLimit && r.State == steps.StateStarted {
			break
		}
	}
	st, _ := steps.LastRun(cut)
	if st.Finished || st.LimitToRestore != strings.TrimSpace(st.LimitToRestore) || st.LimitToRestore == "" {
		t.Fatalf("after a crash: finished %v, limit to restore %q", st.Finished, st.LimitToRestore)
	}
}
