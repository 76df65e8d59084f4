package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// ScheduleOptions implements ui.Driver: the systemd timer, cron line and
// Kubernetes CronJob that run 'tikv-ear rotate PLAN --yes --output json',
// plus the KMS's own rotation where there is one. Nothing is written here:
// only the option the operator chooses is written, with the period chosen
// (installSchedule, when the report is written).
func (d *Driver) ScheduleOptions(ctx context.Context, prev ui.PlanPreview) ([]ui.ScheduleOption, error) {
	p := prev.Plan
	if p == nil {
		return nil, errors.New("no plan: build one first")
	}
	periodText := steps.FirstNonEmpty(p.Schedule.MasterKeyRotation, d.cfg.Rotation)
	period, err := tikv.ParseReadableDuration(periodText)
	if err != nil {
		return nil, fmt.Errorf("plan [schedule] master-key-rotation %q: %w", periodText, err)
	}
	planAbs, err := filepath.Abs(d.planPath())
	if err != nil {
		return nil, err
	}
	dir := d.scheduleDir(planAbs)
	var out []ui.ScheduleOption
	switch p.Target.Key.Backend {
	case "aws":
		if a := p.Target.Key.AWS; a != nil {
			if n, err := schedule.AWSKeyRotation(a.KeyID, int(period/schedule.Day)); err == nil {
				// Transparent to TiKV: kms/awskms package doc (reference kms-and-evidence.md §2.1).
				out = append(out, ui.ScheduleOption{ID: "aws-auto", Title: "AWS KMS automatic key rotation", Period: periodText, KMSNative: true,
					Install: n.Setting + "=" + n.Value, Notes: "transparent to TiKV: old ciphertexts still decrypt, no restart"})
			}
		}
	case "vault":
		if v := p.Target.Key.Vault; v != nil && v.KEK != "" {
			if n, err := schedule.VaultTransitAutoRotate(v.KEK, period); err == nil {
				out = append(out, ui.ScheduleOption{ID: "vault-auto", Title: "Vault transit auto-rotation of the wrapping key", Period: periodText, KMSNative: true,
					Install: n.Setting + "=" + n.Value, Notes: "rewrap the stored TiKV key after each rotation"})
			}
		}
	}
	out = append(out,
		ui.ScheduleOption{ID: steps.RunnerSystemd, Title: "systemd timer on this machine", Period: periodText,
			Artefact: filepath.Join(dir, schedule.DefaultName+".timer"),
			Install:  "systemctl enable --now " + schedule.DefaultName + ".timer",
			Notes:    "copy the .service and .timer to /etc/systemd/system first; runs tikv-ear rotate"},
		ui.ScheduleOption{ID: steps.RunnerCron, Title: "cron on this machine", Period: periodText,
			Artefact: filepath.Join(dir, schedule.DefaultName+".cron"),
			Install:  "copy it to /etc/cron.d/" + schedule.DefaultName, Notes: "cron does not catch up a run missed while the machine is off"},
		ui.ScheduleOption{ID: steps.RunnerKubernetes, Title: "Kubernetes CronJob", Period: periodText,
			Artefact: filepath.Join(dir, schedule.DefaultName+"-cronjob.yaml"),
			Install:  "kubectl apply -f " + schedule.DefaultName + "-cronjob.yaml", Notes: "edit its image, ConfigMap and volume claim names first"},
		ui.ScheduleOption{ID: steps.RunnerManual, Title: "no schedule: I rotate by hand", Period: periodText,
			Install: "tikv-ear rotate " + filepath.Base(planAbs), Notes: "the report records the rotation as manual"})
	return out, nil
}

// scheduleDir is where the wizard writes the chosen schedule's files: beside the plan.
func (d *Driver) scheduleDir(planAbs string) string {
	return filepath.Join(filepath.Dir(planAbs), "tikv-ear-schedule")
}

// installSchedule writes the files of the schedule the operator chose, and
// only those, with the period chosen, and records the runner and the
// period in plan.toml's [schedule] (steps.RecordSchedule), as 'tikv-ear
// schedule install' does. A KMS-native choice records the period only.
func (d *Driver) installSchedule(sc ui.ScheduleOption, prev ui.PlanPreview) error {
	p := prev.Plan
	if p == nil {
		return errors.New("no plan: build one first")
	}
	period, err := tikv.ParseReadableDuration(sc.Period)
	if err != nil || period < schedule.Day || period%schedule.Day != 0 {
		return fmt.Errorf("rotation period %q is not a whole number of days", sc.Period)
	}
	planAbs, err := filepath.Abs(d.planPath())
	if err != nil {
		return err
	}
	reportAbs, err := filepath.Abs(steps.FirstNonEmpty(p.Report.Dir, d.cfg.ReportDir))
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	switch sc.ID {
	case steps.RunnerSystemd, steps.RunnerCron:
		bin, err := os.Executable()
		if err != nil {
			return fmt.Errorf("locating the tikv-ear binary: %w", err)
		}
		job := schedule.Job{Binary: bin, Plan: planAbs, ReportDir: reportAbs, Period: period}
		if sc.ID == steps.RunnerSystemd {
			svc, timer, err := schedule.Systemd(job)
			if err != nil {
				return err
			}
			files[schedule.DefaultName+".service"], files[schedule.DefaultName+".timer"] = svc, timer
		} else {
			line, err := schedule.Cron(job)
			if err != nil {
				return err
			}
			files[schedule.DefaultName+".cron"] = []byte(line)
		}
	case steps.RunnerKubernetes:
		kjob := schedule.Job{Binary: "/usr/local/bin/tikv-ear", Plan: "/etc/tikv-ear/plan.toml", ReportDir: "/var/lib/tikv-ear/reports", Period: period}
		cj, err := schedule.KubernetesCronJob(kjob, schedule.Kube{Image: "tikv-ear:" + steps.ToolVersion, PlanConfigMap: "tikv-ear-plan", ReportsClaim: "tikv-ear-reports"})
		if err != nil {
			return err
		}
		yml, err := cj.YAML()
		if err != nil {
			return err
		}
		files[schedule.DefaultName+"-cronjob.yaml"] = yml
	}
	if len(files) > 0 {
		dir := d.scheduleDir(planAbs)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		for name, data := range files {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
		}
	}
	return steps.RecordSchedule(planAbs, func(s *steps.ScheduleSection) {
		s.MasterKeyRotation = sc.Period
		switch sc.ID {
		case steps.RunnerSystemd, steps.RunnerCron, steps.RunnerKubernetes:
			s.Runner = sc.ID
		case steps.RunnerManual:
			s.Runner = ""
		}
	})
}
