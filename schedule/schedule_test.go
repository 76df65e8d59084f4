package schedule

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestStatus(t *testing.T) {
	last := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	cases := []struct {
		now          time.Time
		ageDays      int
		due, overdue bool
	}{
		{last.AddDate(0, 0, 100), 100, false, false},
		{last.Add(365 * Day), 365, true, false},
		{last.Add(365*Day + time.Second), 365, true, true},
		{last.Add(-time.Hour), 0, false, false}, // clock skew: no negative age
	}
	for _, c := range cases {
		d := p.Status(last, c.now)
		if int(d.Age/Day) != c.ageDays || d.Due != c.due || d.Overdue != c.overdue || !d.NextDue.Equal(last.Add(365*Day)) {
			t.Errorf("Status(%v) = %+v", c.now, d)
		}
	}
	if d := Status(7*Day, time.Time{}, last); !d.Never || !d.Overdue || !d.NextDue.IsZero() {
		t.Errorf("never rotated: %+v", d)
	}
}

func TestPolicyCheck(t *testing.T) {
	if w, err := DefaultPolicy().Check(); err != nil || len(w) != 0 {
		t.Fatalf("default policy: %v %v", w, err)
	}
	p := DefaultPolicy()
	p.MasterKeyPeriod = 1000 * Day
	p.SigningKeyPeriod = 5 * 365 * Day
	w, err := p.Check()
	if err != nil || len(w) != 2 || !strings.Contains(w[0], "NIST SP 800-57") || !strings.Contains(w[1], "1–3 years") {
		t.Fatalf("warnings %q err %v", w, err)
	}
	p = DefaultPolicy()
	p.MasterKeyPeriod = 36 * time.Hour
	p.DataKeyRotationPeriod = "7w"
	if _, err := p.Check(); err == nil || !strings.Contains(err.Error(), "whole number of days") || !strings.Contains(err.Error(), "only d, h, m, s, ms, us") {
		t.Fatalf("bad policy: %v", err)
	}
	// The data-key period is read with TiKV's own grammar (cluster/tikv.ParseReadableDuration):
	// fractions as TiKV accepts them, units out of order refused as TiKV refuses them.
	for in, ok := range map[string]bool{"7d": true, "1.5h": true, "1d12h": true, "1m1d": false, "": false, "0s": false} {
		p := DefaultPolicy()
		p.DataKeyRotationPeriod = in
		if _, err := p.Check(); (err == nil) != ok {
			t.Errorf("data-key period %q: err %v, want accepted %v", in, err, ok)
		}
	}
}

func TestOnCalendar(t *testing.T) {
	cases := map[time.Duration]string{
		2 * Day: "daily", 8 * Day: "weekly", 35 * Day: "monthly", 90 * Day: "monthly", 93 * Day: "quarterly",
		365 * Day: "semiannually", 367 * Day: "yearly", 3 * 365 * Day: "yearly",
	}
	for p, want := range cases {
		got, err := OnCalendar(p, time.Hour)
		if err != nil || got != want {
			t.Errorf("OnCalendar(%dd) = %q, %v; want %q", p/Day, got, err, want)
		}
	}
	if _, err := OnCalendar(Day, time.Hour); err == nil {
		t.Error("1d period with 1h delay accepted")
	}
}

func testJob(t *testing.T) Job {
	exe, err := os.Executable() // an existing absolute binary, as systemd-analyze requires
	if err != nil {
		t.Fatal(err)
	}
	return Job{Binary: exe, Plan: "/etc/tikv-ear/prod plan.toml", ReportDir: "/var/lib/tikv-ear/reports",
		Period: 365 * Day, VaultSecretIDFile: "/etc/tikv-ear/vault-secret-id"}
}

// TestSystemdAnalyzeVerify writes the units into a temp dir and runs
// systemd-analyze verify; ExecStart points at this test binary, which exists.
func TestSystemdAnalyzeVerify(t *testing.T) {
	const sa = "/usr/bin/systemd-analyze"
	if _, err := os.Stat(sa); err != nil {
		t.Fatalf("%s is required: %v", sa, err)
	}
	svc, tmr, err := Systemd(testJob(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sp, tp := filepath.Join(dir, DefaultName+".service"), filepath.Join(dir, DefaultName+".timer")
	_ = os.WriteFile(sp, svc, 0o644)
	_ = os.WriteFile(tp, tmr, 0o644)
	out, err := exec.Command(sa, "verify", sp, tp).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\n%s\n%s", err, out, svc, tmr)
	}
	for _, want := range []string{"User=tikv-ear\n", "UMask=0077", "LoadCredential=vault-secret-id:/etc/tikv-ear/vault-secret-id",
		"Environment=TIKV_EAR_VAULT_SECRET_ID_FILE=%d/vault-secret-id", ` rotate "/etc/tikv-ear/prod plan.toml" --yes --output json --report-dir /var/lib/tikv-ear/reports`} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("service lacks %q:\n%s", want, svc)
		}
	}
	for _, want := range []string{"OnCalendar=semiannually\n", "RandomizedDelaySec=3600\n", "Persistent=true\n", "Unit=tikv-ear-rotate.service\n", "WantedBy=timers.target"} {
		if !strings.Contains(string(tmr), want) {
			t.Errorf("timer lacks %q:\n%s", want, tmr)
		}
	}
	// A broken unit must fail the same check, so the test can fail.
	bad := strings.Replace(string(tmr), "OnCalendar=semiannually", "OnCalendar=whenever", 1)
	_ = os.WriteFile(tp, []byte(bad), 0o644)
	if err := exec.Command(sa, "verify", sp, tp).Run(); err == nil {
		t.Fatal("systemd-analyze accepted a bad OnCalendar")
	}
}

func TestJobValidation(t *testing.T) {
	j := testJob(t)
	j.Plan = "relative/plan.toml"
	j.User = "evil user"
	_, _, err := Systemd(j)
	if err == nil || !strings.Contains(err.Error(), "absolute path") || !strings.Contains(err.Error(), `name "evil user"`) {
		t.Fatalf("validation: %v", err)
	}
}

func TestCronLine(t *testing.T) {
	j := testJob(t)
	j.Plan = "/etc/tikv-ear/100%.toml"
	line, err := Cron(j)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("30 0 1 1,7 * tikv-ear TIKV_EAR_VAULT_SECRET_ID_FILE='/etc/tikv-ear/vault-secret-id' '%s' 'rotate' '/etc/tikv-ear/100\\%%.toml' '--yes' '--output' 'json' '--report-dir' '/var/lib/tikv-ear/reports'\n", j.Binary)
	if line != want {
		t.Fatalf("cron line\n got %q\nwant %q", line, want)
	}
}

func TestCronJobManifest(t *testing.T) {
	j := testJob(t)
	j.Binary = "/usr/local/bin/tikv-ear"
	j.Plan = "/etc/tikv-ear/plan.toml"
	cj, err := KubernetesCronJob(j, Kube{Namespace: "tidb", Image: "registry.local/tikv-ear:v0.1.0", PlanConfigMap: "tikv-ear-plan", ReportsClaim: "tikv-ear-reports", VaultSecretName: "tikv-ear-approle"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := cj.YAML()
	if err != nil {
		t.Fatal(err)
	}
	// Parse into an independent struct: the fields a cluster would read.
	var m struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct{ Name, Namespace string }
		Spec       struct {
			Schedule          string `yaml:"schedule"`
			ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
			JobTemplate       struct {
				Spec struct {
					BackoffLimit *int32 `yaml:"backoffLimit"`
					Template     struct {
						Spec struct {
							RestartPolicy string `yaml:"restartPolicy"`
							Containers    []struct {
								Command []string
								Args    []string
								Env     []struct{ Name, Value string }
							}
							Volumes []struct {
								Name   string
								Secret *struct {
									SecretName  string `yaml:"secretName"`
									DefaultMode int    `yaml:"defaultMode"`
								}
							}
						}
					}
				}
			} `yaml:"jobTemplate"`
		}
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	pod := m.Spec.JobTemplate.Spec.Template.Spec
	if m.APIVersion != "batch/v1" || m.Kind != "CronJob" || m.Metadata.Name != "tikv-ear-rotate" || m.Metadata.Namespace != "tidb" ||
		m.Spec.ConcurrencyPolicy != "Forbid" || m.Spec.Schedule != "30 0 1 1,7 *" || m.Spec.JobTemplate.Spec.BackoffLimit == nil ||
		pod.RestartPolicy != "Never" || len(pod.Containers) != 1 {
		t.Fatalf("manifest:\n%s", data)
	}
	c := pod.Containers[0]
	if strings.Join(c.Command, " ") != "/usr/local/bin/tikv-ear" ||
		strings.Join(c.Args, " ") != "rotate /etc/tikv-ear/plan.toml --yes --output json --report-dir /var/lib/tikv-ear/reports" ||
		len(c.Env) != 1 || c.Env[0].Value != "/var/run/secrets/tikv-ear/vault-secret-id" {
		t.Fatalf("container: %+v", c)
	}
	found := false
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "tikv-ear-approle" && v.Secret.DefaultMode == 0o400 {
			found = true
		}
	}
	if !found {
		t.Fatalf("secret volume missing:\n%s", data)
	}
}

func TestNativeRotation(t *testing.T) {
	if _, err := VaultTransitAutoRotate("kek", 30*time.Minute); err == nil {
		t.Error("vault 30m accepted")
	}
	v, err := VaultTransitAutoRotate("kek", 90*Day)
	if err != nil || v.Value != "7776000s" || !strings.Contains(v.String(), "auto_rotate_period") {
		t.Errorf("vault: %+v %v", v, err)
	}
	for _, d := range []int{89, 2561} {
		if _, err := AWSKeyRotation("k", d); err == nil {
			t.Errorf("aws %d accepted", d)
		}
	}
	if a, err := AWSKeyRotation("k", 90); err != nil || a.Value != "90" {
		t.Errorf("aws: %+v %v", a, err)
	}
}

const lockHelperEnv = "TIKV_EAR_LOCK_HELPER"

// TestLockHelperProcess is the subprocess side of TestLockAcrossProcesses.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		return // only meaningful as a helper subprocess
	}
	unlock, err := Lock(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until the parent closes stdin
	unlock()
	os.Exit(0)
}

func TestLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotate.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper said %q", line)
	}
	_, err := Lock(path)
	want := fmt.Sprintf("held by pid %d", cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second lock: %v (want %q)", err, want)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the helper released the lock but %s is left behind (stat: %v)", path, err)
	}
	unlock, err := Lock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("unlock leaves %s behind (stat: %v)", path, err)
	}
	// Within one process a second flock on a new descriptor is also refused.
	u1, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	if _, err := Lock(path); err == nil {
		t.Fatal("same-process double lock succeeded")
	}
}
