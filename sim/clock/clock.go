// Package clock is the simulated cluster's time source: every duration inside
// the sim (heartbeats, max-store-down-time, restart delays, compaction,
// data-key rotation) passes through a Clock whose speed factor compresses it,
// so tests and the demo run a day of cluster life in seconds.
//
// Sim time starts at the wall-clock time of New and advances Speed times faster
// than the wall clock. A Clock is safe for concurrent use and holds no globals.
package clock

import (
	"context"
	"time"
)

// Clock maps sim durations to wall durations by a constant speed factor.
type Clock struct {
	speed float64
	start time.Time // wall time at creation
}

// New returns a clock running speed times faster than real time. A speed <= 0 means 1.
func New(speed float64) *Clock {
	if speed <= 0 {
		speed = 1
	}
	return &Clock{speed: speed, start: time.Now()}
}

// Speed returns the speed factor.
func (c *Clock) Speed() float64 { return c.speed }

// Now returns the current sim time.
func (c *Clock) Now() time.Time {
	elapsed := time.Since(c.start)
	return c.start.Add(time.Duration(float64(elapsed) * c.speed))
}

// Wall converts a sim duration to the wall duration it takes.
func (c *Clock) Wall(d time.Duration) time.Duration {
	w := time.Duration(float64(d) / c.speed)
	if d > 0 && w <= 0 {
		w = 1
	}
	return w
}

// Sim converts a wall duration to the sim duration it represents.
func (c *Clock) Sim(wall time.Duration) time.Duration {
	return time.Duration(float64(wall) * c.speed)
}

// Sleep waits for the sim duration d, or until ctx is done; it reports whether the full duration passed.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(c.Wall(d))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// NewTicker returns a wall ticker that fires every sim duration d.
func (c *Clock) NewTicker(d time.Duration) *time.Ticker {
	return time.NewTicker(c.Wall(d))
}

// AfterFunc runs f after the sim duration d.
func (c *Clock) AfterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(c.Wall(d), f)
}
