package steps

import (
	"os"
	"runtime/debug"
)

// Heap bound of a run: a base for the process (binary, clients, report) and
// a share per store (its SSH connection, its goroutines, its part of every
// PD answer, most of them decoded while its neighbours' are too).
const (
	heapBase     = 64 << 20
	heapPerStore = 128 << 10
)

// BoundHeap sets the Go runtime's soft memory limit for a run over stores
// stores, unless the operator set GOMEMLIMIT (which then rules): the
// collector works harder near the limit instead of letting garbage grow to
// twice the live heap (GOGC's default) when a whole zone's stores poll at
// once. It is soft: above it the runtime keeps running and caps the
// collector's share of the CPU, so a cluster that truly needs more memory
// gets it, only with more collection. It returns the limit in force.
func BoundHeap(stores int) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1) // a negative input reads the limit
	}
	limit := int64(heapBase) + int64(max(stores, 0))*heapPerStore
	debug.SetMemoryLimit(limit)
	return limit
}
