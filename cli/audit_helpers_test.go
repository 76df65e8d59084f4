package cli

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/wizard"
)

// fastStrategy is a compressed rollout for the sim: 100 ms polls.
func fastStrategy() steps.Strategy {
	s := wizard.DemoStrategy()
	s.Canary = 1
	s.EvictPoll, s.ReadyPoll, s.SettlePoll = steps.D(100*time.Millisecond), steps.D(100*time.Millisecond), steps.D(100*time.Millisecond)
	return s
}

// writeSimPlan builds a staging plan with a file master key for the sim in
// cl (no host changes: the key is generated on the operator side) and writes
// it to dir/plan.toml.
func writeSimPlan(t *testing.T, ctx context.Context, cl *sim.Cluster, dir string) (string, *steps.Plan) {
	t.Helper()
	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second, Concurrency: 4}.Connect(ctx)
	if err != nil {
		t.Fatalf("connecting to the sim: %v", err)
	}
	defer sess.Close()
	planned, err := steps.BuildPlan(ctx, sess, steps.PlanRequest{Environment: steps.EnvStaging, Method: tikv.MethodAES256CTR, RotationPeriod: "7d",
		Key: kms.Spec{Backend: "file"}, Strategy: fastStrategy(), Policies: steps.DefaultPolicies(),
		ReportDir: filepath.Join(dir, "reports"), Rotation: "365d"})
	if err != nil {
		t.Fatalf("building the plan: %v", err)
	}
	if b := steps.Blocking(planned.Checks); len(b) > 0 {
		t.Fatalf("plan preflight blocks: %+v", b)
	}
	data, err := planned.Plan.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "plan.toml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, planned.Plan
}

// hostSnapshot hashes the files of the sim's hosts that tikv-ear could change:
// configs, key files, units, scripts, meta.yaml and the env files. TiKV's own
// logs and data files (which the sim's compaction rewrites) are left out.
func hostSnapshot(t *testing.T, cl *sim.Cluster) map[string]string {
	t.Helper()
	var skip []string
	for _, n := range cl.Nodes() {
		skip = append(skip, n.Paths.DataDir+string(filepath.Separator), n.Paths.LogDir+string(filepath.Separator))
	}
	out := map[string]string{}
	err := filepath.WalkDir(cl.Env().Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".log") {
			return nil
		}
		for _, s := range skip {
			if strings.HasPrefix(p, s) {
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[p] = fi.Mode().String() + " " + hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatalf("hashing the sim's files: %v", err)
	}
	return out
}

func diffSnapshots(before, after map[string]string) []string {
	var diff []string
	for p, h := range before {
		if after[p] != h {
			diff = append(diff, "changed or removed: "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diff = append(diff, "added: "+p)
		}
	}
	slices.Sort(diff)
	return diff
}

// enableByHand delivers the plan's key to store 1's host and restarts it with
// encryption on, without the engine (like an operator's manual edit).
func enableByHand(t *testing.T, ctx context.Context, cl *sim.Cluster, p *steps.Plan) {
	t.Helper()
	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		t.Fatal(err)
	}
	n1 := cl.Nodes()[0]
	eng := steps.NewEngine(sess, p, backend)
	if err := backend.Deliver(ctx, eng.KeyHosts[n1.StoreID], p.Target.MasterKey); err != nil {
		t.Fatalf("delivering the key to store %d: %v", n1.StoreID, err)
	}
	orig, err := os.ReadFile(n1.Paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := tikvconf.ApplyEdits(orig, tikvconf.EncryptionEdits(tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: backend.MasterKey(p.Target.MasterKey)})...)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n1.Paths.ConfigPath, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	restartOverSSH(t, ctx, cl.Env().Dir, n1).Close()
}

// runMain runs the CLI as main does, with buffers for the streams.
func runMain(ctx context.Context, args ...string) (int, string, string) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	code := Main(args, IO{In: strings.NewReader(""), Out: out, Err: errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

// backendKeyPath is the host path of the plan's key file.
func backendKeyPath(t *testing.T, p *steps.Plan) string {
	t.Helper()
	b, err := kms.New(p.Target.Key)
	if err != nil {
		t.Fatal(err)
	}
	return b.MasterKey(p.Target.MasterKey).Path
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// canaryForms are the ways a file key could leak: its hex text in either
// case and the raw bytes in base64.
func canaryForms(b []byte) []string {
	h := strings.TrimSpace(string(b))
	out := []string{h, strings.ToUpper(h)}
	if raw, err := hex.DecodeString(h); err == nil {
		out = append(out, base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw))
	}
	return out
}

// findingLines lists findings one a line, for failure messages.
func findingLines(fs []report.Finding) string {
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.Severity + ": " + f.Message
	}
	return strings.Join(lines, "\n")
}
