package cli

import (
	"bytes"
	"context"
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
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
)

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
	code, stdout, stderr := runMain(ctx, "audit", planPath, "--report-dir", reports, "--output", "json")
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
	code, stdout, stderr = runMain(ctx, "audit", "--sim", cl.Env().Dir, "--report-dir", reports, "--output", "json")
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
