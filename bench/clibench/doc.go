// Package clibench measures tikv-ear's commands as an operator runs them: the
// built binary against a large simulated cluster, each command in its own
// process, so that wall time and peak memory are the process's own. It holds
// benchmarks only (make bench); nothing here runs in make test.
package clibench
