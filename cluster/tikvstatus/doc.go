// Package tikvstatus is the status-port room: the client of a TiKV node's
// status port (/metrics, /status, /config) and the parsers of what it
// returns (Prometheus text format for the leader count and the
// tikv_encryption_* gauges, the JSON config for the running encryption).
// It imports cluster/tikv and the Prometheus text-format parser.
package tikvstatus
