package cli

import (
	"context"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
)

// startSim starts a small fast sim for one test.
func startSim(t *testing.T, stores int) *sim.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := sim.Start(ctx, sim.Options{Stores: stores, Zones: 3, Regions: 60, Speed: 100})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}
