package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
)

// Runners a rotation schedule can be installed with.
const (
	RunnerSystemd    = "systemd"
	RunnerCron       = "cron"
	RunnerKubernetes = "kubernetes"
	// RunnerManual is the report's mechanism when no runner is installed.
	RunnerManual = "manual"
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

// PlanPolicy reads the rotation policy of a plan's [schedule] table (and the
// data-key period of [target]); path is used in errors. Warnings are periods
// outside NIST SP 800-57 Pt1's suggested cryptoperiods.
func PlanPolicy(path string, p *steps.Plan) (schedule.Policy, []string, error) {
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
		d, err := schedule.ParseTiKVDuration(f.val)
		if err == nil && (d < schedule.Day || d%schedule.Day != 0) {
			err = fmt.Errorf("%q is not a whole number of days", f.val)
		}
		if err != nil {
			return pol, nil, &steps.PlanError{File: path, Key: f.key, Msg: err.Error(), Fix: "write whole days, e.g. \"365d\""}
		}
		*f.dst = d
	}
	switch p.Schedule.Runner {
	case "", RunnerSystemd, RunnerCron, RunnerKubernetes:
	default:
		return pol, nil, &steps.PlanError{File: path, Key: "schedule.runner", Msg: fmt.Sprintf("%q is not a runner", p.Schedule.Runner), Fix: "use systemd, cron or kubernetes, or leave it empty (manual)"}
	}
	warnings, err := pol.Check()
	if err != nil {
		return pol, nil, &steps.PlanError{File: path, Key: "schedule", Msg: err.Error(), Fix: "fix the periods in [schedule] and [target] data-key-rotation-period"}
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
func NativeOptions(p *steps.Plan, pol schedule.Policy) []NativeOption {
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
	Native                []NativeOption       `json:"kms_native"`
}

// ScheduleShowCmd prints the rotation policy of a plan.
type ScheduleShowCmd struct {
	Plan   string `arg:"" type:"existingfile" help:"plan.toml of the cluster."`
	Output string `name:"output" enum:"text,json" default:"text" help:"text or json."`
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
		MasterKey: MasterKeyAge(nil, p.Target.MasterKey, nil, pol.MasterKeyPeriod, time.Now()),
		Runner:    firstNonEmpty(p.Schedule.Runner, RunnerManual), ReportDir: scheduleReportDir(p),
		Native: NativeOptions(p, pol),
	}
	if show.Native == nil {
		show.Native = []NativeOption{}
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
	return firstNonEmpty(p.Schedule.ReportDir, p.Report.Dir)
}

// ScheduleInstallCmd writes the artefacts of a scheduled rotation.
type ScheduleInstallCmd struct {
	Plan              string `arg:"" type:"existingfile" help:"plan.toml of the cluster ([schedule] runner and report-dir are recorded in it)."`
	Runner            string `name:"runner" required:"" enum:"systemd,cron,kubernetes" help:"systemd (service + timer), cron (an /etc/cron.d file) or kubernetes (a CronJob manifest)."`
	Dir               string `name:"dir" required:"" type:"path" help:"Directory to write the artefacts and their manifest into (never /etc by itself; see --system)."`
	User              string `name:"user" default:"tikv-ear" help:"Dedicated account the job runs as."`
	ReportDir         string `name:"report-dir" type:"path" help:"Where each scheduled run writes its signed report (default: [schedule] report-dir, else [report] dir)."`
	Binary            string `name:"binary" type:"path" help:"Absolute path of tikv-ear on the machine that runs the job (default: this executable)."`
	System            bool   `name:"system" help:"Also install into /etc/systemd/system or /etc/cron.d directly (needs root); otherwise print the commands to do it."`
	VaultSecretIDFile string `name:"vault-secret-id-file" type:"path" help:"Vault AppRole secret-id file, passed by path (systemd LoadCredential=, cron env)."`
	Namespace         string `name:"namespace" help:"kubernetes: namespace of the CronJob."`
	Image             string `name:"image" help:"kubernetes: image with tikv-ear at --binary (default /usr/local/bin/tikv-ear)."`
	PlanConfigMap     string `name:"plan-configmap" default:"tikv-ear-plan" help:"kubernetes: ConfigMap holding plan.toml."`
	ReportsClaim      string `name:"reports-claim" default:"tikv-ear-reports" help:"kubernetes: PersistentVolumeClaim for the reports."`
	VaultSecretName   string `name:"vault-secret-name" help:"kubernetes: Secret holding the AppRole secret-id (key vault-secret-id)."`
	Output            string `name:"output" enum:"text,json" default:"text" help:"text or json."`

	// sysRoot prefixes the system directories of --system (tests only).
	sysRoot string
}

// InstalledFile is one file schedule install wrote.
type InstalledFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// InstallManifest is the content of ScheduleManifest.
type InstallManifest struct {
	Runner   string          `json:"runner"`
	Plan     string          `json:"plan"`
	Name     string          `json:"name"`
	Files    []InstalledFile `json:"files"`
	Commands []string        `json:"commands"` // what the operator runs to activate it
	Undo     []string        `json:"undo"`     // what the operator runs to deactivate it
}

// System directories the --system flag installs into.
const (
	systemdUnitDir = "/etc/systemd/system"
	cronDir        = "/etc/cron.d"
)

// Container paths of the Kubernetes CronJob (the plan ConfigMap and the reports PVC are mounted there).
const (
	kubeBinary    = "/usr/local/bin/tikv-ear"
	kubePlanDir   = "/etc/tikv-ear"
	kubeReportDir = "/var/lib/tikv-ear/reports"
)

// Run renders the artefacts, writes them and the manifest, and records the
// runner and report dir in the plan.
func (c *ScheduleInstallCmd) Run(g *Globals) error {
	planAbs, err := filepath.Abs(c.Plan)
	if err != nil {
		return err
	}
	p, err := steps.LoadPlan(c.Plan)
	if err != nil {
		return err
	}
	pol, warnings, err := PlanPolicy(c.Plan, p)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s\n", w)
	}
	if c.System && os.Geteuid() != 0 {
		return Usagef("run it as root, or drop --system and run the printed commands", "--system writes into %s and needs root", map[bool]string{true: systemdUnitDir, false: cronDir}[c.Runner == RunnerSystemd])
	}
	if c.System && c.Runner == RunnerKubernetes {
		return Usagef("apply the manifest with the printed kubectl command", "--system does not apply to --runner kubernetes")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, ScheduleManifest)); err == nil {
		return Failf(fmt.Sprintf("run 'tikv-ear schedule remove --dir %s' first", c.Dir), "%s already holds an installed schedule (%s)", c.Dir, ScheduleManifest)
	}
	reportDir := firstNonEmpty(c.ReportDir, scheduleReportDir(p), "tikv-ear-reports")
	if reportDir, err = filepath.Abs(reportDir); err != nil {
		return err
	}
	binary := c.Binary
	if binary == "" && c.Runner != RunnerKubernetes {
		if binary, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this executable for ExecStart: %w (pass --binary)", err)
		}
	}
	job := schedule.Job{Binary: binary, Plan: planAbs, ReportDir: reportDir, User: c.User, Period: pol.MasterKeyPeriod, VaultSecretIDFile: c.VaultSecretIDFile}
	m := InstallManifest{Runner: c.Runner, Plan: planAbs, Name: schedule.DefaultName}
	type artefact struct {
		name string
		data []byte
		sys  string // system directory for --system
	}
	var arts []artefact
	switch c.Runner {
	case RunnerSystemd:
		svc, tmr, err := schedule.Systemd(job)
		if err != nil {
			return Usagef("", "%v", err)
		}
		arts = []artefact{{schedule.DefaultName + ".service", svc, systemdUnitDir}, {schedule.DefaultName + ".timer", tmr, systemdUnitDir}}
	case RunnerCron:
		line, err := schedule.Cron(job)
		if err != nil {
			return Usagef("", "%v", err)
		}
		// cron.d file names must not contain a dot; the line carries the user field.
		body := fmt.Sprintf("# Generated by tikv-ear: rotates the TiKV master key of %s every %dd or sooner.\n%s", planAbs, pol.MasterKeyPeriod/schedule.Day, line)
		arts = []artefact{{schedule.DefaultName, []byte(body), cronDir}}
	case RunnerKubernetes:
		job.Binary = firstNonEmpty(c.Binary, kubeBinary)
		job.Plan = kubePlanDir + "/" + filepath.Base(planAbs)
		if c.ReportDir == "" {
			job.ReportDir = kubeReportDir
		}
		if c.Image == "" {
			return Usagef("e.g. --image registry.example/tikv-ear:"+Version, "--runner kubernetes needs --image")
		}
		cj, err := schedule.KubernetesCronJob(job, schedule.Kube{Namespace: c.Namespace, Image: c.Image, PlanConfigMap: c.PlanConfigMap,
			ReportsClaim: c.ReportsClaim, VaultSecretName: c.VaultSecretName})
		if err != nil {
			return Usagef("", "%v", err)
		}
		data, err := cj.YAML()
		if err != nil {
			return err
		}
		arts = []artefact{{schedule.DefaultName + ".yaml", data, ""}}
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.Dir, err)
	}
	var local []string
	for _, a := range arts {
		dst := filepath.Join(c.Dir, a.name)
		if err := writeNewFile(dst, a.data); err != nil {
			return err
		}
		local = append(local, dst)
		m.Files = append(m.Files, InstalledFile{Path: dst, SHA256: sha256Hex(a.data)})
		if c.System {
			sys := filepath.Join(c.sysRoot, a.sys, a.name)
			if err := writeNewFile(sys, a.data); err != nil {
				return err
			}
			m.Files = append(m.Files, InstalledFile{Path: sys, SHA256: sha256Hex(a.data)})
		}
	}
	m.Commands, m.Undo = activation(c, local)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeNewFile(filepath.Join(c.Dir, ScheduleManifest), append(data, '\n')); err != nil {
		return err
	}
	if err := recordRunner(c.Plan, c.Runner, firstNonEmpty(c.ReportDir, p.Schedule.ReportDir)); err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(g.IO.Out, m)
	}
	fmt.Fprintf(g.IO.Out, "wrote %s (each run: %s rotate %s --yes --output json --report-dir %s)\n", strings.Join(local, ", "), job.Binary, job.Plan, job.ReportDir)
	if len(m.Commands) > 0 {
		fmt.Fprintln(g.IO.Out, "\nto activate it, run:")
		for _, cmd := range m.Commands {
			fmt.Fprintf(g.IO.Out, "  %s\n", cmd)
		}
	}
	fmt.Fprintf(g.IO.Out, "\nthe job runs as %s: it needs to read the plan, its SSH identity and known_hosts, and to write %s\n", c.User, job.ReportDir)
	fmt.Fprintf(g.IO.Out, "a run that finds the cluster unhealthy changes nothing and exits non-zero; a second run while one is going fails on %s.lock\n", job.Plan)
	return nil
}

// activation returns the commands that put the artefacts in force and those that undo them.
func activation(c *ScheduleInstallCmd, local []string) (do, undo []string) {
	unit := schedule.DefaultName
	switch c.Runner {
	case RunnerSystemd:
		if !c.System {
			do = append(do, "sudo install -m 0644 "+strings.Join(quoteAll(local), " ")+" "+systemdUnitDir+"/")
		}
		do = append(do, "sudo systemctl daemon-reload", "sudo systemctl enable --now "+unit+".timer")
		undo = []string{"sudo systemctl disable --now " + unit + ".timer", "sudo rm -f " + systemdUnitDir + "/" + unit + ".service " + systemdUnitDir + "/" + unit + ".timer", "sudo systemctl daemon-reload"}
	case RunnerCron:
		if !c.System {
			do = append(do, "sudo install -m 0644 "+shQuote(local[0])+" "+cronDir+"/"+unit)
		}
		undo = []string{"sudo rm -f " + cronDir + "/" + unit}
	case RunnerKubernetes:
		ns := ""
		if c.Namespace != "" {
			ns = " -n " + shQuote(c.Namespace)
		}
		do = append(do, "kubectl"+ns+" create configmap "+shQuote(c.PlanConfigMap)+" --from-file="+shQuote(c.Plan), "kubectl apply -f "+shQuote(local[0]))
		undo = []string{"kubectl delete -f " + shQuote(local[0])}
	}
	if c.System {
		// --system wrote the files; remove deletes them, the operator still stops the unit.
		undo = undo[:1]
		if c.Runner == RunnerCron {
			undo = nil
		}
	}
	return do, undo
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shQuote(s)
	}
	return out
}

// shQuote single-quotes s for a POSIX shell when it needs quoting.
func shQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>*?()[]{}#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeNewFile writes data to path (0644), refusing to overwrite a file.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Failf("remove it, or install into another --dir", "%s already exists; not overwriting it", path)
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// recordRunner writes [schedule] runner (and report-dir) into the plan under
// the rotation lock, so reports name the mechanism in force.
func recordRunner(path, runner, reportDir string) error {
	unlock, err := schedule.Lock(path + ".lock")
	if err != nil {
		return &Error{Msg: err.Error(), Hints: []string{"a rotation is running; install the schedule after it finished"}, Code: ExitFailure}
	}
	defer unlock()
	p, err := steps.LoadPlan(path)
	if err != nil {
		return err
	}
	if p.Schedule.Runner == runner && p.Schedule.ReportDir == reportDir {
		return nil
	}
	p.Schedule.Runner, p.Schedule.ReportDir = runner, reportDir
	return savePlan(path, p)
}

// ScheduleRemoveCmd deletes what install wrote.
type ScheduleRemoveCmd struct {
	Dir   string `name:"dir" required:"" type:"path" help:"The --dir given to 'schedule install'."`
	Force bool   `name:"force" help:"Also delete files changed since install."`
	Plan  string `arg:"" optional:"" type:"existingfile" help:"plan.toml: also reset its [schedule] runner to manual."`
}

// Run removes the listed files and the manifest.
func (c *ScheduleRemoveCmd) Run(g *Globals) error {
	mpath := filepath.Join(c.Dir, ScheduleManifest)
	data, err := os.ReadFile(mpath)
	if err != nil {
		return Failf("pass the --dir that 'tikv-ear schedule install' wrote to", "reading %s: %v", mpath, err)
	}
	var m InstallManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Failf("remove the files by hand", "%s is not a tikv-ear schedule manifest: %v", mpath, err)
	}
	for _, cmd := range m.Undo {
		if strings.Contains(cmd, "disable") {
			fmt.Fprintf(g.IO.Err, "tikv-ear: stop the schedule first if it is active: %s\n", cmd)
		}
	}
	for _, f := range m.Files {
		cur, err := os.ReadFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(g.IO.Err, "tikv-ear: %s is already gone\n", f.Path)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Path, err)
		}
		if sha256Hex(cur) != f.SHA256 && !c.Force {
			return Failf("check it, then pass --force to delete it anyway", "%s changed since 'schedule install' wrote it; not deleting it", f.Path)
		}
		if err := os.Remove(f.Path); err != nil {
			return fmt.Errorf("removing %s: %w", f.Path, err)
		}
		fmt.Fprintf(g.IO.Out, "removed %s\n", f.Path)
	}
	if err := os.Remove(mpath); err != nil {
		return fmt.Errorf("removing %s: %w", mpath, err)
	}
	for _, cmd := range m.Undo {
		if !strings.Contains(cmd, "disable") {
			fmt.Fprintf(g.IO.Out, "if you installed it system-wide, also run: %s\n", cmd)
		}
	}
	if c.Plan != "" {
		return recordRunner(c.Plan, "", "")
	}
	return nil
}

// unitExecStart returns the ExecStart= value of a unit file (tests and checks).
func unitExecStart(unit []byte) (string, bool) {
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return v, true
		}
	}
	return "", false
}

// splitExecStart splits a systemd ExecStart value into argv: double-quoted
// words with backslash escapes, "%%" for "%" and "$$" for "$" (the quoting
// schedule.Systemd writes; systemd.service(5) "Command lines").
func splitExecStart(v string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case ch == '"':
			quoted, inWord = !quoted, true
		case !quoted && (ch == ' ' || ch == '\t'):
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case (ch == '%' || ch == '$') && i+1 < len(v) && v[i+1] == ch:
			i++
			cur.WriteByte(ch)
			inWord = true
		case ch == '%':
			return nil, fmt.Errorf("ExecStart %q: specifier %%%c is not expanded here", v, v[min(i+1, len(v)-1)])
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("ExecStart %q: unterminated quote", v)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// printSchedule writes the report schedule's due line (shared by audit's text output).
func printSchedule(w io.Writer, a *gather.MasterKeyAge) {
	fmt.Fprintln(w, keyAgeLine(a))
	if a.LogConfirmed != nil {
		fmt.Fprintf(w, "  last \"%s\" seen %s on store %s\n", tikv.MsgPersistedReplaceMasterKey.Text, a.LogConfirmed.Format(time.RFC3339), strconv.FormatUint(a.LogConfirmedStore, 10))
	}
	if wn := overdueWarning(a); wn != "" {
		fmt.Fprintf(w, "  warning: %s\n", wn)
	}
}
