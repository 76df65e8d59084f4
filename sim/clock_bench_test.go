package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim/pd"
)

// BenchmarkSimClock starts a 300-store sim with 100 leaders per store (30 000
// regions, 3 replicas) at ×10 and loads it the way a rollout does — PD's
// /stores and region checks polled, every store's /metrics polled, every
// heartbeat — while one zone's stores are evicted, then reports the share of
// PD's scheduling ticks that ran on time. Below 0.95 the sim does not keep its
// clock and rollout benchmarks on it measure the sim (issue 17).
func BenchmarkSimClock(b *testing.B) {
	const stores, regions, speed = 300, 30000, 10
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		started := time.Now()
		c, err := Start(ctx, Options{Stores: stores, Zones: 3, Regions: regions, Speed: speed, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("sim of %d stores and %d regions up in %s", stores, regions, time.Since(started).Round(time.Millisecond))
		h0, err := ReadHealth(ctx, c.ControlURL())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		loadSim(ctx, b, c, 10*time.Second)
		b.StopTimer()
		h, err := ReadHealth(ctx, c.ControlURL()) // what the control endpoint reports
		if err != nil {
			b.Fatal(err)
		}
		w := h.Ticks.Since(h0.Ticks)
		b.Logf("ticks run/due %d/%d = %.3f (keeps its clock: %v), mean %.2f ms max %.2f ms per tick (interval %.0f ms); ledger acked %d lost %d; quorum losses %d; load %s",
			w.Run, w.Due, w.Ratio, w.KeepsClock(), w.MeanCostMS, w.MaxCostMS, w.IntervalMS,
			h.Ledger.Acked, h.Ledger.Lost, len(h.QuorumLosses), LoadAverage())
		if !h.OK() {
			b.Fatalf("the sim lost a quorum or an acknowledged write under load: %+v", h)
		}
		b.ReportMetric(w.Ratio, "ticks-run/due")
		b.ReportMetric(w.MeanCostMS*1000, "µs/tick")
		cancel()
		c.Close()
	}
}

// loadSim evicts one zone's leaders through PD's API and polls what a rollout
// polls for d of wall time: /stores and the pending/down region checks every
// 200 ms, and each evicted store's /metrics every 200 ms.
func loadSim(ctx context.Context, b *testing.B, c *Cluster, d time.Duration) {
	pdURL := c.PDURLs()[0]
	var zone []*Node
	for _, n := range c.Nodes() {
		if n.Zone == "z1" {
			zone = append(zone, n)
		}
	}
	for _, n := range zone {
		body := fmt.Sprintf(`{"name":%q,"store_id":%d}`, pd.EvictLeaderScheduler, n.StoreID)
		resp, err := http.Post(pdURL+"/pd/api/v1/schedulers", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	get := func(u string) {
		resp, err := http.Get(u)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	poll := func(urls ...string) {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			for _, u := range urls {
				get(u)
			}
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
		}
	}
	wg.Add(1)
	go poll(pdURL+"/pd/api/v1/stores", pdURL+"/pd/api/v1/regions/check/pending-peer", pdURL+"/pd/api/v1/regions/check/down-peer")
	for _, n := range zone {
		wg.Add(1)
		go poll("http://" + n.StatusAddr() + "/metrics")
	}
	wg.Wait()
	req, err := http.NewRequest(http.MethodDelete, pdURL+"/pd/api/v1/schedulers/"+pd.EvictLeaderScheduler, nil)
	if err == nil {
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
		}
	}
}
