package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
)

// offlinePlan writes a valid plan for a cluster that does not exist (the
// schedule commands read only the plan).
func offlinePlan(t *testing.T, dir string, key kms.Spec, created time.Time) string {
	t.Helper()
	p := &steps.Plan{
		Schema: steps.PlanSchema, Environment: steps.EnvStaging,
		Cluster:  steps.ClusterSection{PD: []string{"http://127.0.0.1:1"}, ClusterID: 42},
		Target:   steps.Target{Method: "aes256-ctr", DataKeyRotationPeriod: "7d", Key: key, MasterKey: kms.KeyRef{Backend: key.Backend, ID: "gen-1", Generation: 1, Created: created}},
		Strategy: steps.DefaultStrategy(), Policies: steps.DefaultPolicies(),
		Report:   steps.ReportSection{Dir: filepath.Join(dir, "reports"), Signer: "file"},
		Schedule: steps.ScheduleSection{MasterKeyRotation: "90d"},
		Nodes:    []steps.NodePlan{{StoreID: 1, Address: "10.0.0.1:20160", Host: "10.0.0.1", ConfigPath: "/c/tikv.toml", Service: "tikv-20160.service"}},
	}
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, key.Backend+"-plan.toml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScheduleShow(t *testing.T) {
	dir := t.TempDir()
	created := time.Now().UTC().Add(-100 * schedule.Day).Truncate(time.Second)
	due := created.Add(90 * schedule.Day).Format(time.DateOnly)
	ctx := context.Background()

	file := offlinePlan(t, dir, kms.Spec{Backend: "file", File: &filekey.Config{KeyDir: dir}}, created)
	code, out, errb := runMain(ctx, "schedule", "show", file)
	for _, want := range []string{"master key   every 90d", "data keys    every 7d", "signing key  every 730d",
		"master key gen 1, age 100 days, next due " + due, "warning: master key gen 1 is overdue", "runner: manual", "none for the file backend"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("show (exit %d) lacks %q:\n%s%s", code, want, out, errb)
		}
	}

	aws := offlinePlan(t, dir, kms.Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/tikv", Region: "us-west-2"}}, created)
	code, out, _ = runMain(ctx, "schedule", "show", aws, "--output", "json")
	var show ScheduleShow
	if err := json.Unmarshal([]byte(out), &show); err != nil || code != ExitOK {
		t.Fatalf("show json (exit %d): %v\n%s", code, err, out)
	}
	if len(show.Native) != 1 || show.Native[0].Setting != "EnableKeyRotation KeyId=alias/tikv RotationPeriodInDays" || show.Native[0].Value != "90" ||
		!strings.Contains(show.Native[0].Why, "transparent to TiKV") || show.MasterKeyPeriodDays != 90 || !show.MasterKey.Overdue {
		t.Errorf("aws show: %+v", show)
	}

	vlt := offlinePlan(t, dir, kms.Spec{Backend: "vault", Vault: &vault.Config{Cluster: "prod"}}, created)
	code, out, _ = runMain(ctx, "schedule", "show", vlt)
	if code != ExitOK || !strings.Contains(out, "POST transit/keys/tikv-prod-kek/config auto_rotate_period = 7776000s") || !strings.Contains(out, "invisible to TiKV") {
		t.Errorf("vault show (exit %d):\n%s", code, out)
	}

	// A bad period is bad input (exit 2) naming the file, the key and the fix.
	data, _ := os.ReadFile(file)
	_ = os.WriteFile(file, bytes.Replace(data, []byte(`master-key-rotation = '90d'`), []byte(`master-key-rotation = '36h'`), 1), 0o600)
	code, _, errb = runMain(ctx, "schedule", "show", file)
	if code != ExitUsage || !strings.Contains(errb, file+": schedule.master-key-rotation") || !strings.Contains(errb, "hint: write whole days") {
		t.Errorf("bad period (exit %d):\n%s", code, errb)
	}
}

func TestScheduleInstallRemove(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	plan := offlinePlan(t, dir, kms.Spec{Backend: "file", File: &filekey.Config{KeyDir: dir}}, time.Now().UTC())
	planAbs, _ := filepath.Abs(plan)

	// systemd: two units, the operator's commands, the plan records the runner.
	units := filepath.Join(dir, "units")
	code, out, errb := runMain(ctx, "schedule", "install", plan, "--runner", "systemd", "--dir", units, "--binary", "/usr/local/bin/tikv-ear", "--report-dir", "/var/lib/tikv-ear/reports")
	if code != ExitOK {
		t.Fatalf("install systemd: exit %d\n%s%s", code, out, errb)
	}
	for _, want := range []string{"sudo install -m 0644 " + units + "/tikv-ear-rotate.service " + units + "/tikv-ear-rotate.timer /etc/systemd/system/",
		"sudo systemctl enable --now tikv-ear-rotate.timer"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	svc, err := os.ReadFile(filepath.Join(units, "tikv-ear-rotate.service"))
	if err != nil {
		t.Fatal(err)
	}
	exec, ok := unitExecStart(svc)
	argv, err := splitExecStart(exec)
	if !ok || err != nil || !slices.Equal(argv, []string{"/usr/local/bin/tikv-ear", "rotate", planAbs, "--yes", "--output", "json", "--report-dir", "/var/lib/tikv-ear/reports"}) {
		t.Errorf("ExecStart %q → %q, %v", exec, argv, err)
	}
	p, err := steps.LoadPlan(plan)
	if err != nil || p.Schedule.Runner != RunnerSystemd || p.Schedule.ReportDir != "/var/lib/tikv-ear/reports" {
		t.Fatalf("plan after install: %+v, %v", p.Schedule, err)
	}
	if code, out, _ = runMain(ctx, "schedule", "show", plan); code != ExitOK || !strings.Contains(out, "runner: systemd") {
		t.Errorf("schedule show after installing systemd (exit %d) does not report it:\n%s", code, out)
	}
	if code, _, errb = runMain(ctx, "schedule", "install", plan, "--runner", "systemd", "--dir", units); code != ExitFailure || !strings.Contains(errb, "already holds an installed schedule") {
		t.Errorf("second install into the same dir: exit %d\n%s", code, errb)
	}
	code, out, _ = runMain(ctx, "schedule", "remove", "--dir", units, plan)
	if left, _ := os.ReadDir(units); code != ExitOK || len(left) != 0 || !strings.Contains(out, "removed "+units+"/tikv-ear-rotate.timer") {
		t.Errorf("remove (exit %d) left %v:\n%s", code, left, out)
	}
	if p, _ := steps.LoadPlan(plan); p.Schedule.Runner != "" {
		t.Errorf("remove with the plan kept runner %q", p.Schedule.Runner)
	}

	// cron: one cron.d file; a changed file is kept unless --force. --period
	// changes the period, and the plan records it.
	cron := filepath.Join(dir, "cron")
	if code, _, errb = runMain(ctx, "schedule", "install", plan, "--runner", "cron", "--dir", cron, "--period", "90.5d"); code != ExitUsage {
		t.Errorf("--period of a fraction of a day: exit %d, want 2\n%s", code, errb)
	}
	if code, out, errb = runMain(ctx, "schedule", "install", plan, "--runner", "cron", "--dir", cron, "--binary", "/usr/local/bin/tikv-ear", "--period", "90d"); code != ExitOK {
		t.Fatalf("install cron: exit %d\n%s%s", code, out, errb)
	}
	if p, _ := steps.LoadPlan(plan); p.Schedule.Runner != RunnerCron || p.Schedule.MasterKeyRotation != "90d" {
		t.Errorf("plan after install --runner cron --period 90d: %+v", p.Schedule)
	}
	if code, out, _ = runMain(ctx, "schedule", "show", plan, "--output", "json"); code != ExitOK || !strings.Contains(out, `"runner": "cron"`) || !strings.Contains(out, `"master_key_period_days": 90`) {
		t.Errorf("schedule show after installing cron every 90d (exit %d):\n%s", code, out)
	}
	line, _ := os.ReadFile(filepath.Join(cron, "tikv-ear-rotate"))
	if !strings.Contains(string(line), " tikv-ear '/usr/local/bin/tikv-ear' 'rotate' '"+planAbs+"' '--yes' '--output' 'json' '--report-dir' '") {
		t.Errorf("cron file:\n%s", line)
	}
	_ = os.WriteFile(filepath.Join(cron, "tikv-ear-rotate"), append(line, "# edited\n"...), 0o644)
	if code, _, errb = runMain(ctx, "schedule", "remove", "--dir", cron); code != ExitFailure || !strings.Contains(errb, "changed since 'schedule install' wrote it") {
		t.Errorf("remove of an edited file: exit %d\n%s", code, errb)
	}
	if code, _, _ = runMain(ctx, "schedule", "remove", "--dir", cron, "--force"); code != ExitOK {
		t.Errorf("remove --force: exit %d", code)
	}

	// kubernetes: a CronJob manifest; --image is required.
	kube := filepath.Join(dir, "kube")
	if code, _, errb = runMain(ctx, "schedule", "install", plan, "--runner", "kubernetes", "--dir", kube); code != ExitUsage || !strings.Contains(errb, "needs --image") {
		t.Errorf("kubernetes without --image: exit %d\n%s", code, errb)
	}
	if code, out, errb = runMain(ctx, "schedule", "install", plan, "--runner", "kubernetes", "--dir", kube, "--image", "r/tikv-ear:1", "--namespace", "tidb"); code != ExitOK {
		t.Fatalf("install kubernetes: exit %d\n%s%s", code, out, errb)
	}
	manifest, _ := os.ReadFile(filepath.Join(kube, "tikv-ear-rotate.yaml"))
	if !strings.Contains(string(manifest), "kind: CronJob") || !strings.Contains(string(manifest), "/etc/tikv-ear/"+filepath.Base(plan)) || !strings.Contains(out, "kubectl apply -f "+kube+"/tikv-ear-rotate.yaml") {
		t.Errorf("kubernetes manifest:\n%s\noutput:\n%s", manifest, out)
	}

	// --system writes into the system directory too (here a temp root) and remove deletes both.
	sysRoot := filepath.Join(dir, "root")
	_ = os.MkdirAll(filepath.Join(sysRoot, "etc/systemd/system"), 0o755)
	g, sout, _ := testGlobals(ctx)
	cmd := &ScheduleInstallCmd{Plan: plan, Runner: RunnerSystemd, Dir: filepath.Join(dir, "sys"), User: "tikv-ear", Binary: "/usr/local/bin/tikv-ear", System: true, Output: "text", sysRoot: sysRoot}
	if os.Geteuid() != 0 {
		if err := cmd.Run(g); err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Fatalf("--system as a normal user: %v", err)
		}
		return
	}
	if err := cmd.Run(g); err != nil {
		t.Fatalf("install --system: %v", err)
	}
	sysUnit := filepath.Join(sysRoot, "etc/systemd/system/tikv-ear-rotate.timer")
	if _, err := os.Stat(sysUnit); err != nil || strings.Contains(sout.String(), "sudo install") {
		t.Fatalf("--system: %v\n%s", err, sout.String())
	}
	if code, _, _ = runMain(ctx, "schedule", "remove", "--dir", filepath.Join(dir, "sys")); code != ExitOK {
		t.Fatalf("remove after --system: exit %d", code)
	}
	if _, err := os.Stat(sysUnit); !os.IsNotExist(err) {
		t.Errorf("remove left %s: %v", sysUnit, err)
	}
}

func TestSplitExecStart(t *testing.T) {
	got, err := splitExecStart(`"/opt/my tools/tikv-ear" rotate "/etc/a \"b\".toml" --x 100%% $$HOME`)
	if err != nil || !slices.Equal(got, []string{"/opt/my tools/tikv-ear", "rotate", `/etc/a "b".toml`, "--x", "100%", "$HOME"}) {
		t.Errorf("split = %q, %v", got, err)
	}
	for _, bad := range []string{`"/x rotate`, `/x %d/file`} {
		if _, err := splitExecStart(bad); err == nil {
			t.Errorf("splitExecStart(%q) accepted", bad)
		}
	}
}
