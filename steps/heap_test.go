package steps

import (
	"runtime/debug"
	"testing"
)

func TestBoundHeapGrowsWithStoresAndYieldsToGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	small, large := BoundHeap(3), BoundHeap(3000)
	if small < 64<<20 || large <= small || large-small != 2997*heapPerStore {
		t.Errorf("limits %d (3 stores) and %d (3000 stores): want a base plus a share per store", small, large)
	}
	if got := debug.SetMemoryLimit(-1); got != large {
		t.Errorf("limit in force %d, want %d", got, large)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	if got := BoundHeap(300); got != 1<<30 {
		t.Errorf("GOMEMLIMIT set: limit %d, want the operator's 1 GiB left alone", got)
	}
}
