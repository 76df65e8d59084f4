package steps_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// Benchmark cluster: 30 stores over 3 zones with 3000 regions (300 replicas
// and 100 leaders per store). Sim time runs benchSpeed times faster than wall
// time; the plan's polls are the production 2s scaled the same way. At ×40 a
// 10 s restart takes 250 ms of wall time, so the fixed real-time cost of SSH
// on this machine (staging 30 hosts: ~0.6 s) does not dominate the figures.
const (
	benchStores  = 30
	benchZones   = 3
	benchRegions = 3000
	benchSpeed   = 40
	// benchRestart is the fixed (sim) time every TiKV start takes (slow-start on every node).
	benchRestart = 10 * time.Second
)

// rolloutFigures is what one rollout measured.
type rolloutFigures struct {
	wall, floor time.Duration
	batches     []batchFigures
	steps       map[string]time.Duration // run-wide steps: stage, finalize
}

type batchFigures struct {
	index  int
	stores int
	wall   time.Duration            // first phase start to last phase end of the batch
	floor  time.Duration            // the slowest store's evict + restart + ready + settle
	phases map[string]time.Duration // the slowest store's time in each step
}

// floorOf computes, from the runner's per-store Phase records, Σ over batches
// of the slowest store's eviction + restart + ready (the start) + settle
// (catch-up and leaders back): the time no runner can go below.
func floorOf(res *steps.Result) rolloutFigures {
	byID := map[uint64]*steps.StoreResult{}
	for _, sr := range res.Stores {
		byID[sr.StoreID] = sr
	}
	f := rolloutFigures{wall: res.Finished.Sub(res.Started), steps: map[string]time.Duration{}}
	started := map[string]time.Time{}
	for _, ev := range res.Timeline {
		if ev.StoreID != 0 || (ev.Step != steps.StepStage && ev.Step != steps.StepFinalize) {
			continue
		}
		switch ev.Kind {
		case steps.StepStarted:
			started[ev.Step] = ev.Time
		case steps.StepDone:
			f.steps[ev.Step] = ev.Time.Sub(started[ev.Step])
		}
	}
	for _, b := range res.Batches.Batches {
		bf := batchFigures{index: b.Index, stores: len(b.Stores), phases: map[string]time.Duration{}}
		var first, last time.Time
		for _, id := range b.Stores {
			sr := byID[id]
			if sr == nil {
				continue
			}
			var sum time.Duration
			for _, p := range sr.Phases {
				bf.phases[p.Step] = max(bf.phases[p.Step], p.End.Sub(p.Start))
				switch p.Step {
				case steps.StepEvict, steps.StepRestart, steps.StepReady, steps.StepSettle:
					sum += p.End.Sub(p.Start)
				}
				if first.IsZero() || p.Start.Before(first) {
					first = p.Start
				}
				if p.End.After(last) {
					last = p.End
				}
			}
			bf.floor = max(bf.floor, sum)
		}
		bf.wall = last.Sub(first)
		f.floor += bf.floor
		f.batches = append(f.batches, bf)
	}
	return f
}

// rollout starts a fresh benchmark cluster and times one rollout with batching.
func rollout(b *testing.B, batching string) rolloutFigures {
	b.StopTimer()
	poll := 2 * time.Second / benchSpeed
	e := startSim(b, simConfig{Stores: benchStores, Zones: benchZones, Regions: benchRegions, Speed: benchSpeed,
		Batching: batching, Canary: 1, Strategy: func(s *steps.Strategy) {
			s.EvictTimeout, s.EvictPoll = steps.D(time.Minute), steps.D(poll)
			s.ReadyTimeout, s.ReadyPoll = steps.D(time.Minute), steps.D(poll)
			s.SettleTimeout, s.SettlePoll = steps.D(time.Minute), steps.D(poll)
			s.VerifyTimeout = steps.D(30 * time.Second)
		}})
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultSlowStart, Duration: benchRestart}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	bp := e.batches(ctx)
	if bp.Strategy != batching {
		b.Fatalf("batching %s, want %s: %s", bp.Strategy, batching, bp.Reason)
	}
	// apply runs preflight over the same SSH client first, so the runner finds
	// its connections pooled; so does the benchmark.
	if blocking := steps.Blocking(steps.RunPreflight(steps.GatherFacts(ctx, e.plan, steps.PDClient{C: e.pdc}, e.nodes, 20))); len(blocking) > 0 {
		b.Fatalf("preflight: %+v", blocking)
	}
	r := e.runner(e.openJournal(), nil)
	b.StartTimer()
	res, err := r.Run(ctx, bp)
	b.StopTimer()
	if err != nil {
		b.Fatalf("%s rollout: %v", batching, err)
	}
	e.assertSafe(ctx, batching+" rollout")
	e.assertAllVerified(res)
	return floorOf(res)
}

func (f rolloutFigures) String() string {
	var sb strings.Builder
	var inBatches time.Duration
	for _, bf := range f.batches {
		inBatches += bf.wall
	}
	fmt.Fprintf(&sb, "wall %s, floor %s, wall/floor %.2f; stage %s, finalize %s, outside batches %s\n", f.wall.Round(time.Millisecond), f.floor.Round(time.Millisecond), f.wall.Seconds()/f.floor.Seconds(),
		f.steps[steps.StepStage].Round(time.Millisecond), f.steps[steps.StepFinalize].Round(time.Millisecond), (f.wall - inBatches).Round(time.Millisecond))
	for _, bf := range f.batches {
		fmt.Fprintf(&sb, "  batch %2d (%2d stores): wall %s floor %s; slowest", bf.index, bf.stores, bf.wall.Round(time.Millisecond), bf.floor.Round(time.Millisecond))
		for _, step := range []string{steps.StepEvict, steps.StepSwap, steps.StepRestart, steps.StepReady, steps.StepVerify, steps.StepSettle} {
			fmt.Fprintf(&sb, " %s %s", step, bf.phases[step].Round(time.Millisecond))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// BenchmarkRollout times a rollout of a 30-store / 3-zone / 3000-region sim
// with serial and with zone batching and reports wall time, the floor (Σ of
// each batch's slowest eviction + restart + catch-up) and their ratios. The
// issue's targets: zone ≤ 0.4× serial, wall/floor ≤ 1.10. No timed assertions.
func BenchmarkRollout(b *testing.B) {
	for i := 0; i < b.N; i++ {
		serial := rollout(b, steps.BatchSerial)
		zone := rollout(b, steps.BatchZone)
		b.Logf("serial: %s", serial)
		b.Logf("zone: %s", zone)
		b.ReportMetric(serial.wall.Seconds(), "serial-s")
		b.ReportMetric(zone.wall.Seconds(), "zone-s")
		b.ReportMetric(zone.wall.Seconds()/serial.wall.Seconds(), "zone/serial")
		b.ReportMetric(serial.wall.Seconds()/serial.floor.Seconds(), "serial-wall/floor")
		b.ReportMetric(zone.wall.Seconds()/zone.floor.Seconds(), "zone-wall/floor")
	}
}
