// Package tikv is the leaf of the cluster rooms: the model of a TiKV node as
// tikv-ear sees it from outside, and the constants that pin it to upstream.
// It holds the [security.encryption] model (Encryption, MasterKey), its
// validation against TiKV's own rules, version gates, TiKV's readable
// durations, config key paths, metric and file-format constants, and (until
// the log reader gets its own room) the unified log-line parser and the
// message catalogue. It imports the standard library only, so every room may
// import it: the key backends, the report and the simulated cluster included.
// Parsers and clients that need third-party modules live beside it:
// cluster/tikvconf (tikv.toml reader and comment-preserving editor, go-toml),
// cluster/tikvdisk (key.dict, file.dict and the on-disk proof, kvproto) and
// cluster/tikvstatus (the status-port client, Prometheus text format).
package tikv
