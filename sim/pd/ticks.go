package pd

import (
	"sync"
	"time"
)

// TickStats says whether the simulated PD keeps its clock: how many
// scheduling ticks ran against how many were due since Run started, and what
// a tick cost in wall time. Ratio below 1 means the sim fell behind (ticks
// were dropped because the previous one, or the lock, took too long), and a
// benchmark on it measures the sim rather than the code under test.
type TickStats struct {
	// Run is the number of ticks that ran; Due the number the clock asked for.
	Run, Due int64
	// Ratio is Run / Due (1 before the first tick is due).
	Ratio float64
	// Interval is the wall time between two ticks (TickInterval at the clock's speed).
	Interval time.Duration
	// Cost is the wall time all ticks took; MeanCost and MaxCost per tick
	// (lock wait included; MaxCost since Run started).
	Cost, MeanCost, MaxCost time.Duration
}

// Since returns the stats of the window between before and s (both from Ticks).
func (s TickStats) Since(before TickStats) TickStats {
	out := TickStats{Run: s.Run - before.Run, Due: s.Due - before.Due, Interval: s.Interval,
		Cost: s.Cost - before.Cost, MaxCost: s.MaxCost, Ratio: 1}
	if out.Due > 0 {
		out.Ratio = min(float64(out.Run)/float64(out.Due), 1)
	}
	if out.Run > 0 {
		out.MeanCost = out.Cost / time.Duration(out.Run)
	}
	return out
}

// tickStats is the tick loop's own record; it has its own lock so that
// reading it never waits on a tick.
type tickStats struct {
	mu       sync.Mutex
	started  time.Time // wall time Run began
	interval time.Duration
	run      int64
	total    time.Duration
	max      time.Duration
}

func (t *tickStats) begin(wall time.Time, interval time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started, t.interval = wall, interval
}

func (t *tickStats) ran(cost time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.run++
	t.total += cost
	t.max = max(t.max, cost)
}

func (t *tickStats) snapshot(wall time.Time) TickStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := TickStats{Run: t.run, Interval: t.interval, Cost: t.total, MaxCost: t.max, Ratio: 1}
	if t.interval > 0 && !t.started.IsZero() {
		out.Due = int64(wall.Sub(t.started) / t.interval)
	}
	if out.Due > 0 {
		// A tick in flight when the window closes counts as run: at most one.
		out.Ratio = min(float64(out.Run)/float64(out.Due), 1)
	}
	if t.run > 0 {
		out.MeanCost = t.total / time.Duration(t.run)
	}
	return out
}

// Ticks reports the scheduling ticks run against those due since Run started.
func (c *Cluster) Ticks() TickStats { return c.ticks.snapshot(time.Now()) }
