// Package pd is the room that talks to PD's HTTP API (tikv/pd server/api,
// reference pd-and-tiup.md §1): stores, members, health, replication config,
// the evict-leader scheduler and region health checks. Any PD member is an
// entry point; the client moves to the next endpoint on connection errors and
// retries PD's 503 "no leader" with backoff. It speaks plain HTTP(S) with
// optional mTLS (TiUP's tls/{ca.crt,client.crt,client.pem}) and never imports
// the sim, the engine or the UI.
//
// Every write it issues is idempotent on PD's side (adding a store to
// evict-leader-scheduler twice answers 200 both times; removing it twice
// answers 404, which counts as success), so a request retried after a
// timeout cannot do harm. It never calls the suffix-less
// DELETE /pd/api/v1/schedulers/evict-leader-scheduler, which would drop the
// scheduler for every store.
package pd
