// Package pd is the simulated Placement Driver of the simulated TiKV cluster:
// PD's HTTP API with the exact JSON shapes and quirks of tikv/pd (see
// /work/shared/reference/pd-and-tiup.md §1), and a small placement model of
// stores, regions, leaders, the evict-leader scheduler, a quorum tracker and a
// write ledger.
//
// It must not talk to anything outside the process: every listener binds
// 127.0.0.1, all durations run on the sim clock (sim/clock), and all state is
// guarded by one mutex. The simulated TiKV node (sim/node) drives it through
// StoreHeartbeat and StoreStopped; tests and benchmarks read the invariants
// through QuorumLosses and LedgerCheck.
package pd
