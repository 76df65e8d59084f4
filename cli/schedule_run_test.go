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
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

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
	code, out, errb := runMain(ctx, "audit", planPath, "--report-dir", filepath.Join(dir, "audits"), "--output", "json")
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
