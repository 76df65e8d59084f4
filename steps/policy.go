package steps

import (
	"fmt"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/schedule"
)

// Runners a rotation schedule can be installed with.
const (
	RunnerSystemd    = "systemd"
	RunnerCron       = "cron"
	RunnerKubernetes = "kubernetes"
	// RunnerManual is the report's mechanism when no runner is installed.
	RunnerManual = "manual"
)

// PlanPolicy reads the rotation policy of a plan's [schedule] table (and the
// data-key period of [target]); path is used in errors. Warnings are periods
// outside NIST SP 800-57 Pt1's suggested cryptoperiods.
func PlanPolicy(path string, p *Plan) (schedule.Policy, []string, error) {
	pol := schedule.DefaultPolicy()
	if p.Target.DataKeyRotationPeriod != "" {
		pol.DataKeyRotationPeriod = p.Target.DataKeyRotationPeriod
	}
	for _, f := range []struct {
		key, val string
		dst      *time.Duration
	}{
		{"schedule.master-key-rotation", p.Schedule.MasterKeyRotation, &pol.MasterKeyPeriod},
		{"schedule.signing-key-rotation", p.Schedule.SigningKeyRotation, &pol.SigningKeyPeriod},
	} {
		if f.val == "" {
			continue
		}
		d, err := tikv.ParseReadableDuration(f.val)
		if err == nil && (d < schedule.Day || d%schedule.Day != 0) {
			err = fmt.Errorf("%q is not a whole number of days", f.val)
		}
		if err != nil {
			return pol, nil, &PlanError{File: path, Key: f.key, Msg: err.Error(), Fix: "write whole days, e.g. \"365d\""}
		}
		*f.dst = d
	}
	switch p.Schedule.Runner {
	case "", RunnerSystemd, RunnerCron, RunnerKubernetes:
	default:
		return pol, nil, &PlanError{File: path, Key: "schedule.runner", Msg: fmt.Sprintf("%q is not a runner", p.Schedule.Runner), Fix: "use systemd, cron or kubernetes, or leave it empty (manual)"}
	}
	warnings, err := pol.Check()
	if err != nil {
		return pol, nil, &PlanError{File: path, Key: "schedule", Msg: err.Error(), Fix: "fix the periods in [schedule] and [target] data-key-rotation-period"}
	}
	return pol, warnings, nil
}
