package azurekms

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms/core"
)

type fakeClient struct{ alg string }

func (f *fakeClient) GetRandomBytes(_ context.Context, _ string, n int) ([]byte, error) {
	return make([]byte, n), nil
}
func (f *fakeClient) Encrypt(_ context.Context, _, _, alg string, pt []byte) ([]byte, error) {
	f.alg = alg
	return append([]byte{1}, pt...), nil
}
func (f *fakeClient) Decrypt(_ context.Context, _, _, _ string, ct []byte) ([]byte, error) {
	return ct[1:], nil
}

func base(t *testing.T) Config {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("azure-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{KeyID: "tikv", TenantID: "t", ClientID: "c", KeyvaultURL: "https://v.vault.azure.net/", HSMName: "h",
		HSMURL: "https://h.managedhsm.azure.net/", ClientSecretFile: secret}
}

func TestAzurePriorityAndRender(t *testing.T) {
	cfg := base(t)
	b, err := New(cfg, &fakeClient{})
	if err != nil {
		t.Fatal(err)
	}
	mk := b.MasterKey(core.KeyRef{ID: "tikv"})
	if mk.Vendor != "azure" || mk.Azure == nil || mk.Azure.ClientSecret != "azure-secret" || mk.Azure.HSMName != "h" {
		t.Fatalf("master key = %+v", mk.Azure)
	}
	// A certificate path outranks the secret: only it is rendered.
	cfg.ClientCertificatePath = "/etc/tikv/azure.pfx"
	b, _ = New(cfg, nil)
	mk = b.MasterKey(core.KeyRef{ID: "tikv"})
	if mk.Azure.ClientSecret != "" || mk.Azure.ClientCertificatePath != "/etc/tikv/azure.pfx" {
		t.Fatalf("master key with cert path = %+v", mk.Azure)
	}
	codes := map[string]bool{}
	for _, f := range b.Validate(core.EnvProduction, []string{"v7.1.5"}) {
		codes[f.Code] = true
	}
	for _, c := range []string{"azure-credential-priority", "azure-version", "kms-rotation-bug"} {
		if !codes[c] {
			t.Errorf("missing finding %s in %v", c, codes)
		}
	}
	none, _ := New(Config{KeyID: "k", TenantID: "t", ClientID: "c", KeyvaultURL: "u", HSMName: "h", HSMURL: "u"}, nil)
	if fs := none.Validate(core.EnvProduction, []string{"v8.5.0"}); len(fs) != 1 || fs[0].Code != "azure-credential" {
		t.Fatalf("no-credential findings = %+v", fs)
	}
}

func TestAzurePreflight(t *testing.T) {
	fc := &fakeClient{}
	b, err := New(base(t), fc)
	if err != nil {
		t.Fatal(err)
	}
	if c := b.Preflight(context.Background()); c[0].Status != core.StatusPass || fc.alg != "RSA-OAEP-256" {
		t.Fatalf("preflight = %+v alg %q", c, fc.alg)
	}
	if _, err := New(Config{ClientSecretFile: "/nonexistent/secret"}, nil); err == nil {
		t.Fatal("missing secret file accepted")
	}
}
