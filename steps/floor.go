package steps

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// FloorParams are the cluster's own parameters that bound how fast any tool,
// however clever, can take a batch through a restart. Nothing the tool does
// (polling, SSH, staging, reporting) appears in them.
type FloorParams struct {
	// Leaders is each store's leader count before the run (PD /stores leader_count).
	Leaders map[uint64]int
	// EvictRate is how many leaders per second PD moves off one evicted store:
	// the evict-leader scheduler's batch per scheduling round (tikv/pd
	// pkg/schedule/schedulers/evict_leader.go EvictLeaderBatchSize, default 3).
	EvictRate float64
	// Restart is TiKV's own start: from the stop to serving again.
	Restart time.Duration
	// CatchUp is how long the restarted peers stay behind (PD pending peers)
	// before the next batch may restart without risking a quorum.
	CatchUp time.Duration
}

// BatchFloor is one batch's floor and its parts.
type BatchFloor struct {
	Index                   int
	Stores                  int
	Leaders                 int // the most leaders on one store of the batch
	Evict, Restart, CatchUp time.Duration
	// EvictAhead: the batch may evict while the previous one restarts (Batch.EvictAhead).
	EvictAhead bool
}

// Total is the batch's floor: evicting its most loaded store, the restart and the catch-up.
func (b BatchFloor) Total() time.Duration { return b.Evict + b.Restart + b.CatchUp }

// Floor is the physical floor of a whole rollout.
type Floor struct {
	Batches []BatchFloor
	Params  FloorParams
}

// Total is the rollout's floor: every batch's eviction, restart and
// catch-up, with the overlaps the plan allows. A batch's eviction may overlap
// the previous batch's catch-up (leaders can move while the restarted peers
// catch up; only the next restart must wait for them), and a batch that
// evicts ahead (Batch.EvictAhead) may evict from the moment the previous
// batch restarts. The next restart waits for both the previous batch's
// catch-up and its own eviction. The sum of the batches' own floors without
// these overlaps is not a floor: a run that overlaps them beat it (issue 17
// measured serial runs at 0.93 of it).
func (f Floor) Total() time.Duration {
	if len(f.Batches) == 0 {
		return 0
	}
	t := f.Batches[0].Evict // when the first restart may begin
	for i, b := range f.Batches {
		caughtUp := t + b.Restart + b.CatchUp
		if i+1 == len(f.Batches) {
			return caughtUp
		}
		next := f.Batches[i+1]
		evictFrom := t + b.Restart
		if next.EvictAhead {
			evictFrom = t
		}
		t = max(caughtUp, evictFrom+next.Evict)
	}
	return t
}

// PhysicalFloor computes the floor of a batch plan: per batch, the leaders of
// its most loaded store at PD's eviction rate (the stores of a batch are
// evicted at once, each by its own scheduler entry), then one restart and
// one catch-up (the batch's stores restart together). A store without
// leaders costs no eviction.
func PhysicalFloor(bp BatchPlan, p FloorParams) Floor {
	f := Floor{Params: p}
	for _, b := range bp.Batches {
		bf := BatchFloor{Index: b.Index, Stores: len(b.Stores), Restart: p.Restart, CatchUp: p.CatchUp, EvictAhead: b.EvictAhead}
		for _, id := range b.Stores {
			bf.Leaders = max(bf.Leaders, p.Leaders[id])
		}
		if bf.Leaders > 0 && p.EvictRate > 0 {
			bf.Evict = time.Duration(math.Ceil(float64(bf.Leaders)/p.EvictRate*1e3)) * time.Millisecond
		}
		f.Batches = append(f.Batches, bf)
	}
	return f
}

// FloorObserver is a Sink that keeps what a run shows of the cluster's own
// speed (the leader-count samples of every eviction), so that a floor can be
// computed when the parameters cannot be read from the cluster. Put it in a
// Fanout with the run's other sinks.
type FloorObserver struct {
	mu      sync.Mutex
	leaders map[uint64]int
	rate    float64
	started map[uint64]time.Time
}

// Emit records when each eviction started and when it reached no leaders.
// The rate is a whole eviction's (leaders ÷ the time from the scheduler's
// addition to the first sample with none left), not one between two close
// samples: the event times are the tool's, and a short interval between
// two of them says more about the tool's scheduling than about PD's.
func (o *FloorObserver) Emit(e Event) {
	if e.Step != StepEvict || (e.Kind != StepStarted && e.Kind != MetricSample) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.leaders == nil {
		o.leaders, o.started = map[uint64]int{}, map[uint64]time.Time{}
	}
	if e.Kind == StepStarted {
		o.started[e.StoreID] = e.Time
		return
	}
	if e.Metrics == nil {
		return
	}
	o.leaders[e.StoreID] = max(o.leaders[e.StoreID], e.Total)
	t0, ok := o.started[e.StoreID]
	if !ok {
		o.started[e.StoreID] = e.Time // no start seen: the first sample stands for it
		return
	}
	if e.Metrics.Leaders == 0 && e.Total > 0 {
		if dt := e.Time.Sub(t0).Seconds(); dt > 0 {
			o.rate = max(o.rate, float64(e.Total)/dt)
		}
		delete(o.started, e.StoreID) // later samples of a finished eviction say nothing more
	}
}

// Params derives the floor's parameters from what the run saw: the leaders
// each store had before its eviction, PD's fastest whole eviction (leaders ÷
// seconds) of any store, and TiKV's fastest restart-to-ready of any store.
// Each is the cluster's best observed performance, so the floor stays a lower
// bound: the tool's polling can only make an observed rate lower or a restart
// longer. The catch-up is not observed per store and is left at zero.
func (o *FloorObserver) Params(res *Result) FloorParams {
	o.mu.Lock()
	p := FloorParams{Leaders: map[uint64]int{}, EvictRate: o.rate}
	for id, n := range o.leaders {
		p.Leaders[id] = n
	}
	o.mu.Unlock()
	if res == nil {
		return p
	}
	for _, sr := range res.Stores {
		var restart time.Duration
		var ready bool
		for _, ph := range sr.Phases {
			if (ph.Step == StepRestart || ph.Step == StepReady) && ph.OK {
				restart += ph.End.Sub(ph.Start)
				ready = ready || ph.Step == StepReady
			}
		}
		if ready && (p.Restart == 0 || restart < p.Restart) {
			p.Restart = restart
		}
	}
	return p
}

// FloorLine is what apply prints at the end: the run's wall time, its floor and the ratio.
func FloorLine(wall time.Duration, f Floor) string {
	total := f.Total()
	ratio := "n/a"
	if total > 0 {
		ratio = fmt.Sprintf("%.2f", wall.Seconds()/total.Seconds())
	}
	return fmt.Sprintf("wall %s, physical floor %s (%d batches: eviction at %.1f leaders/s, restart %s, catch-up %s), wall/floor %s",
		wall.Round(100*time.Millisecond), total.Round(100*time.Millisecond), len(f.Batches), f.Params.EvictRate,
		f.Params.Restart.Round(100*time.Millisecond), f.Params.CatchUp.Round(100*time.Millisecond), ratio)
}

// Summary is apply's closing line for a run of bp that took wall: the floor
// from what the run observed of the cluster, and how close the run came.
// Only the stores this run restarted count: a resumed run verifies the
// stores an earlier run finished without restarting them, and a floor that
// counted their batches would not be a floor (a resume measured 0.76 of one).
func (o *FloorObserver) Summary(bp BatchPlan, res *Result, wall time.Duration) string {
	return FloorLine(wall, PhysicalFloor(restartedBatches(bp, res), o.Params(res)))
}

// restartedBatches keeps, batch by batch, the stores res shows this run
// restarted, and drops batches left empty; without a result it is bp.
func restartedBatches(bp BatchPlan, res *Result) BatchPlan {
	if res == nil {
		return bp
	}
	restarted := map[uint64]bool{}
	for _, sr := range res.Stores {
		if !sr.Skipped && slices.ContainsFunc(sr.Phases, func(ph Phase) bool { return ph.Step == StepRestart }) {
			restarted[sr.StoreID] = true
		}
	}
	out := bp
	out.Batches = nil
	for _, b := range bp.Batches {
		kept := b
		kept.Stores = slices.DeleteFunc(slices.Clone(b.Stores), func(id uint64) bool { return !restarted[id] })
		if len(kept.Stores) > 0 {
			out.Batches = append(out.Batches, kept)
		}
	}
	return out
}
