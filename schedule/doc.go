// Package schedule renders the artefacts that keep master keys rotating: a
// systemd service and timer, a cron line or a Kubernetes CronJob running
// tikv-ear rotate, plus the KMS-native auto-rotation settings reported beside
// them, the rotation policy and its due-date math, and the flock that keeps
// two rotations from running at once.
//
// It writes no secrets into any artefact: Vault AppRole secret-ids are
// referenced by file path (systemd LoadCredential=, a Kubernetes Secret
// volume) and AWS credentials come from the instance role or profile. It
// does not talk to a cluster or a key backend.
package schedule
