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
// written beside the plan, plus the KMS's own rotation where there is one.
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
	reportAbs, err := filepath.Abs(steps.FirstNonEmpty(p.Report.Dir, d.cfg.ReportDir))
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating the tikv-ear binary: %w", err)
	}
	job := schedule.Job{Binary: bin, Plan: planAbs, ReportDir: reportAbs, Period: period}
	dir := filepath.Join(filepath.Dir(planAbs), "tikv-ear-schedule")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	write := func(name string, data []byte) (string, error) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
		return path, nil
	}
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
	svc, timer, err := schedule.Systemd(job)
	if err != nil {
		return nil, err
	}
	if _, err := write(schedule.DefaultName+".service", svc); err != nil {
		return nil, err
	}
	timerPath, err := write(schedule.DefaultName+".timer", timer)
	if err != nil {
		return nil, err
	}
	out = append(out, ui.ScheduleOption{ID: "systemd", Title: "systemd timer on this machine", Period: periodText, Artefact: timerPath,
		Install: "systemctl enable --now " + schedule.DefaultName + ".timer",
		Notes:   "copy the .service and .timer to /etc/systemd/system first; runs tikv-ear rotate"})
	line, err := schedule.Cron(job)
	if err != nil {
		return nil, err
	}
	cronPath, err := write(schedule.DefaultName+".cron", []byte(line))
	if err != nil {
		return nil, err
	}
	out = append(out, ui.ScheduleOption{ID: "cron", Title: "cron on this machine", Period: periodText, Artefact: cronPath,
		Install: "copy it to /etc/cron.d/" + schedule.DefaultName, Notes: "cron does not catch up a run missed while the machine is off"})
	kjob := schedule.Job{Binary: "/usr/local/bin/tikv-ear", Plan: "/etc/tikv-ear/plan.toml", ReportDir: "/var/lib/tikv-ear/reports", Period: period}
	cj, err := schedule.KubernetesCronJob(kjob, schedule.Kube{Image: "tikv-ear:" + steps.ToolVersion, PlanConfigMap: "tikv-ear-plan", ReportsClaim: "tikv-ear-reports"})
	if err != nil {
		return nil, err
	}
	yml, err := cj.YAML()
	if err != nil {
		return nil, err
	}
	cjPath, err := write(schedule.DefaultName+"-cronjob.yaml", yml)
	if err != nil {
		return nil, err
	}
	out = append(out, ui.ScheduleOption{ID: "kubernetes", Title: "Kubernetes CronJob", Period: periodText, Artefact: cjPath,
		Install: "kubectl apply -f " + filepath.Base(cjPath), Notes: "edit its image, ConfigMap and volume claim names first"})
	out = append(out, ui.ScheduleOption{ID: "manual", Title: "no schedule: I rotate by hand", Period: periodText,
		Install: "tikv-ear rotate " + filepath.Base(planAbs), Notes: "the report records the rotation as manual"})
	return out, nil
}
