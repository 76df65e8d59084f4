package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
)

// Runners a rotation schedule can be installed with (steps' constants).
const (
	RunnerSystemd    = steps.RunnerSystemd
	RunnerCron       = steps.RunnerCron
	RunnerKubernetes = steps.RunnerKubernetes
	RunnerManual     = steps.RunnerManual
)

// ScheduleManifest is the file `schedule install` writes into its --dir,
// listing what it wrote so that `schedule remove` deletes exactly that.
const ScheduleManifest = "tikv-ear-schedule.json"

// ScheduleCmd groups the rotation-schedule subcommands (issue 8).
type ScheduleCmd struct {
	Show    ScheduleShowCmd    `cmd:"" help:"Print the rotation policy, the last rotation, the next due date and the KMS-native options (offline: reads only the plan)."`
	Install ScheduleInstallCmd `cmd:"" help:"Write a systemd timer, a cron.d file or a Kubernetes CronJob that runs 'tikv-ear rotate' on the policy's period."`
	Remove  ScheduleRemoveCmd  `cmd:"" help:"Delete what 'schedule install' wrote into --dir (listed in its manifest)."`
	KEK     KEKCmd             `cmd:"" name:"kek" help:"Vault only: the KEK lifecycle ('tikv-ear kek'): rotate and rewrap, min-version, auto-rotate."`
}

// PlanPolicy reads the rotation policy of a plan (steps.PlanPolicy).
func PlanPolicy(path string, p *steps.Plan) (schedule.Policy, []string, error) {
	return steps.PlanPolicy(path, p)
}

// keyAgeLine is "master key gen N, age D days, next due YYYY-MM-DD".
func keyAgeLine(a *gather.MasterKeyAge) string {
	if a.LastRotation == nil {
		return fmt.Sprintf("master key gen %d, age unknown (no creation time in the plan, the backend or the logs), next due now", a.Generation)
	}
	return fmt.Sprintf("master key gen %d, age %d days, next due %s", a.Generation, a.AgeDays, a.NextDue.Format(time.DateOnly))
}

// overdueWarning says why an overdue key needs rotating, or "" when it is not overdue.
func overdueWarning(a *gather.MasterKeyAge) string {
	switch {
	case !a.Overdue:
		return ""
	case a.LastRotation == nil:
		return fmt.Sprintf("master key gen %d: when it was created is unknown, so it counts as overdue for its %dd period; rotate it with 'tikv-ear rotate <plan>'", a.Generation, a.PeriodDays)
	}
	return fmt.Sprintf("master key gen %d is overdue: %d days old, due %s under the %dd policy; rotate it with 'tikv-ear rotate <plan>'", a.Generation, a.AgeDays, a.NextDue.Format(time.DateOnly), a.PeriodDays)
}

// ScheduleShow is the `schedule show --output json` document.
type ScheduleShow struct {
	Plan                  string               `json:"plan"`
	ClusterID             uint64               `json:"cluster_id"`
	MasterKeyPeriodDays   int                  `json:"master_key_period_days"`
	DataKeyRotationPeriod string               `json:"data_key_rotation_period"`
	SigningKeyPeriodDays  int                  `json:"signing_key_period_days"`
	Warnings              []string             `json:"warnings,omitempty"`
	MasterKey             *gather.MasterKeyAge `json:"master_key"`
	Runner                string               `json:"runner"`
	ReportDir             string               `json:"report_dir,omitempty"`
	Native                []steps.NativeOption `json:"kms_native"`
}

// ScheduleShowCmd prints the rotation policy of a plan.
type ScheduleShowCmd struct {
	Plan   string `arg:"" type:"existingfile" help:"plan.toml of the cluster."`
	Output string `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`
}

// Run prints the policy; it reads only the plan (run 'tikv-ear audit' for the cluster's evidence).
func (c *ScheduleShowCmd) Run(g *Globals) error {
	p, err := steps.LoadPlan(c.Plan)
	if err != nil {
		return err
	}
	pol, warnings, err := PlanPolicy(c.Plan, p)
	if err != nil {
		return err
	}
	show := ScheduleShow{
		Plan: c.Plan, ClusterID: p.Cluster.ClusterID,
		MasterKeyPeriodDays: int(pol.MasterKeyPeriod / schedule.Day), DataKeyRotationPeriod: pol.DataKeyRotationPeriod,
		SigningKeyPeriodDays: int(pol.SigningKeyPeriod / schedule.Day), Warnings: warnings,
		MasterKey: steps.MasterKeyAge(nil, p.Target.MasterKey, nil, pol.MasterKeyPeriod, time.Now()),
		Runner:    steps.FirstNonEmpty(p.Schedule.Runner, RunnerManual), ReportDir: scheduleReportDir(p),
		Native: steps.NativeOptions(p, pol),
	}
	if show.Native == nil {
		show.Native = []steps.NativeOption{}
	}
	if c.Output == "json" {
		return writeJSON(g.IO.Out, show)
	}
	w := g.IO.Out
	fmt.Fprintf(w, "plan %s (cluster %d)\n\npolicy:\n", c.Plan, p.Cluster.ClusterID)
	fmt.Fprintf(w, "  master key   every %dd (a key-wrapping key: NIST SP 800-57 Pt1 suggests at most 730d)\n", show.MasterKeyPeriodDays)
	fmt.Fprintf(w, "  data keys    every %s (TiKV's data-key-rotation-period; TiKV rotates them itself)\n", show.DataKeyRotationPeriod)
	fmt.Fprintf(w, "  signing key  every %dd (the report signing key; NIST suggests 1–3 years)\n", show.SigningKeyPeriodDays)
	for _, wn := range warnings {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
	a := show.MasterKey
	fmt.Fprintf(w, "\n%s\n", keyAgeLine(a))
	if a.LastRotation != nil {
		fmt.Fprintf(w, "  last rotation %s (generation %d created, %s %s)\n", a.LastRotation.Format(time.RFC3339), a.Generation, a.Backend, a.KeyID)
	}
	if wn := overdueWarning(a); wn != "" {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
	fmt.Fprintf(w, "\nrunner: %s", show.Runner)
	if show.Runner == RunnerManual {
		fmt.Fprintf(w, " (install one with 'tikv-ear schedule install %s --runner systemd --dir DIR')", c.Plan)
	}
	fmt.Fprintln(w)
	if show.ReportDir != "" {
		fmt.Fprintf(w, "reports of scheduled runs: %s\n", show.ReportDir)
	}
	fmt.Fprintln(w, "\nKMS-native rotation:")
	if len(show.Native) == 0 {
		fmt.Fprintf(w, "  none for the %s backend: the schedule above is the only rotation\n", p.Target.Key.Backend)
	}
	for _, n := range show.Native {
		fmt.Fprintf(w, "  %s: %s = %s\n    %s\n", n.Backend, n.Setting, n.Value, n.Why)
		for _, note := range n.Notes {
			fmt.Fprintf(w, "    - %s\n", note)
		}
	}
	fmt.Fprintf(w, "\nthis reads only the plan; 'tikv-ear audit %s' checks the cluster and the key backend\n", c.Plan)
	return nil
}

// scheduleReportDir is where scheduled runs write reports: [schedule] report-dir, else [report] dir.
func scheduleReportDir(p *steps.Plan) string {
	return steps.FirstNonEmpty(p.Schedule.ReportDir, p.Report.Dir)
}

// printSchedule writes the report schedule's due line (shared by audit's text output).
func printSchedule(w io.Writer, a *gather.MasterKeyAge) {
	fmt.Fprintln(w, keyAgeLine(a))
	if a.LogConfirmed != nil {
		skew := ""
		if a.LogAhead != "" {
			skew = fmt.Sprintf(" (its log time was %s ahead of this machine's clock: clock skew between the hosts, shown as now)", a.LogAhead)
		}
		fmt.Fprintf(w, "  last \"%s\" seen %s on store %s%s\n", tikvlog.MsgPersistedReplaceMasterKey.Text, a.LogConfirmed.Format(time.RFC3339), strconv.FormatUint(a.LogConfirmedStore, 10), skew)
	}
	if wn := overdueWarning(a); wn != "" {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
}
