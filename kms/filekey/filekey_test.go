package filekey

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
)

func newBackend(t *testing.T) *Backend {
	t.Helper()
	b, err := New(Config{KeyDir: filepath.Join(t.TempDir(), "keys")})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateRefusesProduction(t *testing.T) {
	b := newBackend(t)
	fs := b.Validate(core.EnvProduction, []string{"v8.5.0"})
	if len(fs) != 1 || fs[0].Severity != core.SeverityError || fs[0].Code != "file-key-production" || !strings.Contains(fs[0].Fix, "KMS") {
		t.Fatalf("findings = %+v, want one production refusal with a KMS hint", fs)
	}
	if fs := b.Validate(core.EnvStaging, []string{"v8.5.0"}); len(fs) != 0 {
		t.Fatalf("staging findings = %+v, want none", fs)
	}
}

func TestPrepareDeliverRetire(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	if c := b.Preflight(ctx); c[0].Status != core.StatusWarn {
		t.Fatalf("preflight before prepare = %+v, want warn about missing dir", c)
	}
	g1, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil || again.Fingerprint != g1.Fingerprint || again.Generation != 1 {
		t.Fatalf("second current = %+v, %v; want generation 1 again", again, err)
	}
	g2, err := b.Prepare(ctx, core.PurposeNew)
	if err != nil {
		t.Fatal(err)
	}
	if g2.Generation != 2 || g2.Fingerprint == g1.Fingerprint {
		t.Fatalf("new generation = %+v, want generation 2 with a different fingerprint", g2)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(g1.Fingerprint) {
		t.Fatalf("fingerprint %q is not sha256:<64 hex>", g1.Fingerprint)
	}
	local, err := os.ReadFile(g1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(local) != 65 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(local) {
		t.Fatalf("local key file is not 64 lowercase hex + LF (len %d)", len(local))
	}
	if fi, _ := os.Stat(g1.ID); fi.Mode().Perm() != 0o400 {
		t.Fatalf("local key mode %#o, want 0400", fi.Mode().Perm())
	}
	for _, c := range b.Preflight(ctx) {
		if c.Status != core.StatusPass {
			t.Fatalf("preflight after prepare: %+v", c)
		}
	}

	mk := b.MasterKey(g2)
	if mk != (tikv.MasterKey{Type: "file", Path: "/run/tikv-keys/master-g2.key"}) {
		t.Fatalf("master key = %+v", mk)
	}

	h := kmstest.NewHost("tikv-1")
	if err := b.Deliver(ctx, h, g1); err != nil {
		t.Fatal(err)
	}
	got, mode, owner, ok := h.File("/run/tikv-keys/master-g1.key")
	if !ok || !bytes.Equal(got, local) || mode != 0o400 || owner != "tidb" {
		t.Fatalf("delivered ok=%t mode=%#o owner=%q equal=%t", ok, mode, owner, bytes.Equal(got, local))
	}
	for _, c := range b.HostPreflight(ctx, h) {
		if c.Status != core.StatusPass {
			t.Fatalf("host preflight: %+v", c)
		}
	}
	h.FSType = "ext4"
	if c := b.HostPreflight(ctx, h); c[0].Status != core.StatusWarn || !strings.Contains(c[0].Reason, "not tmpfs") {
		t.Fatalf("host preflight on ext4 = %+v, want tmpfs warning", c)
	}

	// A replaced local key is refused.
	tampered := g1
	tampered.Fingerprint = "sha256:0000000000000000"
	if err := b.Deliver(ctx, h, tampered); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("deliver with wrong fingerprint: %v", err)
	}

	if _, err := b.Retire(ctx, g1, core.RetireOptions{}); err == nil {
		t.Fatal("retire without confirmation succeeded")
	}
	if _, err := os.Stat(g1.ID); err != nil {
		t.Fatalf("unconfirmed retire removed the key: %v", err)
	}
	ev, err := b.Retire(ctx, g1, core.RetireOptions{Confirmed: true, Hosts: []core.Host{h}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g1.ID); !os.IsNotExist(err) {
		t.Fatalf("key still present after retire: %v", err)
	}
	if removed, shredded := h.Removed("/run/tikv-keys/master-g1.key"); !removed || !shredded {
		t.Fatalf("host copy removed=%t shredded=%t", removed, shredded)
	}
	if ev.State != "destroyed" || len(ev.Actions) != 2 {
		t.Fatalf("evidence = %+v", ev)
	}
	// Current is now generation 2.
	cur, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil || cur.Generation != 2 {
		t.Fatalf("current after retire = %+v, %v", cur, err)
	}
}

func TestPreflightFlagsOpenDirAndBadKey(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	ref, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ref.ID, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ref.ID, []byte("abc\r\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	checks := b.Preflight(ctx)
	if checks[1].Status != core.StatusFail || !strings.Contains(checks[1].Reason, "mode") {
		t.Fatalf("preflight = %+v, want mode failure", checks)
	}
	if err := os.Chmod(ref.ID, 0o400); err != nil {
		t.Fatal(err)
	}
	checks = b.Preflight(ctx)
	if checks[1].Status != core.StatusFail || !strings.Contains(checks[1].Reason, "expected 65, actual 5") {
		t.Fatalf("preflight = %+v, want size failure", checks)
	}
	if err := os.Chmod(b.cfg.KeyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if c := b.Preflight(ctx); c[0].Status != core.StatusFail {
		t.Fatalf("open key dir passed: %+v", c)
	}
}
