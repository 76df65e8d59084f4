package awskms

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
)

func newLocal(t *testing.T, l *kmstest.LocalKMS, mod func(*Config)) *Backend {
	t.Helper()
	cfg := Config{KeyID: l.KeyIDs[0], Region: l.Region, Endpoint: l.Endpoint, CredentialsFile: l.CredentialsFile}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func statusOf(checks []core.Check) (core.Status, string) {
	for _, c := range checks {
		if c.Status == core.StatusFail {
			return core.StatusFail, c.Reason
		}
	}
	return core.StatusPass, ""
}

func TestPreflightAgainstLocalKMS(t *testing.T) {
	l := kmstest.Start(t, kmstest.Options{})
	ctx := context.Background()

	t.Run("good key by alias", func(t *testing.T) {
		b := newLocal(t, l, func(c *Config) { c.KeyID = l.Aliases[0] })
		checks := b.Preflight(ctx)
		if st, why := statusOf(checks); st != core.StatusPass {
			t.Fatalf("preflight failed: %s", why)
		}
		if len(checks) != 3 || checks[1].Name != "aws GenerateDataKey/Decrypt" || checks[1].Status != core.StatusPass {
			t.Fatalf("checks = %+v", checks)
		}
		// local-kms seeds keys without rotation: warn, not fail.
		if checks[2].Status != core.StatusWarn {
			t.Fatalf("rotation check = %+v, want warn", checks[2])
		}
	})
	t.Run("missing key", func(t *testing.T) {
		b := newLocal(t, l, func(c *Config) { c.KeyID = "00000000-0000-4000-8000-000000000000" })
		st, why := statusOf(b.Preflight(ctx))
		if st != core.StatusFail || !strings.Contains(why, "not found in region "+l.Region) {
			t.Fatalf("preflight = %s %q, want not-found failure", st, why)
		}
	})
	t.Run("wrong region ARN", func(t *testing.T) {
		arn := strings.Replace(l.ARN(l.KeyIDs[0]), l.Region, "eu-central-1", 1)
		b := newLocal(t, l, func(c *Config) { c.KeyID = arn })
		st, why := statusOf(b.Preflight(ctx))
		if st != core.StatusFail || !strings.Contains(why, "is in region eu-central-1") {
			t.Fatalf("preflight = %s %q, want region failure", st, why)
		}
		if fs := b.Validate(core.EnvProduction, nil); len(fs) != 1 || fs[0].Code != "aws-region-mismatch" {
			t.Fatalf("validate = %+v", fs)
		}
	})
	t.Run("prepare, render, retire disables", func(t *testing.T) {
		b := newLocal(t, l, func(c *Config) { c.KeyID = l.KeyIDs[1] })
		ref, err := b.Prepare(ctx, core.PurposeCurrent)
		if err != nil {
			t.Fatal(err)
		}
		if ref.ID != l.ARN(l.KeyIDs[1]) || ref.Created.IsZero() {
			t.Fatalf("ref = %+v", ref)
		}
		want := tikv.MasterKey{Type: "kms", KeyID: l.ARN(l.KeyIDs[1]), Region: l.Region, Endpoint: l.Endpoint, Vendor: "aws"}
		if got := b.MasterKey(ref); got != want {
			t.Fatalf("master key = %+v, want %+v", got, want)
		}
		if err := b.EnableRotation(ctx, ref, 0); err != nil {
			t.Fatal(err)
		}
		if err := b.EnableRotation(ctx, ref, 30); err == nil {
			t.Fatal("30-day rotation period accepted")
		}
		if _, err := b.Retire(ctx, ref, core.RetireOptions{}); err == nil {
			t.Fatal("unconfirmed retire succeeded")
		}
		ev, err := b.Retire(ctx, ref, core.RetireOptions{Confirmed: true})
		if err != nil {
			t.Fatal(err)
		}
		if ev.State != "Disabled" || ev.RotationEnabled == nil || !*ev.RotationEnabled || len(ev.Actions) != 1 {
			t.Fatalf("evidence = %+v", ev)
		}
		// local-kms answers 501 for ListKeyRotations: evidence says so instead of failing.
		if ev.Attrs["rotations"] != "unavailable" {
			t.Fatalf("rotations attr = %q", ev.Attrs["rotations"])
		}
		st, why := statusOf(b.Preflight(ctx))
		if st != core.StatusFail || !strings.Contains(why, "Enabled is false") || !strings.Contains(why, "KeyState is Disabled") {
			t.Fatalf("preflight on disabled key = %s %q", st, why)
		}
		if err := b.RotateNow(ctx, ref); err == nil || !strings.Contains(err.Error(), "RotateKeyOnDemand") {
			t.Fatalf("on-demand rotation against local-kms: %v", err)
		}
	})
	t.Run("new generation creates a key", func(t *testing.T) {
		b := newLocal(t, l, nil)
		if _, err := b.Prepare(ctx, core.PurposeNew); err == nil || !strings.Contains(err.Error(), "next-key-id") {
			t.Fatalf("prepare new without next key: %v", err)
		}
		b = newLocal(t, l, func(c *Config) { c.CreateKeys = true })
		ref, err := b.Prepare(ctx, core.PurposeNew)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ref.ID, "arn:aws:kms:"+l.Region+":") || ref.ID == l.ARN(l.KeyIDs[0]) {
			t.Fatalf("new key ref = %+v", ref)
		}
	})
}

func TestStaticCredentialsAndVersionGates(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "tikv-creds")
	if err := os.WriteFile(creds, []byte("[other]\naws_access_key_id = X\n[tikv]\naws_access_key_id = AKIDTIKV\naws_secret_access_key = s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{KeyID: "arn:aws:kms:us-west-2:111122223333:key/k", Region: "us-west-2", TiKVCredentialsFile: creds, TiKVCredentialsProfile: "tikv"}
	b, err := NewWithClient(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mk := b.MasterKey(core.KeyRef{ID: cfg.KeyID})
	if mk.AWS == nil || mk.AWS.AccessKey != "AKIDTIKV" || mk.AWS.SecretAccessKey != "s3cr3t-value" {
		t.Fatalf("aws sub-table = %+v", mk.AWS)
	}
	fs := b.Validate(core.EnvProduction, []string{"v8.1.0", "v8.5.0"})
	codes := map[string]bool{}
	for _, f := range fs {
		codes[f.Code] = true
		if strings.Contains(f.Message, "s3cr3t") {
			t.Fatalf("finding leaks the secret: %+v", f)
		}
	}
	for _, c := range []string{"aws-subtable-version", "aws-static-credentials-exposed", "kms-rotation-bug"} {
		if !codes[c] {
			t.Fatalf("findings %+v lack %s", fs, c)
		}
	}
	if fs := b.Validate(core.EnvProduction, []string{"v8.5.0"}); len(fs) != 1 || fs[0].Code != "aws-static-credentials-exposed" {
		t.Fatalf("v8.5.0 findings = %+v", fs)
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("[default]\naws_access_key_id = AKID\naws_secret_access_key s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = NewWithClient(Config{TiKVCredentialsFile: bad}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("malformed credentials error = %v", err)
	}
	_, err = NewWithClient(Config{TiKVCredentialsFile: creds, TiKVCredentialsProfile: "absent"}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no profile [absent]") {
		t.Fatalf("missing profile error = %v", err)
	}
}
