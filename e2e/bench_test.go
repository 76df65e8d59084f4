//go:build realparts

package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
)

// The benchmark's cluster: issue 12's 30 stores in 3 zones, 600 regions of
// 3 replicas.
const (
	benchStores  = 30
	benchZones   = 3
	benchRegions = 600
)

// rollout is one timed apply: its wall time and the wall/floor ratio apply
// printed (steps.FloorLine), "n/a" when it printed none.
type rollout struct {
	wall      time.Duration
	wallFloor string
}

// wallFloor is the wall/floor ratio of steps.FloorLine in apply's output
// ("n/a" when it printed none).
func wallFloor(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if i := strings.LastIndex(l, "wall/floor "); i >= 0 && strings.Contains(l, "physical floor") {
			return strings.TrimSpace(l[i+len("wall/floor "):])
		}
	}
	return "n/a"
}

// timedApply starts a fresh sim (members real PD members, 0: the in-process
// PD), plans with batching, times `tikv-ear apply --yes` alone and checks
// from PD's API what every test asks for afterwards.
func timedApply(b *testing.B, members int, batching string) rollout {
	b.Helper()
	e := startSized(b, size{Stores: benchStores, Zones: benchZones, Regions: benchRegions}, members, batching)
	limit := e.leaderScheduleLimit()
	began := time.Now()
	out := e.must("apply", e.plan, "--yes")
	r := rollout{wall: time.Since(began), wallFloor: wallFloor(out)}
	e.assertClean(fmt.Sprintf("after the benchmark's apply (%s, %d real PD members)", batching, members), limit)
	e.c.Close()
	return r
}

// BenchmarkRealRollout is the real-PD row of `make bench`: `tikv-ear apply
// --yes` on a 30-store, 3-zone sim (600 regions, 3 replicas, sim clock ×10),
// serial and by zone, each once with the sim's in-process PD and once with
// the stores as gRPC clients of a real pd-server, every run on a fresh sim.
// Only the apply is timed (sim start, plan and the cleanliness checks are
// not). It prints one Markdown table (walls, real/sim ratios, apply's own
// wall/floor) and reports the walls and ratios as metrics. After each
// rollout PD must show no evict-leader scheduler, leader-schedule-limit
// restored, every store Up and every region with a majority of voters on
// live stores. Nothing here asserts a time.
//
// Run alone (needs TIKV_EAR_REALPARTS, like make test-real):
//
//	go test -tags realparts -run '^$' -bench '^BenchmarkRealRollout$' -benchtime 1x ./e2e/
func BenchmarkRealRollout(b *testing.B) {
	for range b.N {
		var lines []string
		for _, batching := range []string{"serial", "zone"} {
			simPD := timedApply(b, 0, batching)
			realPD := timedApply(b, 1, batching)
			ratio := realPD.wall.Seconds() / simPD.wall.Seconds()
			b.Logf("%d stores, %s: sim PD wall %s (wall/floor %s), real PD wall %s (wall/floor %s), real/sim %.2f", benchStores, batching,
				simPD.wall.Round(100*time.Millisecond), simPD.wallFloor, realPD.wall.Round(100*time.Millisecond), realPD.wallFloor, ratio)
			lines = append(lines, fmt.Sprintf("| %d | %s | %.1f s | %.1f s | %.2f | %s | %s |", benchStores, batching,
				simPD.wall.Seconds(), realPD.wall.Seconds(), ratio, simPD.wallFloor, realPD.wallFloor))
			b.ReportMetric(simPD.wall.Seconds(), "sim-pd-s/"+batching)
			b.ReportMetric(realPD.wall.Seconds(), "real-pd-s/"+batching)
			b.ReportMetric(ratio, "real/sim/"+batching)
		}
		fmt.Printf("\nRollout on a real pd-server beside the in-process PD, %d stores, %d zones, %d regions, sim ×10; wall seconds; %d CPUs, load %s\n",
			benchStores, benchZones, benchRegions, runtime.NumCPU(), sim.LoadAverage())
		fmt.Println("| stores | batching | sim-PD wall | real-PD wall | real/sim | sim-PD wall/floor | real-PD wall/floor |")
		fmt.Println("|---|---|---|---|---|---|---|")
		fmt.Println(strings.Join(lines, "\n"))
	}
}
