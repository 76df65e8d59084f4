// Package sim is the simulated TiKV cluster that stands in for TiKV and PD,
// which cannot run here: PD's HTTP API, TiKV nodes that read tikv.toml and
// behave as TiKV does (validation, encryption dictionaries, logs, metrics, data
// files), TiUP-style hosts each with an in-process SSH server, faults on demand,
// and invariants (quorum losses, a write ledger) for tests and benchmarks. It is
// the test bed and the embedded default of tikv-ear demo. Every listener binds 127.0.0.1.
package sim
