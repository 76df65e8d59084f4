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
			// dashboard's log pane: every store's, classified.
			logged := map[uint64]bool{}
			for _, ev := range rec.find(steps.NodeLog, steps.StepVerify) {
				if ev.Log != nil && ev.Log.Catalog != "" && strings.Contains(ev.Message, ev.Log.Level) {
					logged[ev.StoreID] = true
				}
			}
			if len(logged) != 6 {
				t.Errorf("TiKV log lines shown for stores %v, want all 6\n%s", logged, rec.dump())
			}
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
