package steps

import (
	"fmt"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
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

// MasterKeyAge works out where the plan's master-key generation stands
// against period as of now. The last rotation is the generation's creation
// time from the plan (ref.Created), else from the backend's evidence (ev may
// be nil), else the newest "persisted result after replace master key." line
// gathered from the stores (rep may be nil). The key's creation is preferred
// to the log line because it is the earlier moment: the key's cryptoperiod
// starts when it is made.
func MasterKeyAge(rep *gather.Report, ref kms.KeyRef, ev *kms.Evidence, period time.Duration, now time.Time) *gather.MasterKeyAge {
	age := &gather.MasterKeyAge{Generation: ref.Generation, Backend: ref.Backend, KeyID: ref.ID, PeriodDays: int(period / schedule.Day)}
	var last time.Time
	switch {
	case !ref.Created.IsZero():
		last, age.LastRotationSource = ref.Created, gather.RotationFromPlan
	case ev != nil && !ev.Created.IsZero():
		last, age.LastRotationSource = ev.Created, gather.RotationFromBackend
	}
	if rep != nil {
		if at, store, ok := gather.LastReplaceMasterKey(rep); ok {
			at = at.UTC()
			if !now.IsZero() && at.After(now) {
				// A log stamped in the future is clock skew (or the sim's
				// clock): never report a future time, say by how much instead.
				age.LogAhead = at.Sub(now).Round(time.Second).String()
				at = now.UTC()
			}
			age.LogConfirmed, age.LogConfirmedStore = &at, store
			if last.IsZero() {
				last, age.LastRotationSource = at, gather.RotationFromLog
			}
		}
	}
	due := schedule.Status(period, last, now)
	age.Overdue = due.Overdue
	if !last.IsZero() {
		l, n := last.UTC(), due.NextDue.UTC()
		age.LastRotation, age.NextDue = &l, &n
		age.AgeDays = int(due.Age / schedule.Day)
	}
	return age
}

// NativeOption is a key backend's own automatic rotation, with why it does
// or does not touch TiKV.
type NativeOption struct {
	Backend string   `json:"backend"`
	Setting string   `json:"setting"`
	Value   string   `json:"value"`
	Why     string   `json:"why"`
	Notes   []string `json:"notes,omitempty"`
}

// NativeOptions lists the KMS-native rotation settings that fit the plan's
// backend (Vault transit auto_rotate_period, AWS EnableKeyRotation); none for
// file, GCP and Azure keys.
func NativeOptions(p *Plan, pol schedule.Policy) []NativeOption {
	spec := p.Target.Key
	switch {
	case spec.Backend == "vault" && spec.Vault != nil:
		kek := spec.Vault.KEK
		if kek == "" {
			kek = "tikv-" + spec.Vault.Cluster + "-kek" // kms/vault Config: default KEK tikv-<cluster>-kek
		}
		n, err := schedule.VaultTransitAutoRotate(kek, pol.MasterKeyPeriod)
		if err != nil {
			return nil
		}
		return []NativeOption{{Backend: n.Backend, Setting: n.Setting, Value: n.Value, Notes: n.Notes,
			// kms-and-evidence.md §2.2 step 7: TiKV only ever sees the unwrapped file key.
			Why: "The transit key only wraps the stored master key; TiKV gets the unwrapped file key and never talks to Vault, so transit rotation is invisible to TiKV. It does not replace the TiKV master key: keep the tikv-ear rotate schedule for that."}}
	case spec.Backend == "aws" && spec.AWS != nil:
		days := min(max(int(pol.MasterKeyPeriod/schedule.Day), schedule.AWSMinRotationDays), schedule.AWSMaxRotationDays)
		n, err := schedule.AWSKeyRotation(spec.AWS.KeyID, days)
		if err != nil {
			return nil
		}
		return []NativeOption{{Backend: n.Backend, Setting: n.Setting, Value: n.Value, Notes: n.Notes,
			// kms-and-evidence.md §2.1: TiKV uses only GenerateDataKey and Decrypt; old ciphertexts still decrypt.
			Why: "TiKV keeps the KMS ciphertext of its key in each encrypted header and calls only GenerateDataKey and Decrypt; AWS keeps every older key material of the CMK for Decrypt, so automatic or on-demand rotation of the same CMK is transparent to TiKV (no restart, no re-wrap of key.dict). Moving to a different CMK still needs 'tikv-ear rotate' (previous-master-key and a rolling restart)."}}
	}
	return nil
}

// RecordSchedule changes plan.toml's [schedule] under the rotation lock
// (<plan>.lock, which a running rotation holds), so the plan names the
// runner and period in force: `schedule show`, the report and the next
// rotation read them from there. edit changes the section; the result must
// still be a valid policy (PlanPolicy), else nothing is written.
func RecordSchedule(path string, edit func(*ScheduleSection)) error {
	unlock, err := schedule.Lock(path + ".lock")
	if err != nil {
		return Failf("a rotation is running; change the schedule after it finished", "%v", err)
	}
	defer unlock()
	p, err := LoadPlan(path)
	if err != nil {
		return err
	}
	before := p.Schedule
	edit(&p.Schedule)
	if p.Schedule == before {
		return nil
	}
	if _, _, err := PlanPolicy(path, p); err != nil {
		return err
	}
	return SavePlan(path, p)
}
