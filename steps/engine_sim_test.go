package steps_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
)

func httpClient() *http.Client { return &http.Client{Timeout: 2 * time.Second} }

// TestEngineEncryptsEveryStoreOnSim runs the whole engine against the sim
// through the real SSH client, in both batching modes, and re-runs it to show
// that stores already on the target are verified, not restarted.
func TestEngineEncryptsEveryStoreOnSim(t *testing.T) {
	for _, batching := range []string{steps.BatchSerial, steps.BatchZone} {
		t.Run(batching, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 60, Speed: 100, Batching: batching, Canary: 1})
			rec := &recorder{}
			res, err := e.run(ctx, rec)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, rec.dump())
			}
			if res.Batches.Strategy != batching {
				t.Fatalf("batching %s, want %s: %s", res.Batches.Strategy, batching, res.Batches.Reason)
			}
			e.assertAllVerified(res)
			e.assertSafe(ctx, "after the run")
			if !e.journalFinished() {
				t.Fatal("the journal does not record the end of the run")
			}
			if got := len(rec.find(steps.StepStarted, steps.StepVerify)); got != 6 {
				t.Errorf("%d verify steps started, want 6", got)
			}
			if got := len(rec.find(steps.StepDone, steps.StepRelease)); got != 6 {
				t.Errorf("%d schedulers released, want 6", got)
			}
			// TiKV's own encryption lines since the restart reach the
			// dashboard's log pane, classified, live: every store's before
			// it is found ready (the readiness looks read the log), and no
			// line again at verification.
			assertLiveLog(t, rec, 6)
			again, err := e.run(ctx, nil)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if got := skippedStores(again); len(got) != 6 {
				t.Fatalf("second run skipped stores %v, want all 6", got)
			}
			e.assertAllVerified(again)
			e.assertSafe(ctx, "after the second run")
		})
	}
}

// assertLiveLog checks that each of n stores showed a classified TiKV log
// line before its ready step ended, and that verification repeated none of
// the lines the readiness looks had shown.
func assertLiveLog(t *testing.T, rec *recorder, n int) {
	t.Helper()
	live, ready := map[uint64]bool{}, map[uint64]bool{}
	first := map[string]map[uint64]string{} // step → store → its first line
	rec.mu.Lock()
	events := append([]steps.Event(nil), rec.events...)
	rec.mu.Unlock()
	for _, ev := range events {
		switch {
		case ev.Kind == steps.StepDone && ev.Step == steps.StepReady:
			ready[ev.StoreID] = true
		case ev.Kind == steps.NodeLog && ev.Log != nil && ev.Log.Catalog != "" && strings.Contains(ev.Message, ev.Log.Level):
			if !ready[ev.StoreID] {
				live[ev.StoreID] = true
			}
			if first[ev.Step] == nil {
				first[ev.Step] = map[uint64]string{}
			}
			if _, ok := first[ev.Step][ev.StoreID]; !ok {
				first[ev.Step][ev.StoreID] = ev.Log.Catalog
			}
		}
	}
	if len(live) != n {
		t.Errorf("TiKV log lines shown live (before ready) for stores %v, want all %d\n%s", live, n, rec.dump())
	}
	// Verification shows only lines logged after the last look (a data-key
	// rotation, say), never the start's lines again from the beginning.
	for id, name := range first[steps.StepVerify] {
		if first[steps.StepReady][id] == name {
			t.Errorf("store %d: verification shows the log again from its first line %q", id, name)
		}
	}
}
