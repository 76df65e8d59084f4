package cli

// End-to-end tests of issue 5 ("keys from a KMS, rotation, revocation,
// delivery"): every backend file, aws (a real nsmithuk/local-kms) and vault
// (kms/vault/vaulttest) is driven through the real entry point, cli.Main, with
// buffered streams and no terminal, against a small fast simulated cluster.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// keBuffer is a writer safe to read while a command writes to it.
type keBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *keBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *keBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keResult is one run of the CLI.
type keResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r keResult) String() string {
	return fmt.Sprintf("tikv-ear %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// keRun runs cli.Main as main does: buffered streams, no terminal, no CI variable.
func keRun(t *testing.T, args ...string) keResult {
	t.Helper()
	out, errb := &keBuffer{}, &keBuffer{}
	code := Main(args, IO{In: strings.NewReader(""), Out: out, Err: errb, Getenv: func(string) string { return "" }})
	return keResult{args: args, code: code, stdout: out.String(), stderr: errb.String()}
}

// keMust runs the CLI and fails the test unless it exits 0.
func keMust(t *testing.T, args ...string) keResult {
	t.Helper()
	r := keRun(t, args...)
	if r.code != ExitOK {
		t.Fatalf("%s", r)
	}
	return r
}

// keStartSim starts the small fast cluster every test here uses.
func keStartSim(t *testing.T, kmsEndpoint string) *sim.Cluster {
	t.Helper()
	return keStartSimWith(t, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: t.TempDir(), KMSEndpoint: kmsEndpoint})
}

// keStartSimWith starts a cluster with opts and waits for every store to serve.
func keStartSimWith(t *testing.T, opts sim.Options) *sim.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := sim.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	keWait(t, "every simulated store to serve", func() bool {
		for _, n := range cl.Nodes() {
			if !n.Proc.Running() {
				return false
			}
		}
		return true
	})
	return cl
}

// keWait polls ok every 20 ms for up to 30 s.
func keWait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kePlanArgs are the plan flags of a compressed rollout on the sim.
func kePlanArgs(cl *sim.Cluster, dir string, extra ...string) []string {
	args := []string{"plan", "--sim", cl.Env().Dir, "--out-file", filepath.Join(dir, "plan.toml"),
		"--report-dir", filepath.Join(dir, "reports"),
		"--poll", "100ms", "--evict-timeout", "20s", "--ready-timeout", "20s", "--settle-timeout", "20s",
		"--timeout", "5s"}
	return append(args, extra...)
}

// keWriteFile writes content to dir/name (0600) and returns the path.
func keWriteFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var keReportLine = regexp.MustCompile(`tikv-ear report verify (\S+) --key (\S+) --bundle (\S+)`)

// keReportVerified checks that a run printed where its signed report is and
// that 'report verify' accepts it with the published key; it returns the report path.
func keReportVerified(t *testing.T, r keResult) string {
	t.Helper()
	m := keReportLine.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no signed report named on stderr:\n%s", r)
	}
	for _, p := range m[1:] {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("report file: %v", err)
		}
	}
	v := keMust(t, "report", "verify", m[1], "--key", m[2], "--bundle", m[3])
	if !strings.Contains(v.stdout, "verified "+m[1]) {
		t.Fatalf("report verify printed no verdict:\n%s", v)
	}
	return m[1]
}

// keReportRetired checks that report.json records a succeeded rotation whose
// timeline holds the retirement of the old key with detail want.
func keReportRetired(t *testing.T, path, want string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Kind     string `json:"kind"`
		Outcome  string `json:"outcome"`
		Timeline []struct {
			Phase, Status, Detail string
		} `json:"timeline"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r.Kind != "rotate" || r.Outcome != "succeeded" {
		t.Errorf("%s: kind %s outcome %s, want a succeeded rotate", path, r.Kind, r.Outcome)
	}
	for _, e := range r.Timeline {
		if e.Phase == "retire" && e.Status == "ok" && strings.Contains(e.Detail, want) {
			return
		}
	}
	t.Errorf("%s: the timeline records no retirement %q: %+v", path, want, r.Timeline)
}

// keLoadPlan reads plan.toml.
func keLoadPlan(t *testing.T, path string) *steps.Plan {
	t.Helper()
	p, err := steps.LoadPlan(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return p
}

// keVerify runs 'verify --plan' and requires every store to pass.
func keVerify(t *testing.T, plan string) {
	t.Helper()
	r := keMust(t, "verify", "--plan", plan, "--output", "json")
	var res VerifyResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("verify --output json: %v\n%s", err, r)
	}
	if !res.OK || len(res.Stores) != 3 {
		t.Fatalf("verify: ok=%v, %d stores\n%s", res.OK, len(res.Stores), r)
	}
}

func keReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keNoSecrets fails when any key (the 64 hex digits of a key file) appears in
// the outputs of the runs or in any file under dirs (plans, journals, reports).
func keNoSecrets(t *testing.T, keys [][]byte, runs []keResult, dirs ...string) {
	t.Helper()
	var secrets []string
	for _, k := range keys {
		if len(k) != tikv.FileKeySize {
			t.Fatalf("canary: a key file of %d bytes", len(k))
		}
		secrets = append(secrets, string(k[:64]), strings.ToUpper(string(k[:64])))
	}
	if len(secrets) == 0 {
		t.Fatal("canary: no key to look for")
	}
	for _, r := range runs {
		for _, sec := range secrets {
			if strings.Contains(r.stdout+r.stderr, sec) {
				t.Errorf("key material in the output of tikv-ear %s", strings.Join(r.args, " "))
			}
		}
	}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, sec := range secrets {
				if bytes.Contains(b, []byte(sec)) {
					t.Errorf("key material in %s", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// keConfigs returns the bytes of every node's tikv.toml.
func keConfigs(t *testing.T, cl *sim.Cluster) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range cl.Nodes() {
		b, err := os.ReadFile(n.Paths.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		out[n.Paths.ConfigPath] = b
	}
	return out
}

// keUnchanged fails when any tikv.toml differs from before.
func keUnchanged(t *testing.T, cl *sim.Cluster, before map[string][]byte) {
	t.Helper()
	for p, b := range keConfigs(t, cl) {
		if !bytes.Equal(b, before[p]) {
			t.Errorf("%s changed although the run was refused", p)
		}
	}
}

// keDirFiles lists the names of the files in dir (none when it is absent).
func keDirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// keMasterKeys returns the master-key table of every node's tikv.toml.
func keMasterKeys(t *testing.T, cl *sim.Cluster) []tikv.Encryption {
	t.Helper()
	var out []tikv.Encryption
	for p, b := range keConfigs(t, cl) {
		cfg, err := tikvconf.ParseConfig(p, b)
		if err != nil {
			t.Fatalf("parsing %s: %v", p, err)
		}
		out = append(out, cfg.Encryption)
	}
	return out
}

// keRefused asserts a refused run: the exit code, the words of the error, and a hint.
func keRefused(t *testing.T, r keResult, code int, words ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d\n%s", code, r)
	}
	all := r.stdout + r.stderr
	for _, w := range words {
		if !strings.Contains(all, w) {
			t.Errorf("output lacks %q\n%s", w, r)
		}
	}
	if !strings.Contains(r.stderr, "tikv-ear: hint: ") {
		t.Errorf("no hint on stderr\n%s", r)
	}
}

// keCurrentUser is the owner of key files on the sim hosts (they run as this user).
func keCurrentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// ---- file ----
