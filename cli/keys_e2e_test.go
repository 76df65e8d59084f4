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
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: t.TempDir(), KMSEndpoint: kmsEndpoint})
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
	args := []string{"plan", "--sim", cl.Env().Dir, "--out", filepath.Join(dir, "plan.toml"),
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
		cfg, err := tikv.ParseConfig(p, b)
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

// TestKeysFileLifecycle: plan → apply → verify → deliver after a lost tmpfs →
// rotate → verify → rotate --incident (generation 2 shredded) → verify, each
// run with a signed report that report verify accepts and no key in any output.
func TestKeysFileLifecycle(t *testing.T) {
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	opKeys := filepath.Join(t.TempDir(), "operator-keys") // outside dir, which the canary searches
	hostKeys := filepath.Join(cl.Env().Dir, "tikv-keys")  // simKeyDefaults: every sim host shares this machine's disk

	r := keMust(t, kePlanArgs(cl, dir, "--env", "staging", "--backend", "file", "--key-dir", opKeys)...)
	if !strings.Contains(r.stdout, "with a file master key, environment staging") {
		t.Errorf("plan summary:\n%s", r)
	}
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 1 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("planned key: %+v", p.Target.MasterKey)
	}
	if got := keDirFiles(t, hostKeys); len(got) != 0 {
		t.Fatalf("plan delivered keys to the hosts: %v", got)
	}

	runs := []keResult{r}
	var keys [][]byte
	r = keMust(t, "apply", plan, "--yes")
	runs = append(runs, r)
	keReportVerified(t, r)
	if !strings.Contains(r.stderr, "physical floor") || !strings.Contains(r.stderr, "wall/floor") {
		t.Errorf("apply does not end with its wall, physical floor and wall/floor:\n%s", r.stderr)
	}
	keVerify(t, plan)
	keys = append(keys, keReadFile(t, filepath.Join(opKeys, "master-g1.key")))
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.Type != tikv.MasterKeyFile || e.MasterKey.Path != filepath.Join(hostKeys, "master-g1.key") || e.Method != tikv.MethodAES256CTR {
			t.Fatalf("tikv.toml after apply: %+v", e)
		}
	}

	// A reboot empties the tmpfs: the node waits for its key until deliver.
	runs = append(runs, keDeliverAfterReboot(t, cl, plan, filepath.Join(hostKeys, "master-g1.key"))...)

	r = keMust(t, "rotate", plan, "--yes")
	runs = append(runs, r)
	keReportVerified(t, r)
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 2 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("plan after rotate: key %+v previous %+v", p.Target.MasterKey, p.Target.PreviousMasterKey)
	}
	keys = append(keys, keReadFile(t, filepath.Join(opKeys, "master-g2.key")))
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g2.key"}) {
		t.Errorf("host key dir after rotate: %v, want only generation 2", got)
	}
	if got := keDirFiles(t, opKeys); !slices.Equal(got, []string{"master-g1.key", "master-g2.key"}) {
		t.Errorf("operator key dir after a plain rotate: %v (generation 1 is kept until retired)", got)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.Path != filepath.Join(hostKeys, "master-g2.key") || e.PreviousMasterKey.Type != "" {
			t.Fatalf("tikv.toml after rotate: %+v", e)
		}
	}

	r = keMust(t, "rotate", plan, "--incident", "--yes")
	runs = append(runs, r)
	rep := keReportVerified(t, r)
	keVerify(t, plan)
	keys = append(keys, keReadFile(t, filepath.Join(opKeys, "master-g3.key")))
	keReportRetired(t, rep, "old generation 2 retired in file (destroyed)")
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 3 {
		t.Fatalf("plan after the incident rotation: %+v", p.Target.MasterKey)
	}
	// Revocation evidence: generation 2 is shredded on the hosts and in the operator key dir.
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g3.key"}) {
		t.Errorf("host key dir after the incident rotation: %v", got)
	}
	if got := keDirFiles(t, opKeys); slices.Contains(got, "master-g2.key") || !slices.Contains(got, "master-g3.key") {
		t.Errorf("operator key dir after the incident rotation: %v, want generation 2 shredded", got)
	}
	if !strings.Contains(r.stderr, "old generation 2 retired in file (destroyed)") {
		t.Errorf("no retirement line:\n%s", r)
	}
	keNoSecrets(t, keys, runs, dir)
}

// keDeliverAfterReboot deletes a node's key file (a tmpfs lost on reboot),
// restarts the node over SSH, sees it wait for its key, runs deliver and
// waits for the unit's restart loop to bring the node back.
func keDeliverAfterReboot(t *testing.T, cl *sim.Cluster, plan, keyFile string) []keResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	n1 := cl.Nodes()[0]
	before, err := sess.PD.Store(ctx, n1.StoreID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	var target string
	for _, in := range sess.Inventory.Nodes {
		if in.StoreID == n1.StoreID {
			target = gather.SSHTarget(in, sess.Flags.SSHUser)
		}
	}
	res, err := sess.SSH.Run(ctx, target, "systemctl restart "+n1.Paths.UnitName, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("systemctl restart over SSH: %v exit %d %s", err, res.ExitCode, res.Stderr)
	}
	var state gather.State
	var status keResult
	keWait(t, "store 1 to wait for its key", func() bool {
		r := keRun(t, "status", "--sim", cl.Env().Dir, "--output", "json", "--timeout", "2s")
		status = r
		var rep gather.Report
		if json.Unmarshal([]byte(r.stdout), &rep) != nil {
			return false
		}
		for _, s := range rep.Stores {
			if s.StoreID == n1.StoreID {
				state = s.State
			}
		}
		return state == gather.StateWaitingForKey
	})
	if n1.Proc.Running() {
		t.Fatal("store 1 runs without its key file")
	}
	r := keMust(t, "deliver", plan, "--store", "1")
	if !strings.Contains(r.stderr, "store 1 (") || !strings.Contains(r.stderr, "): key generation 1 delivered") {
		t.Errorf("deliver output:\n%s", r)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o400 || fi.Size() != tikv.FileKeySize {
		t.Fatalf("delivered key file: %v %v", fi, err)
	}
	keWait(t, "the unit's restart loop to bring store 1 back", func() bool {
		si, err := sess.PD.Store(ctx, n1.StoreID)
		return err == nil && si.Store.StateName == pd.StateUp && si.Store.StartTimestamp > before.Store.StartTimestamp && n1.Proc.Running()
	})
	keVerify(t, plan)
	return []keResult{status, r}
}

// ---- aws ----

// keAWSClient is this test's own client of local-kms (not the tool's).
func keAWSClient(lk *kmstest.LocalKMS) *awssdk.Client {
	cfg := aws.Config{Region: lk.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test", "")}
	return awssdk.NewFromConfig(cfg, func(o *awssdk.Options) { o.BaseEndpoint = aws.String(lk.Endpoint) })
}

func keAWSState(t *testing.T, c *awssdk.Client, id string) awstypes.KeyState {
	t.Helper()
	out, err := c.DescribeKey(context.Background(), &awssdk.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey %s: %v", id, err)
	}
	return out.KeyMetadata.KeyState
}

// keAWSEnv keeps the tool on the test's credentials file: no profile, IMDS or
// stray keys from the environment.
func keAWSEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// keAWSConfig writes a --key-config for local-kms with the dummy credentials file.
func keAWSConfig(t *testing.T, dir string, lk *kmstest.LocalKMS, body string) string {
	t.Helper()
	return keWriteFile(t, dir, "key.toml", fmt.Sprintf("[key]\nbackend = \"aws\"\n[key.aws]\n%scredentials-file = %q\n", body, lk.CredentialsFile))
}

// TestKeysAWSLifecycle runs the lifecycle on a real local-kms that the
// simulated TiKV nodes call too: rotation moves to next-key-id, a used-up
// next-key-id is refused, --incident creates a CMK and disables the old one.
func TestKeysAWSLifecycle(t *testing.T) {
	keAWSEnv(t)
	lk := kmstest.Start(t, kmstest.Options{})
	cl := keStartSim(t, lk.Endpoint)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	cfg := keAWSConfig(t, dir, lk, fmt.Sprintf("key-id = %q\nregion = %q\nendpoint = %q\nnext-key-id = %q\n",
		lk.Aliases[0], lk.Region, lk.Endpoint, lk.Aliases[1]))
	client := keAWSClient(lk)
	first, second := lk.ARN(lk.KeyIDs[0]), lk.ARN(lk.KeyIDs[1])

	r := keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	if !strings.Contains(r.stdout, "with a aws master key, environment production") && !strings.Contains(r.stdout, "aws master key") {
		t.Errorf("plan summary:\n%s", r)
	}
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != first {
		t.Fatalf("planned key %q, want the ARN %s", p.Target.MasterKey.ID, first)
	}

	r = keMust(t, "apply", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	for _, e := range keMasterKeys(t, cl) {
		mk := e.MasterKey
		if mk.Type != tikv.MasterKeyKMS || mk.Vendor != tikv.VendorAWS || mk.KeyID != first || mk.Region != lk.Region || mk.Endpoint != lk.Endpoint {
			t.Fatalf("tikv.toml after apply: %+v", mk)
		}
	}

	// TiKV fetches a KMS key itself: deliver has nothing to put on the hosts.
	before, planBefore := keConfigs(t, cl), keReadFile(t, plan)
	r = keMust(t, "deliver", plan)
	if strings.Count(r.stderr, "nothing to deliver: TiKV fetches its aws key from the KMS itself") != 3 {
		t.Errorf("deliver with a KMS key:\n%s", r)
	}
	keUnchanged(t, cl, before)
	if !bytes.Equal(keReadFile(t, plan), planBefore) {
		t.Error("deliver with a KMS key changed plan.toml")
	}

	r = keMust(t, "rotate", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	if !strings.Contains(r.stderr, "new master key prepared: key "+second) {
		t.Errorf("rotate does not name the new CMK:\n%s", r)
	}
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != second || p.Target.PreviousMasterKey != nil {
		t.Fatalf("plan after rotate: key %+v previous %+v", p.Target.MasterKey, p.Target.PreviousMasterKey)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.KeyID != second || e.PreviousMasterKey.Type != "" {
			t.Fatalf("tikv.toml after rotate: %+v", e)
		}
	}
	if st := keAWSState(t, client, first); st != awstypes.KeyStateEnabled {
		t.Errorf("a plain rotate changed the old key to %s", st)
	}

	if p.Target.Key.AWS.KeyID != second || p.Target.Key.AWS.NextKeyID != "" {
		t.Errorf("plan [target.key.aws] after rotate: %+v, want key-id = the new key and no next-key-id", p.Target.Key.AWS)
	}

	// next-key-id is used up: another rotation must not "rotate" to the key in
	// use (and then revoke it); it is refused before anything changes.
	before, planBefore = keConfigs(t, cl), keReadFile(t, plan)
	r = keRun(t, "rotate", plan, "--incident", "--yes")
	keRefused(t, r, ExitFailure, "a new master key needs [key.aws] next-key-id (or create-keys = true)", "hint: nothing on any host changed")
	keUnchanged(t, cl, before)
	if !bytes.Equal(planBefore, keReadFile(t, plan)) {
		t.Error("the refused rotation rewrote the plan")
	}
	if st := keAWSState(t, client, second); st != awstypes.KeyStateEnabled {
		t.Fatalf("the refused rotation left the key in use %s", st)
	}

	// The operator lets the tool create the next CMK.
	p.Target.Key.AWS.CreateKeys = true
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	keWriteFile(t, dir, "plan.toml", string(data))
	r = keMust(t, "rotate", plan, "--incident", "--yes")
	keReportRetired(t, keReportVerified(t, r), "old key "+second+" retired in aws (Disabled)")
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	third := p.Target.MasterKey.ID
	if third == second || third == first || !strings.HasPrefix(third, "arn:aws:kms:"+lk.Region+":") {
		t.Fatalf("plan after the incident rotation names %q", third)
	}
	// Revocation evidence: the old CMK is Disabled; the new one is Enabled.
	if st := keAWSState(t, client, second); st != awstypes.KeyStateDisabled {
		t.Errorf("old key %s is %s after the incident rotation, want Disabled", second, st)
	}
	if !strings.Contains(r.stderr, "old key "+second+" retired in aws (Disabled)") {
		t.Errorf("no retirement line:\n%s", r)
	}
	if st := keAWSState(t, client, third); st != awstypes.KeyStateEnabled {
		t.Errorf("new key %s is %s", third, st)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.KeyID != third {
			t.Fatalf("tikv.toml after the incident rotation: %+v", e)
		}
	}
}

// ---- vault ----

// keVaultConfig writes a token file and a --key-config for the fake Vault at addr.
func keVaultConfig(t *testing.T, cl *sim.Cluster, dir, addr, token string) string {
	t.Helper()
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_NAMESPACE", "")
	tok := keWriteFile(t, dir, "vault-token", token+"\n")
	return keWriteFile(t, dir, "key.toml", fmt.Sprintf(
		"[key]\nbackend = \"vault\"\n[key.vault]\ncluster = \"c1\"\naddress = %q\ntoken-file = %q\ncreate-kek = true\nhost-key-dir = %q\nowner = %q\n",
		addr, tok, filepath.Join(cl.Env().Dir, "vault-keys"), keCurrentUser(t)))
}

// TestKeysVaultLifecycle runs the lifecycle on the Vault fake: generations in
// KV v2, deliver unwraps again after a lost tmpfs, --incident destroys the old
// generation's KV version and shreds its host files.
func TestKeysVaultLifecycle(t *testing.T) {
	vs := vaulttest.New(t)
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	cfg := keVaultConfig(t, cl, dir, vs.URL, vs.RootToken)
	hostKeys := filepath.Join(cl.Env().Dir, "vault-keys")

	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 1 || p.Target.MasterKey.Version != "1" {
		t.Fatalf("planned key: %+v", p.Target.MasterKey)
	}

	r := keMust(t, "apply", plan, "--yes")
	runs := []keResult{r}
	keReportVerified(t, r)
	keVerify(t, plan)
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.Type != tikv.MasterKeyFile || e.MasterKey.Path != filepath.Join(hostKeys, "master-g1.key") {
			t.Fatalf("tikv.toml after apply: %+v", e)
		}
	}
	keys := [][]byte{keReadFile(t, filepath.Join(hostKeys, "master-g1.key"))}
	// deliver unwraps the generation from Vault again after a reboot.
	runs = append(runs, keDeliverAfterReboot(t, cl, plan, filepath.Join(hostKeys, "master-g1.key"))...)
	if got := keReadFile(t, filepath.Join(hostKeys, "master-g1.key")); !bytes.Equal(got, keys[0]) {
		t.Error("deliver put back another key than generation 1")
	}

	r = keMust(t, "rotate", plan, "--yes")
	runs = append(runs, r)
	keReportVerified(t, r)
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 2 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("plan after rotate: key %+v previous %+v", p.Target.MasterKey, p.Target.PreviousMasterKey)
	}
	gen2Version := p.Target.MasterKey.Version
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g2.key"}) {
		t.Errorf("host key dir after rotate: %v", got)
	}
	keys = append(keys, keReadFile(t, filepath.Join(hostKeys, "master-g2.key")))

	r = keMust(t, "rotate", plan, "--incident", "--yes")
	runs = append(runs, r)
	keReportRetired(t, keReportVerified(t, r), "old generation 2 retired in vault (destroyed)")
	keVerify(t, plan)
	keys = append(keys, keReadFile(t, filepath.Join(hostKeys, "master-g3.key")))
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 3 {
		t.Fatalf("plan after the incident rotation: %+v", p.Target.MasterKey)
	}
	v2, err := strconv.Atoi(gen2Version)
	if err != nil {
		t.Fatalf("generation 2's KV version %q: %v", gen2Version, err)
	}
	if !vs.KVVersionDestroyed("tikv/c1/master-key", v2) {
		t.Errorf("KV version %d (generation 2) is not destroyed after the incident rotation", v2)
	}
	if vs.KVVersionDestroyed("tikv/c1/master-key", v2+1) {
		t.Errorf("the current generation's KV version was destroyed")
	}
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g3.key"}) {
		t.Errorf("host key dir after the incident rotation: %v", got)
	}
	if !strings.Contains(r.stderr, "old generation 2 retired in vault (destroyed)") {
		t.Errorf("no retirement line:\n%s", r)
	}
	keNoSecrets(t, keys, runs, dir)
}

// ---- bad input ----

// keClosedURL returns an http URL on 127.0.0.1 where nothing listens.
func keClosedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestKeysFileRefusedInProduction: a file key in a production plan is refused
// as bad input (exit 2) with a hint to use a KMS; no key is generated and no
// host changes.
func TestKeysFileRefusedInProduction(t *testing.T) {
	cl := keStartSim(t, "")
	dir := t.TempDir()
	before := keConfigs(t, cl)
	r := keRun(t, kePlanArgs(cl, dir, "--env", "production", "--backend", "file", "--key-dir", filepath.Join(dir, "keys"))...)
	keRefused(t, r, ExitUsage, "a file master key is refused for a production plan",
		"hint: use a KMS backend (aws, gcp, azure) or vault")
	if _, err := os.Stat(filepath.Join(dir, "plan.toml")); !os.IsNotExist(err) {
		t.Errorf("plan.toml was written: %v", err)
	}
	if got := keDirFiles(t, filepath.Join(dir, "keys")); len(got) != 0 {
		t.Errorf("a key was generated for a refused plan: %v", got)
	}
	keUnchanged(t, cl, before)
}

// TestKeysAWSBadInput: a wrong region, an unknown key id and an unreachable
// KMS are each refused by plan with a clear message and a hint, and nothing changes.
func TestKeysAWSBadInput(t *testing.T) {
	keAWSEnv(t)
	lk := kmstest.Start(t, kmstest.Options{})
	cl := keStartSim(t, lk.Endpoint)
	before := keConfigs(t, cl)
	arn := lk.ARN(lk.KeyIDs[0])
	cases := []struct {
		name  string
		body  string
		words []string
	}{
		{"wrong region", fmt.Sprintf("key-id = %q\nregion = \"eu-central-1\"\nendpoint = %q\n", arn, lk.Endpoint),
			[]string{"is in region " + lk.Region, `region = "eu-central-1"`, `hint: set region = "` + lk.Region + `"`}},
		{"unknown key id", fmt.Sprintf("key-id = \"alias/no-such-key\"\nregion = %q\nendpoint = %q\n", lk.Region, lk.Endpoint),
			[]string{"alias/no-such-key not found in region " + lk.Region, "hint: check key-id and region"}},
		{"kms unreachable", fmt.Sprintf("key-id = %q\nregion = %q\nendpoint = %q\n", arn, lk.Region, keClosedURL(t)),
			[]string{"DescribeKey on key " + arn, "connection refused", "hint: check key-id and region"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := keAWSConfig(t, dir, lk, c.body)
			r := keRun(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
			keRefused(t, r, ExitFailure, append(c.words, "plan.toml was not written")...)
			if _, err := os.Stat(filepath.Join(dir, "plan.toml")); !os.IsNotExist(err) {
				t.Errorf("plan.toml was written: %v", err)
			}
			keUnchanged(t, cl, before)
		})
	}
}

// keCASProxy forwards to the fake Vault; before the first KV write it writes
// a record itself, as a concurrent run would, so the tool's check-and-set fails.
func keCASProxy(t *testing.T, vs *vaulttest.Server) string {
	t.Helper()
	target, err := url.Parse(vs.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.URL.Path == "/v1/secret/data/tikv/c1/master-key" {
			once.Do(func() {
				vs.PutKV("tikv/c1/master-key", map[string]any{"ciphertext": "vault:v1:cmFjZQ==", "generation": 1, "transit_key": "tikv-c1-kek"})
			})
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestKeysVaultBadInput: a sealed Vault, an expired token, an unreachable
// Vault and a KV check-and-set conflict are each refused by plan, and nothing changes.
func TestKeysVaultBadInput(t *testing.T) {
	cl := keStartSim(t, "")
	before := keConfigs(t, cl)
	hostKeys := filepath.Join(cl.Env().Dir, "vault-keys")
	plain := func(vs *vaulttest.Server) string { return vs.URL }
	cases := []struct {
		name  string
		setup func(vs *vaulttest.Server) (addr, token string)
		words []string
	}{
		{"sealed", func(vs *vaulttest.Server) (string, string) { vs.Seal(true); return plain(vs), vs.RootToken },
			[]string{"is sealed", "hint: unseal Vault"}},
		{"expired token", func(vs *vaulttest.Server) (string, string) {
			tok := vs.AddToken(vaulttest.Policy{"*": {"root"}}, time.Hour)
			vs.ExpireToken(tok)
			return plain(vs), tok
		}, []string{"token rejected (permission denied): it is missing, expired or revoked", "hint: log in again"}},
		{"unreachable", func(vs *vaulttest.Server) (string, string) { return keClosedURL(t), vs.RootToken },
			[]string{"/v1/sys/health", "connection refused", "hint: check VAULT_ADDR"}},
		{"cas conflict", func(vs *vaulttest.Server) (string, string) { return keCASProxy(t, vs), vs.RootToken },
			[]string{"check-and-set conflict", "retry once the other run has finished", "hint: nothing on any host changed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := vaulttest.New(t)
			dir := t.TempDir()
			addr, token := c.setup(vs)
			cfg := keVaultConfig(t, cl, dir, addr, token)
			r := keRun(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
			keRefused(t, r, ExitFailure, c.words...)
			if _, err := os.Stat(filepath.Join(dir, "plan.toml")); !os.IsNotExist(err) {
				t.Errorf("plan.toml was written: %v", err)
			}
			if got := keDirFiles(t, hostKeys); len(got) != 0 {
				t.Errorf("keys reached the hosts: %v", got)
			}
			keUnchanged(t, cl, before)
		})
	}
}

// TestKeysVaultApplyPreflight: the plan was fine, then Vault was sealed or
// the token expired: apply's preflight refuses and nothing on any host changes.
func TestKeysVaultApplyPreflight(t *testing.T) {
	cl := keStartSim(t, "")
	vs := vaulttest.New(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	tok := vs.AddToken(vaulttest.Policy{"*": {"root"}}, time.Hour)
	cfg := keVaultConfig(t, cl, dir, vs.URL, tok)
	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	before := keConfigs(t, cl)
	planBefore, _ := os.ReadFile(plan)
	hostKeys := filepath.Join(cl.Env().Dir, "vault-keys")

	vs.Seal(true)
	r := keRun(t, "apply", plan, "--yes")
	keRefused(t, r, ExitFailure, "is sealed", "preflight failed with 1 blocking finding(s); nothing changed", "hint: unseal Vault")
	r = keRun(t, "deliver", plan)
	keRefused(t, r, ExitFailure, "is sealed", "nothing delivered", "hint: unseal Vault")
	keUnchanged(t, cl, before)
	if got := keDirFiles(t, hostKeys); len(got) != 0 {
		t.Errorf("keys reached the hosts: %v", got)
	}
	vs.Seal(false)

	vs.ExpireToken(tok)
	r = keRun(t, "apply", plan, "--yes")
	keRefused(t, r, ExitFailure, "token rejected", "nothing changed", "hint: log in again")
	r = keRun(t, "rotate", plan, "--yes")
	keRefused(t, r, ExitFailure, "token rejected", "nothing changed", "hint: log in again")
	r = keRun(t, "deliver", plan)
	keRefused(t, r, ExitFailure, "token rejected", "nothing delivered", "hint: log in again")
	keUnchanged(t, cl, before)
	if got := keDirFiles(t, hostKeys); len(got) != 0 {
		t.Errorf("keys reached the hosts: %v", got)
	}
	if planAfter, _ := os.ReadFile(plan); !bytes.Equal(planBefore, planAfter) {
		t.Error("a refused run rewrote the plan")
	}
}
