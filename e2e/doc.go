// Package e2e holds end-to-end tests that drive the tikv-ear binary, as an
// operator would, against the simulated cluster running on real upstream
// servers (a real pd-server: build tag realparts, make test-real). It has no
// code of its own: the tests judge the outcome from PD's own API.
package e2e
