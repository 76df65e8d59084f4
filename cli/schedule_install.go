package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
)

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
	Period            string `name:"period" help:"Master-key rotation period in whole days, e.g. 90d (default: [schedule] master-key-rotation; recorded there)."`
	Output            string `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`

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

// installer is how one runner's artefacts are rendered and activated.
type installer struct {
	// sysDir is where --system installs the artefacts ("" when it does not apply).
	sysDir string
	// localBinary says the job runs this machine's tikv-ear (default: this executable).
	localBinary bool
	// render returns the artefacts for job.
	render func(c *ScheduleInstallCmd, job *schedule.Job, pol schedule.Policy) ([]artefact, error)
	// activate returns the commands that activate and deactivate the written files.
	activate func(c *ScheduleInstallCmd, local []string) (do, undo []string)
}

// artefact is one file an installer writes.
type artefact struct {
	name string
	data []byte
}

// installerFor returns the installer of a runner (kong's enum admits only these).
func installerFor(runner string) installer {
	unit := schedule.DefaultName
	switch runner {
	case RunnerSystemd:
		return installer{sysDir: systemdUnitDir, localBinary: true,
			render: func(_ *ScheduleInstallCmd, job *schedule.Job, _ schedule.Policy) ([]artefact, error) {
				svc, tmr, err := schedule.Systemd(*job)
				if err != nil {
					return nil, Usagef("", "%v", err)
				}
				return []artefact{{unit + ".service", svc}, {unit + ".timer", tmr}}, nil
			},
			activate: func(c *ScheduleInstallCmd, local []string) (do, undo []string) {
				if !c.System {
					do = append(do, "sudo install -m 0644 "+shquote.Join(local...)+" "+systemdUnitDir+"/")
				}
				do = append(do, "sudo systemctl daemon-reload", "sudo systemctl enable --now "+unit+".timer")
				undo = []string{"sudo systemctl disable --now " + unit + ".timer", "sudo rm -f " + systemdUnitDir + "/" + unit + ".service " + systemdUnitDir + "/" + unit + ".timer", "sudo systemctl daemon-reload"}
				if c.System { // --system wrote the files; remove deletes them, the operator still stops the unit
					undo = undo[:1]
				}
				return do, undo
			}}
	case RunnerCron:
		return installer{sysDir: cronDir, localBinary: true,
			render: func(_ *ScheduleInstallCmd, job *schedule.Job, pol schedule.Policy) ([]artefact, error) {
				line, err := schedule.Cron(*job)
				if err != nil {
					return nil, Usagef("", "%v", err)
				}
				// cron.d file names must not contain a dot; the line carries the user field.
				body := fmt.Sprintf("# Generated by tikv-ear: rotates the TiKV master key of %s every %dd or sooner.\n%s", job.Plan, pol.MasterKeyPeriod/schedule.Day, line)
				return []artefact{{unit, []byte(body)}}, nil
			},
			activate: func(c *ScheduleInstallCmd, local []string) (do, undo []string) {
				if c.System { // --system wrote the file; remove deletes it
					return nil, nil
				}
				return []string{"sudo install -m 0644 " + shquote.Quote(local[0]) + " " + cronDir + "/" + unit}, []string{"sudo rm -f " + cronDir + "/" + unit}
			}}
	}
	return installer{ // RunnerKubernetes
		render: func(c *ScheduleInstallCmd, job *schedule.Job, _ schedule.Policy) ([]artefact, error) {
			job.Binary = steps.FirstNonEmpty(c.Binary, kubeBinary)
			job.Plan = kubePlanDir + "/" + filepath.Base(job.Plan)
			if c.ReportDir == "" {
				job.ReportDir = kubeReportDir
			}
			if c.Image == "" {
				return nil, Usagef("e.g. --image registry.example/tikv-ear:"+Version, "--runner kubernetes needs --image")
			}
			cj, err := schedule.KubernetesCronJob(*job, schedule.Kube{Namespace: c.Namespace, Image: c.Image, PlanConfigMap: c.PlanConfigMap,
				ReportsClaim: c.ReportsClaim, VaultSecretName: c.VaultSecretName})
			if err != nil {
				return nil, Usagef("", "%v", err)
			}
			data, err := cj.YAML()
			if err != nil {
				return nil, err
			}
			return []artefact{{unit + ".yaml", data}}, nil
		},
		activate: func(c *ScheduleInstallCmd, local []string) (do, undo []string) {
			ns := ""
			if c.Namespace != "" {
				ns = " -n " + shquote.Quote(c.Namespace)
			}
			return []string{"kubectl" + ns + " create configmap " + shquote.Quote(c.PlanConfigMap) + " --from-file=" + shquote.Quote(c.Plan), "kubectl apply -f " + shquote.Quote(local[0])},
				[]string{"kubectl delete -f " + shquote.Quote(local[0])}
		}}
}

// Run renders the runner's artefacts, writes them and the manifest, and
// records the runner and report dir in the plan.
func (c *ScheduleInstallCmd) Run(g *Globals) error {
	planAbs, err := filepath.Abs(c.Plan)
	if err != nil {
		return err
	}
	p, err := steps.LoadPlan(c.Plan)
	if err != nil {
		return err
	}
	if c.Period != "" {
		p.Schedule.MasterKeyRotation = c.Period // checked by PlanPolicy below; recorded once installed
	}
	pol, warnings, err := PlanPolicy(c.Plan, p)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s\n", w)
	}
	inst := installerFor(c.Runner)
	if c.System && os.Geteuid() != 0 {
		return Usagef("run it as root, or drop --system and run the printed commands", "--system writes into %s and needs root", steps.FirstNonEmpty(inst.sysDir, "the system directories"))
	}
	if c.System && inst.sysDir == "" {
		return Usagef("apply the manifest with the printed kubectl command", "--system does not apply to --runner %s", c.Runner)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, ScheduleManifest)); err == nil {
		return Failf(fmt.Sprintf("run 'tikv-ear schedule remove --dir %s' first", c.Dir), "%s already holds an installed schedule (%s)", c.Dir, ScheduleManifest)
	}
	reportDir := steps.FirstNonEmpty(c.ReportDir, scheduleReportDir(p), "tikv-ear-reports")
	if reportDir, err = filepath.Abs(reportDir); err != nil {
		return err
	}
	binary := c.Binary
	if binary == "" && inst.localBinary {
		if binary, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this executable for ExecStart: %w (pass --binary)", err)
		}
	}
	job := schedule.Job{Binary: binary, Plan: planAbs, ReportDir: reportDir, User: c.User, Period: pol.MasterKeyPeriod, VaultSecretIDFile: c.VaultSecretIDFile}
	arts, err := inst.render(c, &job, pol)
	if err != nil {
		return err
	}
	m := InstallManifest{Runner: c.Runner, Plan: planAbs, Name: schedule.DefaultName}
	local, err := c.write(inst, arts, &m)
	if err != nil {
		return err
	}
	m.Commands, m.Undo = inst.activate(c, local)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeNewFile(filepath.Join(c.Dir, ScheduleManifest), append(data, '\n')); err != nil {
		return err
	}
	if err := recordRunner(c.Plan, c.Runner, steps.FirstNonEmpty(c.ReportDir, p.Schedule.ReportDir), c.Period); err != nil {
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

// write writes the artefacts into --dir (and the system directory with
// --system), listing each in m; it returns the paths written into --dir.
func (c *ScheduleInstallCmd) write(inst installer, arts []artefact, m *InstallManifest) ([]string, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", c.Dir, err)
	}
	var local []string
	for _, a := range arts {
		dst := filepath.Join(c.Dir, a.name)
		if err := writeNewFile(dst, a.data); err != nil {
			return nil, err
		}
		local = append(local, dst)
		m.Files = append(m.Files, InstalledFile{Path: dst, SHA256: sha256Hex(a.data)})
		if c.System {
			sys := filepath.Join(c.sysRoot, inst.sysDir, a.name)
			if err := writeNewFile(sys, a.data); err != nil {
				return nil, err
			}
			m.Files = append(m.Files, InstalledFile{Path: sys, SHA256: sha256Hex(a.data)})
		}
	}
	return local, nil
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

// recordRunner writes [schedule] runner (and report-dir, and the period when
// --period changed it) into the plan under the rotation lock, so reports
// name the mechanism in force (steps.RecordSchedule).
func recordRunner(path, runner, reportDir, period string) error {
	return steps.RecordSchedule(path, func(s *steps.ScheduleSection) {
		s.Runner, s.ReportDir = runner, reportDir
		if period != "" {
			s.MasterKeyRotation = period
		}
	})
}
