package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/sim"
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

	// cron: one cron.d file; a changed file is kept unless --force.
	cron := filepath.Join(dir, "cron")
	if code, out, errb = runMain(ctx, "schedule", "install", plan, "--runner", "cron", "--dir", cron, "--binary", "/usr/local/bin/tikv-ear"); code != ExitOK {
		t.Fatalf("install cron: exit %d\n%s%s", code, out, errb)
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

// stopOverSSH stops a node's unit as an operator would.
func stopOverSSH(t *testing.T, ctx context.Context, cl *sim.Cluster, n *sim.Node) {
	t.Helper()
	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, in := range sess.Inventory.Nodes {
		if in.StoreID != n.StoreID {
			continue
		}
		res, err := sess.SSH.Run(ctx, gather.SSHTarget(in, sess.Flags.SSHUser), "systemctl stop "+n.Paths.UnitName, nil)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("systemctl stop over SSH: %v exit %d %s", err, res.ExitCode, res.Stderr)
		}
	}
	waitFor(t, ctx, "the stopped node to stop serving", func() bool { return !n.Proc.Running() })
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestScheduledRotateSkipsUnhealthyCluster: the command a schedule runs
// refuses an unhealthy cluster before it changes anything — no key
// generation, no plan edit, no config edit, no journal, no report.
func TestScheduledRotateSkipsUnhealthyCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := startSim(t, 3)
	dir := t.TempDir()
	planPath, p := writeSimPlan(t, ctx, cl, dir)
	keyDir := p.Target.Key.File.KeyDir
	reports := filepath.Join(dir, "scheduled-reports")
	check := func(what string, args ...string) {
		t.Helper()
		planBefore, _ := os.ReadFile(planPath)
		keysBefore, filesBefore := dirNames(t, keyDir), hostSnapshot(t, cl)
		code, stdout, stderr := runMain(ctx, append([]string{"rotate", planPath}, args...)...)
		if code == ExitOK {
			t.Fatalf("%s: rotate succeeded\n%s\n%s", what, stdout, stderr)
		}
		if planAfter, _ := os.ReadFile(planPath); !bytes.Equal(planBefore, planAfter) {
			t.Errorf("%s: the plan changed", what)
		}
		if keys := dirNames(t, keyDir); !slices.Equal(keys, keysBefore) {
			t.Errorf("%s: key generations %v, before %v", what, keys, keysBefore)
		}
		if d := diffSnapshots(filesBefore, hostSnapshot(t, cl)); len(d) > 0 {
			t.Errorf("%s: host files changed:\n%s", what, strings.Join(d, "\n"))
		}
		for _, p := range []string{reports, planPath + ".journal"} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s: %s exists after a refused run", what, p)
			}
		}
		t.Logf("%s: exit %d\n%s", what, code, stderr)
	}
	args := []string{"--yes", "--output", "json", "--report-dir", reports}
	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	// A leftover evict-leader scheduler: refused before a generation is made.
	if err := sess.PD.AddEvictLeader(ctx, cl.Nodes()[2].StoreID); err != nil {
		t.Fatal(err)
	}
	check("evict-leader scheduler present", args...)
	if err := sess.PD.RemoveEvictLeader(ctx, cl.Nodes()[2].StoreID); err != nil {
		t.Fatal(err)
	}

	// A stopped store, once PD no longer shows it Up. (Right after the stop,
	// while PD still shows it Up, preflight does not notice: see the report
	// to the lead — the run then creates a generation and stages keys before
	// the batch gate refuses.)
	n2 := cl.Nodes()[1]
	stopOverSSH(t, ctx, cl, n2)
	waitFor(t, ctx, "PD to stop showing store 2 Up", func() bool {
		si, err := sess.PD.Store(ctx, n2.StoreID)
		return err == nil && si.Store.StateName != "Up"
	})
	check("store 2 stopped", args...)

	// PD answering 503: the run stops before it reads anything else.
	if err := cl.Inject(sim.Fault{Kind: sim.FaultPDUnavailable}); err != nil {
		t.Fatal(err)
	}
	check("PD unavailable", args...)
}

// buildBinary builds the real tikv-ear command into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tikv-ear")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tikv-ear/tikv-ear")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestScheduledServiceRotatesSim is issue 8's "done when": the ExecStart line
// of the generated systemd service, run as is with the real binary, rotates
// the sim's master key and leaves a signed report; a second rotate started
// meanwhile fails fast on the lock, naming the holder's pid.
func TestScheduledServiceRotatesSim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	cl := startSim(t, 3)
	planPath, _ := writeSimPlan(t, ctx, cl, dir)
	if code, out, errb := runMain(ctx, "apply", planPath, "--yes"); code != ExitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errb)
	}
	units, reports := filepath.Join(dir, "units"), filepath.Join(dir, "scheduled-reports")
	if code, out, errb := runMain(ctx, "schedule", "install", planPath, "--runner", "systemd", "--dir", units, "--binary", bin, "--report-dir", reports); code != ExitOK {
		t.Fatalf("schedule install: exit %d\n%s\n%s", code, out, errb)
	}
	svc, err := os.ReadFile(filepath.Join(units, schedule.DefaultName+".service"))
	if err != nil {
		t.Fatal(err)
	}
	line, _ := unitExecStart(svc)
	argv, err := splitExecStart(line)
	if err != nil || len(argv) < 2 || argv[0] != bin || argv[1] != "rotate" {
		t.Fatalf("ExecStart %q: %q %v", line, argv, err)
	}

	var stdout, stderr bytes.Buffer
	child := exec.CommandContext(ctx, argv[0], argv[1:]...)
	child.Stdout, child.Stderr = &stdout, &stderr
	child.Env = append(os.Environ(), "CI=1")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	pid := strconv.Itoa(child.Process.Pid)
	abs, _ := filepath.Abs(planPath)
	waitFor(t, ctx, "the scheduled rotate to hold the lock", func() bool {
		b, _ := os.ReadFile(abs + ".lock")
		return strings.TrimSpace(string(b)) == pid
	})
	code, _, errb := runMain(ctx, "rotate", planPath, "--yes")
	if code != ExitFailure || !strings.Contains(errb, "is held by pid "+pid) {
		t.Errorf("a second rotate during the scheduled one: exit %d\n%s", code, errb)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the scheduled rotate failed: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("the scheduled rotate did not finish\nstderr:\n%s", stderr.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("--output json printed a non-JSON line: %q", l)
		}
	}

	found, _ := filepath.Glob(filepath.Join(reports, "*", report.FileReport))
	if len(found) != 1 {
		t.Fatalf("reports in %s: %v\nstderr:\n%s", reports, found, stderr.String())
	}
	if _, err := report.Verify(found[0], report.VerifyOptions{KeyPath: filepath.Join(filepath.Dir(found[0]), report.FilePublicKey), BundlePath: filepath.Join(filepath.Dir(found[0]), report.FileBundle)}); err != nil {
		t.Fatalf("the scheduled run's report does not verify: %v", err)
	}
	var r report.Report
	data, _ := os.ReadFile(found[0])
	if err := json.Unmarshal(data, &r); err != nil || r.Kind != report.KindRotate || r.Outcome != report.OutcomeSucceeded {
		t.Fatalf("report: kind %s outcome %s %v", r.Kind, r.Outcome, err)
	}
	p, err := steps.LoadPlan(planPath)
	if err != nil || p.Target.MasterKey.Generation != 2 || p.Target.PreviousMasterKey != nil || p.Schedule.Runner != RunnerSystemd {
		t.Fatalf("plan after the scheduled rotation: %+v %+v, %v", p.Target.MasterKey, p.Schedule, err)
	}

	// The audit afterwards sees generation 2 and the stores' replace-master-key lines.
	code, out, errb := runMain(ctx, "audit", planPath, "--dir", filepath.Join(dir, "audits"), "--output", "json")
	var sum AuditSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("audit after rotation (exit %d): %v\n%s", code, err, errb)
	}
	if a := sum.MasterKey; a == nil || a.Generation != 2 || a.LogConfirmed == nil || a.Overdue || sum.Encrypted != 3 {
		t.Errorf("audit after rotation: %+v master key %+v", sum, sum.MasterKey)
	}
	for _, f := range sum.Findings {
		if strings.Contains(f.Message, "not encrypted") || strings.Contains(f.Message, "previous-master-key") {
			t.Errorf("finding after a complete rotation: %s", f.Message)
		}
	}
}
