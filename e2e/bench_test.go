//go:build realparts

package e2e

import (
	"testing"
	"time"
)

// BenchmarkRealRollout is the real-PD row of `make bench`: `tikv-ear apply
// --yes` of a plan on a 30-store, 3-zone sim whose stores are clients of a
// real pd-server (600 regions, 3 replicas), serial and by zone. Only the
// apply is timed (sim start, plan and the cleanliness checks are not); the
// metric s/rollout is the same wall time in seconds. After each rollout
// PD must show what every test asks for: no evict-leader scheduler,
// leader-schedule-limit restored, every store Up, every region with a
// majority of voters on live stores.
//
// Hook for the bench target (needs TIKV_EAR_REALPARTS, like make test-real):
//
//	go test -tags realparts -run '^$' -bench '^BenchmarkRealRollout$' -benchtime 1x ./e2e/
func BenchmarkRealRollout(b *testing.B) {
	for _, batching := range []string{"serial", "zone"} {
		b.Run(batching, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e := startSized(b, size{Stores: 30, Zones: 3, Regions: 600}, 1, batching)
				limit := e.leaderScheduleLimit()
				b.StartTimer()
				began := time.Now()
				e.must("apply", e.plan, "--yes")
				took := time.Since(began)
				b.StopTimer()
				b.ReportMetric(took.Seconds(), "s/rollout")
				e.assertClean("after the benchmark's apply ("+batching+")", limit)
				b.StartTimer()
			}
		})
	}
}
