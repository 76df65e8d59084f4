package sim

import (
	"context"
	"testing"
	"time"
)

// TestHealthReportsTicksQuorumAndLedger reads GET /health from the control
// server: ticks run and due are counted, the ledger acknowledges writes, and
// stopping two of three voters' processes shows up as quorum losses.
func TestHealthReportsTicksQuorumAndLedger(t *testing.T) {
	c := startSim(t, Options{Stores: 3, Regions: 6})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var h Health
	var err error
	for h.Ticks.Run == 0 || h.Ledger.Acked == 0 {
		if h, err = ReadHealth(ctx, c.ControlURL()); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("no tick or ledger write reported: %+v", h)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if h.PD != "sim" || !h.Known || h.Stores != 3 || h.Regions != 6 || h.Ticks.Due == 0 || h.Ticks.Ratio <= 0 || !h.OK() {
		t.Fatalf("health = %+v, want 3 stores, 6 regions, ticks due, no loss", h)
	}
	c.Nodes()[0].Proc.Stop()
	c.Nodes()[1].Proc.Stop()
	if h, err = ReadHealth(ctx, c.ControlURL()); err != nil {
		t.Fatal(err)
	}
	if len(h.QuorumLosses) != 6 || h.OK() {
		t.Fatalf("with 2 of 3 voters stopped: %d quorum losses (want 6), OK %v", len(h.QuorumLosses), h.OK())
	}
}

// TestTickHealthSince: the window's ticks are the difference of two readings,
// its ratio run/due within it, and a window below MinTickRatio does not keep the clock.
func TestTickHealthSince(t *testing.T) {
	before := TickHealth{Run: 100, Due: 100, MeanCostMS: 2}
	after := TickHealth{Run: 190, Due: 200, MeanCostMS: 2.6}
	w := after.Since(before)
	if w.Run != 90 || w.Due != 100 || w.Ratio < 0.8999 || w.Ratio > 0.9001 || w.KeepsClock() {
		t.Errorf("window = %+v, want 90/100 = 0.9, not keeping the clock", w)
	}
	// 190 ticks at 2.6 ms (494 ms) less 100 at 2 ms (200 ms): 294 ms over 90 ticks.
	if got, want := w.MeanCostMS, 294.0/90; got < want-1e-6 || got > want+1e-6 {
		t.Errorf("mean cost in the window = %v ms, want %v", got, want)
	}
	if w := before.Since(before); w.Ratio != 1 || !w.KeepsClock() {
		t.Errorf("empty window = %+v, want ratio 1", w)
	}
}
