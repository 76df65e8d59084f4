package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
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

func TestAuditHalfEncryptedSimIsReadOnlyAndSigned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := startSim(t, 3)
	dir := t.TempDir()
	planPath, p := writeSimPlan(t, ctx, cl, dir)
	enableByHand(t, ctx, cl, p)

	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	startTS := func() map[uint64]int64 {
		stores, err := sess.PD.Stores(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		m := map[uint64]int64{}
		for _, s := range stores {
			m[s.Store.Id] = s.Store.StartTimestamp
		}
		return m
	}
	schedulers := func() []string {
		s, err := sess.PD.Schedulers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(s)
		return s
	}
	planBefore, _ := os.ReadFile(planPath)
	tsBefore, schedBefore, filesBefore := startTS(), schedulers(), hostSnapshot(t, cl)
	for _, n := range cl.Nodes() {
		if filesBefore[n.Paths.ConfigPath] == "" || filesBefore[n.Paths.UnitFile] == "" {
			t.Fatalf("the snapshot misses %s or %s", n.Paths.ConfigPath, n.Paths.UnitFile)
		}
	}
	if keyFile := backendKeyPath(t, p); filesBefore[keyFile] == "" {
		t.Fatalf("the snapshot misses the key file %s", keyFile)
	}

	reports := filepath.Join(dir, "audits")
	code, stdout, stderr := runMain(ctx, "audit", planPath, "--dir", reports, "--output", "json")
	if code != ExitFailure {
		t.Fatalf("audit of a half-encrypted cluster exited %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitFailure, stdout, stderr)
	}
	var sum AuditSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("audit --output json: %v\n%s", err, stdout)
	}

	// Read-only: no file, restart or scheduler changed.
	if d := diffSnapshots(filesBefore, hostSnapshot(t, cl)); len(d) > 0 {
		t.Errorf("audit changed files on the hosts:\n%s", strings.Join(d, "\n"))
	}
	if planAfter, _ := os.ReadFile(planPath); !bytes.Equal(planBefore, planAfter) {
		t.Error("audit rewrote the plan")
	}
	if got := startTS(); !mapsEqual(got, tsBefore) {
		t.Errorf("a store restarted during the audit: start timestamps %v, before %v", got, tsBefore)
	}
	if got := schedulers(); !slices.Equal(got, schedBefore) {
		t.Errorf("PD schedulers changed: %v, before %v", got, schedBefore)
	}

	// The findings name exactly what is missing.
	n1 := cl.Nodes()[0].StoreID
	if sum.Stores != 3 || sum.Encrypted != 1 || sum.Failing == 0 {
		t.Errorf("summary: %+v", sum)
	}
	notEncrypted := map[uint64]bool{}
	var coverage string
	for _, f := range sum.Findings {
		if strings.Contains(f.Message, "is not encrypted") {
			notEncrypted[f.Store] = true
			if f.Severity != report.SeverityHigh {
				t.Errorf("plaintext store finding is %s: %s", f.Severity, f.Message)
			}
		}
		if strings.HasPrefix(f.Message, "coverage: ") {
			coverage = f.Message
		}
	}
	want := map[uint64]bool{}
	for _, n := range cl.Nodes()[1:] {
		want[n.StoreID] = true
	}
	if !mapsEqual(notEncrypted, want) {
		t.Errorf("stores named not encrypted: %v, want %v\nfindings: %+v", notEncrypted, want, sum.Findings)
	}

	rep, err := report.Verify(sum.Report, report.VerifyOptions{KeyPath: sum.PublicKey, BundlePath: filepath.Join(sum.ReportDir, report.FileBundle)})
	if err != nil {
		t.Fatalf("the audit report does not verify: %v", err)
	}
	if rep.ReportSHA256 == "" {
		t.Error("verify returned no digest")
	}
	var r report.Report
	data, err := os.ReadFile(sum.Report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Kind != report.KindAudit || len(r.Stores) != 3 || r.PlanDigest == "" {
		t.Fatalf("report: kind %s, %d stores, plan digest %q", r.Kind, len(r.Stores), r.PlanDigest)
	}
	var enc, total int64
	for _, s := range r.Stores {
		if s.Before.Method != s.After.Method || s.Before.MasterKey != s.After.MasterKey {
			t.Errorf("store %d: before %+v != after %+v", s.ID, s.Before, s.After)
		}
		if s.Verification.Coverage == nil {
			t.Fatalf("store %d has no coverage", s.ID)
		}
		enc += s.Verification.Coverage.FilesEncrypted
		total += s.Verification.Coverage.FilesEncrypted + s.Verification.Coverage.FilesPlaintext
		if s.ID != n1 {
			continue
		}
		if s.After.Method != tikv.MethodAES256CTR || s.After.MasterKey.Type != tikv.MasterKeyFile || s.After.MasterKey.Fingerprint != p.Target.MasterKey.Fingerprint {
			t.Errorf("store %d (hand-enabled): %+v", s.ID, s.After)
		}
		if s.Verification.KeyFile == nil || s.Verification.KeyFile.Mode != "0400" || s.Verification.KeyDict == nil || s.Verification.KeyDict.Method != tikv.MetadataMethodAES256GCM {
			t.Errorf("store %d verification: key file %+v key.dict %+v", s.ID, s.Verification.KeyFile, s.Verification.KeyDict)
		}
	}
	wantCov := "coverage: " + strconv.FormatInt(enc, 10) + " of " + strconv.FormatInt(total, 10) + " data files encrypted"
	if !strings.HasPrefix(coverage, wantCov) {
		t.Errorf("coverage finding %q, want it to start with %q", coverage, wantCov)
	}
	if len(r.Keys) != 1 || r.Keys[0].Role != "master-key" || len(r.Keys[0].Versions) != 1 || r.Keys[0].Versions[0].Fingerprint != p.Target.MasterKey.Fingerprint {
		t.Errorf("key evidence: %+v", r.Keys)
	}
	if s := r.Schedule; s == nil || s.MasterKeyPeriodDays != 365 || !s.LastMasterKeyRotation.Equal(p.Target.MasterKey.Created) ||
		!s.NextDue.Equal(p.Target.MasterKey.Created.Add(365*schedule.Day)) || s.Mechanism != RunnerManual {
		t.Errorf("schedule: %+v (key created %v)", r.Schedule, p.Target.MasterKey.Created)
	}
	for _, c := range r.Compliance {
		if c.ID == "3.5.1" && c.Status != report.ControlNotEvidenced {
			t.Errorf("PCI 3.5.1 on a half-encrypted cluster: %s", c.Status)
		}
	}

	// Canary: the secret files the plan's key config references (the
	// operator-side key generations), the key delivered to the host and the
	// report signing key never appear in any report file.
	var secrets []string
	_ = filepath.WalkDir(p.Target.Key.File.KeyDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(path); err == nil {
				secrets = append(secrets, canaryForms(b)...)
			}
		}
		return nil
	})
	if b, err := os.ReadFile(filepath.Join(reports, "signing-key.pem")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if len(line) > 20 && !strings.HasPrefix(line, "-----") {
				secrets = append(secrets, line)
			}
		}
	}
	if len(secrets) < 4 {
		t.Fatalf("canary: found too few secrets to look for (%d)", len(secrets))
	}
	entries, _ := os.ReadDir(sum.ReportDir)
	for _, e := range entries {
		body, _ := os.ReadFile(filepath.Join(sum.ReportDir, e.Name()))
		for _, s := range secrets {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("%s contains secret material", e.Name())
			}
		}
	}
	if !strings.Contains(stderr, "tikv-ear: error: audit found") {
		t.Errorf("stderr lacks the exit reason:\n%s", stderr)
	}

	// Without a plan: connect flags alone, the default policy, no key evidence.
	code, stdout, stderr = runMain(ctx, "audit", "--sim", cl.Env().Dir, "--dir", reports, "--output", "json")
	var bare AuditSummary
	if err := json.Unmarshal([]byte(stdout), &bare); err != nil || code != ExitFailure {
		t.Fatalf("audit without a plan (exit %d): %v\n%s", code, err, stderr)
	}
	if bare.MasterKey == nil || bare.MasterKey.LastRotation != nil || !bare.MasterKey.Overdue ||
		!strings.Contains(findingLines(bare.Findings), "medium: the last master-key rotation is unknown") {
		t.Errorf("audit without a plan: %+v\n%s", bare.MasterKey, findingLines(bare.Findings))
	}

	// Status with the plan shows the key's age; an old key is a warning.
	code, stdout, stderr = runMain(ctx, "status", "--plan", planPath)
	due := p.Target.MasterKey.Created.Add(365 * schedule.Day).Format(time.DateOnly)
	if code != ExitOK || !strings.Contains(stdout, "master key gen 1, age 0 days, next due "+due) || strings.Contains(stdout+stderr, "overdue") {
		t.Errorf("status --plan (exit %d):\n%s\n%s", code, stdout, stderr)
	}
	p.Target.MasterKey.Created = time.Now().UTC().Add(-400 * schedule.Day).Truncate(time.Second)
	if err := savePlan(planPath, p); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runMain(ctx, "status", "--plan", planPath, "--output", "json")
	var st gather.Report
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status json: %v", err)
	}
	if code != ExitOK || st.MasterKey == nil || !st.MasterKey.Overdue || st.MasterKey.AgeDays != 400 || st.MasterKey.Generation != 1 ||
		st.MasterKey.LastRotationSource != gather.RotationFromPlan || !strings.Contains(stderr, "warning: master key gen 1 is overdue: 400 days old") {
		t.Errorf("status of an overdue key (exit %d): %+v\n%s", code, st.MasterKey, stderr)
	}
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

func TestBuildAuditFindings(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	created := now.Add(-500 * schedule.Day)
	rep := &gather.Report{GatheredAt: now, Complete: true, Cluster: gather.Cluster{ID: 7, Regions: gather.RegionHealth{DownPeer: 2},
		EvictLeaderSchedulers: []string{"evict-leader-scheduler"}, EvictLeaderStores: []uint64{2}},
		Stores: []gather.Store{{
			StoreID: 1, Address: "a:1", State: gather.StateEncrypted, PD: gather.PDFacts{StateName: "Up"},
			Running:  &gather.RunningFacts{Method: tikv.MethodAES256CTR, IsInitialized: true},
			Config:   &gather.ConfigFacts{Method: tikv.MethodAES256CTR, MasterKey: gather.MasterKeyFacts{Type: "file", Path: "/k/2"}, PreviousMasterKey: &gather.MasterKeyFacts{Type: "file", Path: "/k/1"}},
			KeyDict:  &gather.KeyDictFacts{Exists: true, Method: tikv.MetadataMethodAES256GCM},
			KeyFile:  &gather.KeyFileFacts{Path: "/k/2", Exists: true, Mode: "0644", FSType: "ext2/ext3"},
			Coverage: &gather.Coverage{Encrypted: gather.Tally{Files: 10, Bytes: 1000}, FilesPercent: 100, BytesPercent: 100},
		}, {
			StoreID: 2, Address: "a:2", State: gather.StateEncryptedPartial, PD: gather.PDFacts{StateName: "Up"},
			Running:  &gather.RunningFacts{Method: tikv.MethodAES256CTR},
			Config:   &gather.ConfigFacts{Method: tikv.MethodAES256CTR, MasterKey: gather.MasterKeyFacts{Type: "plaintext"}},
			KeyDict:  &gather.KeyDictFacts{Exists: true, Method: "plaintext", KeysExposed: true},
			Coverage: &gather.Coverage{Encrypted: gather.Tally{Files: 1, Bytes: 100}, Plaintext: gather.Tally{Files: 3, Bytes: 900}, BytesPercent: 10},
		}},
	}
	ref := kms.KeyRef{Backend: "file", ID: "/ops/2", Generation: 2, Fingerprint: "sha256:ab", Created: created}
	r := BuildAudit(rep, AuditInput{Policy: schedule.DefaultPolicy(), Started: now, Finished: now, RunID: "audit-x",
		Keys: []AuditKey{{Role: "master-key", Ref: ref, Rendered: tikv.MasterKey{Type: "file", Path: "/k/2"}, Evidence: &kms.Evidence{Created: created, State: "active"}}}})
	want := []struct{ sev, text string }{
		{report.SeverityHigh, "store 1 (a:1): master key file /k/2 is on ext2/ext3, not tmpfs"},
		{report.SeverityHigh, "mode 0644, wider than 0400"},
		{report.SeverityMedium, "store 1 (a:1): a previous-master-key (/k/1) is still configured"},
		{report.SeverityCritical, "store 2 (a:2): key.dict metadata method is plaintext"},
		{report.SeverityHigh, "store 2 (a:2): 3 of 4 data files are still plaintext on disk (10% of bytes encrypted)"},
		{report.SeverityMedium, "coverage: 11 of 14 data files encrypted on disk (55% of bytes); 3 files are plaintext"},
		{report.SeverityMedium, "evict-leader scheduler evict-leader-scheduler is present (stores 2)"},
		{report.SeverityMedium, "region health: 2 region(s) in PD's down-peer check"},
		{report.SeverityHigh, "master-key rotation is overdue: generation 2 is 500 days old, due 2026-07-15 under the 365d policy"},
	}
	for _, w := range want {
		found := false
		for _, f := range r.Findings {
			if f.Severity == w.sev && strings.Contains(f.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s finding %q in:\n%s", w.sev, w.text, findingLines(r.Findings))
		}
	}
	if len(r.Findings) != len(want) {
		t.Errorf("%d findings, want %d:\n%s", len(r.Findings), len(want), findingLines(r.Findings))
	}
	if fp := r.Stores[0].After.MasterKey.Fingerprint; fp != ref.Fingerprint {
		t.Errorf("store 1's master key is the plan's generation but has fingerprint %q", fp)
	}
	for _, c := range r.Compliance {
		if c.ID == "3.7.4" && c.Status != report.ControlNotEvidenced {
			t.Errorf("3.7.4 with an overdue key: %s", c.Status)
		}
	}

	// Without a plan and without a rotation in the logs the last rotation is unknown.
	r = BuildAudit(&gather.Report{GatheredAt: now, Complete: true}, AuditInput{Policy: schedule.DefaultPolicy(), Started: now, Finished: now})
	if len(r.Findings) != 1 || !strings.Contains(r.Findings[0].Message, "last master-key rotation is unknown") {
		t.Errorf("findings without a plan: %s", findingLines(r.Findings))
	}
	for _, c := range r.Compliance {
		if c.ID == "3.7.4" && c.Status != report.ControlNotEvidenced {
			t.Errorf("3.7.4 without a known rotation: %s", c.Status)
		}
	}
}

func findingLines(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Severity + ": " + f.Message + "\n")
	}
	return b.String()
}
