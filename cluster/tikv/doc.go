// Package tikv is the room that understands a TiKV node from the outside: the
// [security.encryption] model of tikv.toml and its comment-preserving editor,
// the unified log-line parser and the message catalogue, the status-port client,
// readers for key.dict and file.dict, and the on-disk proof (SST trailers and
// Raft Engine headers). It never writes TiKV's binary formats; the simulated
// cluster in package sim has its own writers, so one misreading cannot hide another.
package tikv
