// Package schedule renders the artefacts that keep master keys rotating: a
// systemd service and timer, a cron line or a Kubernetes CronJob running
// tikv-ear rotate, plus the KMS-native auto-rotation settings reported beside them.
package schedule
