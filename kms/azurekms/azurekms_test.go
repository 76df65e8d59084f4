package azurekms_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms/azurekmsfake"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
)

const clientID = "11111111-2222-3333-4444-555555555555"

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fake starts the HTTPS fake with key "tikv" and returns a config that signs
// in with a client secret, trusting the fake's certificate through ca-file.
func fake(t *testing.T) (*azurekmsfake.Server, azurekms.Config) {
	t.Helper()
	s, err := azurekmsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.CreateKey("tikv"); err != nil {
		t.Fatal(err)
	}
	return s, azurekms.Config{KeyID: "tikv", TenantID: azurekmsfake.Tenant, ClientID: clientID,
		KeyvaultURL: s.VaultURL, HSMName: "sim-hsm", HSMURL: s.HSMURL,
		ClientSecretFile: write(t, "secret", []byte(s.AddClientSecret(clientID)+"\n")),
		AuthorityHost:    s.AuthorityHost, CAFile: write(t, "ca.pem", s.CAPEM), DisableChallengeResourceVerification: true}
}

func statuses(cs []core.Check) string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Status)+" "+c.Name+": "+c.Reason)
	}
	return strings.Join(out, "\n")
}

func TestPreflightThroughTheSDK(t *testing.T) {
	ctx := context.Background()
	s, cfg := fake(t)
	b, err := azurekms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs := b.Preflight(ctx)
	if len(cs) != 2 || cs[0].Status != core.StatusPass || cs[1].Status != core.StatusPass {
		t.Fatalf("preflight:\n%s", statuses(cs))
	}
	calls := strings.Join(s.Calls(), "\n")
	for _, want := range []string{"GET vault /keys/tikv", "POST hsm /rng", "POST vault /keys/tikv/encrypt", "POST vault /keys/tikv/decrypt"} {
		if !strings.Contains(calls, want) {
			t.Errorf("no %q in calls:\n%s", want, calls)
		}
	}
}

func TestPreflightFailures(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		setup func(*azurekmsfake.Server, *azurekms.Config)
		idx   int
		want  string
	}{
		{"wrong secret", func(_ *azurekmsfake.Server, c *azurekms.Config) {
			c.ClientSecretFile = write(t, "bad", []byte("not-the-secret"))
		}, 0, "sign-in failed"},
		{"missing key", func(_ *azurekmsfake.Server, c *azurekms.Config) { c.KeyID = "nope" }, 0, "HTTP 404 KeyNotFound"},
		{"disabled key", func(s *azurekmsfake.Server, _ *azurekms.Config) { s.SetEnabled("tikv", false) }, 0, "disabled"},
		{"no HSM role", func(s *azurekmsfake.Server, _ *azurekms.Config) { s.Deny(azurekmsfake.OpRandom) }, 1, "HTTP 403 Forbidden"},
		{"no decrypt", func(s *azurekmsfake.Server, _ *azurekms.Config) { s.Deny(azurekmsfake.OpDecrypt) }, 1, "decrypt: HTTP 403"},
		{"untrusted TLS", func(_ *azurekmsfake.Server, c *azurekms.Config) { c.CAFile = "" }, 0, "certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, cfg := fake(t)
			c.setup(s, &cfg)
			b, err := azurekms.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cs := b.Preflight(ctx)
			if len(cs) <= c.idx || cs[c.idx].Status != core.StatusFail || !strings.Contains(cs[c.idx].Reason, c.want) {
				t.Fatalf("want check %d to fail with %q:\n%s", c.idx, c.want, statuses(cs))
			}
		})
	}
}

// TestCertificateRotationAndDelivery signs in with a certificate, delivers it
// to the hosts, and rotates by creating a new key.
func TestCertificateRotationAndDelivery(t *testing.T) {
	ctx := context.Background()
	s, cfg := fake(t)
	cert, err := s.AddClientCertificate(clientID)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientSecretFile, cfg.ClientCertificateFile = "", write(t, "client.pem", cert)
	cfg.ClientCertificatePath, cfg.Owner = "/etc/tikv/azure-kms.pfx", "tidb"
	cfg.CreateKeys = true
	b, err := azurekms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cs := b.Preflight(ctx); cs[len(cs)-1].Status != core.StatusPass {
		t.Fatalf("preflight with a certificate:\n%s", statuses(cs))
	}
	cur, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil || cur.ID != "tikv" || len(cur.Version) != 32 {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	next, err := b.Prepare(ctx, core.PurposeNew)
	if err != nil || next.ID != "tikv-g2" || next.Version == "" || next.Version == cur.Version {
		t.Fatalf("new = %+v, %v", next, err)
	}
	ev, err := b.Evidence(ctx, next)
	if err != nil || ev.KeyVersion != next.Version || ev.State != "Enabled" || ev.Created.IsZero() || ev.Attrs["credential"] != "client-certificate-path" {
		t.Fatalf("evidence = %+v, %v", ev, err)
	}
	mk := b.MasterKey(next)
	if a := mk.Azure; mk.Vendor != "azure" || mk.KeyID != "tikv-g2" || a == nil || a.ClientCertificatePath != "/etc/tikv/azure-kms.pfx" ||
		a.ClientCertificate != "" || a.ClientSecret != "" || a.TenantID != azurekmsfake.Tenant || a.HSMName != "sim-hsm" || a.KeyvaultURL != s.VaultURL {
		t.Fatalf("master key = %+v %+v", mk, mk.Azure)
	}
	h := kmstest.NewHost("tikv-1")
	if cs := b.HostPreflight(ctx, h); cs[0].Status != core.StatusPass || !strings.Contains(cs[0].Reason, "apply delivers") {
		t.Fatalf("host preflight before delivery: %+v", cs)
	}
	if err := b.Deliver(ctx, h, next); err != nil {
		t.Fatal(err)
	}
	got, mode, owner, _ := h.File("/etc/tikv/azure-kms.pfx")
	if string(got) != string(cert) || mode != 0o400 || owner != "tidb" {
		t.Fatalf("delivered %d bytes mode %#o owner %q", len(got), mode, owner)
	}

	cfg.CreateKeys = false
	b, _ = azurekms.New(cfg)
	if _, err := b.Prepare(ctx, core.PurposeNew); err == nil || !strings.Contains(err.Error(), "bare key name") {
		t.Fatalf("a rotation without next-key-id or create-keys: %v", err)
	}
}

func TestValidateAndRender(t *testing.T) {
	secret := write(t, "secret", []byte("azure-secret\n"))
	cfg := azurekms.Config{KeyID: "tikv", TenantID: "t", ClientID: "c", KeyvaultURL: "https://v.vault.azure.net/", HSMName: "h",
		HSMURL: "https://h.managedhsm.azure.net/", ClientSecretFile: secret}
	b, err := azurekms.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mk := b.MasterKey(core.KeyRef{ID: "tikv"})
	if mk.Vendor != "azure" || mk.Azure == nil || mk.Azure.ClientSecret != "azure-secret" || mk.Azure.HSMName != "h" {
		t.Fatalf("master key = %+v", mk.Azure)
	}
	// A certificate path outranks the secret: only it is rendered.
	cfg.ClientCertificatePath = "/etc/tikv/azure.pfx"
	b, _ = azurekms.New(cfg)
	mk = b.MasterKey(core.KeyRef{ID: "tikv"})
	if mk.Azure.ClientSecret != "" || mk.Azure.ClientCertificatePath != "/etc/tikv/azure.pfx" {
		t.Fatalf("master key with cert path = %+v", mk.Azure)
	}
	codes := map[string]bool{}
	for _, f := range b.Validate(core.EnvProduction, []string{"v7.1.5"}) {
		codes[f.Code] = true
	}
	for _, c := range []string{"azure-credential-priority", "azure-version", "kms-rotation-bug", "azure-key-version-rotation"} {
		if !codes[c] {
			t.Errorf("missing finding %s in %v", c, codes)
		}
	}
	none, _ := azurekms.New(azurekms.Config{KeyID: "k", TenantID: "t", ClientID: "c", KeyvaultURL: "http://v", HSMName: "h"})
	codes = map[string]bool{}
	var msgs []string
	for _, f := range none.Validate(core.EnvProduction, []string{"v8.5.0"}) {
		codes[f.Code] = true
		msgs = append(msgs, f.Message)
	}
	all := strings.Join(msgs, "\n")
	if !codes["azure-credential"] || !strings.Contains(all, "hsm-url is empty") || !strings.Contains(all, "keyvault-url = \"http://v\" is not an https URL") {
		t.Fatalf("findings:\n%s", all)
	}
	if _, err := azurekms.New(azurekms.Config{ClientSecretFile: "/nonexistent/secret"}); err == nil {
		t.Fatal("missing secret file accepted")
	}
	// Every field TiKV's [security.encryption.master-key.azure] has is declared.
	tikvKeys := map[string]bool{}
	for _, f := range azurekms.Fields() {
		tikvKeys[f.TiKVKey] = true
	}
	for _, k := range []string{"tenant-id", "client-id", "keyvault-url", "hsm-name", "hsm-url", "client-certificate",
		"client-certificate-path", "client-certificate-password", "client-secret"} {
		if !tikvKeys["azure."+k] {
			t.Errorf("Fields lacks azure.%s", k)
		}
	}
}
