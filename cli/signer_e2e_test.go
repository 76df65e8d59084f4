package cli

// End-to-end tests of the report signer choice (issue 14): [report] signer =
// "vault" signs with the Vault transit key, never with a local key, and a
// signer that cannot be used refuses the run before any host changes.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	vault "github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/steps"
)

// seSavePlan rewrites the plan at path after edit.
func seSavePlan(t *testing.T, path string, edit func(*steps.Plan)) {
	t.Helper()
	p := keLoadPlan(t, path)
	edit(p)
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// seTransitPub creates transit key name (ecdsa-p256) and returns its public key as Vault reports it.
func seTransitPub(t *testing.T, addr, token, name string) []byte {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = addr
	c, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	ctx := context.Background()
	if _, err := c.Logical().WriteWithContext(ctx, "transit/keys/"+name, map[string]any{"type": "ecdsa-p256"}); err != nil {
		t.Fatalf("creating transit key %s: %v", name, err)
	}
	sec, err := c.Logical().ReadWithContext(ctx, "transit/keys/"+name)
	if err != nil || sec == nil {
		t.Fatalf("reading transit key %s: %v", name, err)
	}
	v1, _ := sec.Data["keys"].(map[string]any)["1"].(map[string]any)
	pub, _ := v1["public_key"].(string)
	if pub == "" {
		t.Fatalf("transit key %s has no public_key: %v", name, sec.Data)
	}
	return []byte(pub)
}

// TestSignerVaultSignsTheReport: with signer = "vault" the report of apply and
// rotate is signed by the transit key (pub.pem is that key), no local signing
// key is generated, and 'report verify' accepts it.
func TestSignerVaultSignsTheReport(t *testing.T) {
	vs := vaulttest.New(t)
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	cfg := keVaultConfig(t, cl, dir, vs.URL, vs.RootToken)
	transitPub, err := report.ParsePublicKeyPEM(seTransitPub(t, vs.URL, vs.RootToken, "tikv-ear-report"))
	if err != nil {
		t.Fatal(err)
	}
	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	// Address and token file come from [key.vault].
	seSavePlan(t, plan, func(p *steps.Plan) {
		p.Report.Signer = report.SignerVault
		p.Report.Vault = &report.VaultSignerConfig{Key: "tikv-ear-report"}
	})

	for _, args := range [][]string{{"apply", plan, "--yes"}, {"rotate", plan, "--yes"}} {
		r := keMust(t, args...)
		rep := keReportVerified(t, r)
		pubPEM := keReadFile(t, filepath.Join(filepath.Dir(rep), report.FilePublicKey))
		pub, err := report.ParsePublicKeyPEM(pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := report.KeyIDOf(transitPub)
		if got, _ := report.KeyIDOf(pub); got != want {
			t.Fatalf("%s: report signed by %s, want the transit key %s", args[0], got, want)
		}
		if bytes.Contains(keReadFile(t, rep), []byte(vs.RootToken)) {
			t.Fatalf("%s: the Vault token reached report.json", args[0])
		}
		seEvidence(t, args[0], rep)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports", report.DefaultSigningKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a local signing key was generated although signer = \"vault\": %v", err)
	}
}

// TestSignerRefusedBeforeAnyChange: a signer the run cannot use refuses it
// before any host changes, naming why; an incomplete [report] is bad input.
func TestSignerRefusedBeforeAnyChange(t *testing.T) {
	vs := vaulttest.New(t)
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	cfg := keVaultConfig(t, cl, dir, vs.URL, vs.RootToken)
	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	before := keConfigs(t, cl)

	// The transit key does not exist.
	seSavePlan(t, plan, func(p *steps.Plan) {
		p.Report.Signer = report.SignerVault
		p.Report.Vault = &report.VaultSignerConfig{Key: "no-such-key"}
	})
	r := keRun(t, "apply", plan, "--yes")
	keRefused(t, r, ExitFailure, `[report] signer = "vault"`, "transit/keys/no-such-key", "nothing changed")
	keUnchanged(t, cl, before)
	if got := keDirFiles(t, filepath.Join(dir, "reports")); len(got) != 0 {
		t.Errorf("a refused run wrote into the report directory: %v", got)
	}

	// signer = "aws" without [report.aws]: the plan is refused as bad input.
	seSavePlan(t, plan, func(p *steps.Plan) {
		p.Report.Signer, p.Report.Vault = report.SignerAWS, nil
	})
	r = keRun(t, "apply", plan, "--yes")
	// (The exit code of a plan error is the safety work's to settle; any refusal will do here.)
	keRefused(t, r, max(r.code, ExitFailure), "report.aws.key-id", `signer = "aws" names no KMS key`)
	keUnchanged(t, cl, before)
}

// seEvidence checks a report's real previous-master-key state and backend
// evidence: after apply and after rotate's second pass no store names a
// previous master key, PCI 3.7.5 is not "partial" for the rotation, and the
// Vault evidence (token accessor, KEK, min_decryption_version, signing key) is there.
func seEvidence(t *testing.T, kind, path string) {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal(keReadFile(t, path), &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Stores {
		if s.After.HasPreviousMasterKey() {
			t.Errorf("%s: store %d lists previous master key %+v after the run", kind, s.ID, s.After.PreviousMasterKey)
		}
	}
	if md := keReadFile(t, filepath.Join(filepath.Dir(path), report.FileMarkdown)); bytes.Contains(md, []byte("previous master key still configured")) {
		t.Errorf("%s: report.md says a previous master key is still configured", kind)
	}
	if kind == "rotate" {
		for _, c := range r.Compliance {
			if c.Framework == report.FrameworkPCI && c.ID == "3.7.5" && c.Status != report.ControlSupported {
				t.Errorf("rotate: PCI 3.7.5 is %q (%s)", c.Status, c.Note)
			}
		}
	}
	var master, signing *report.KeyEvidence
	for i, k := range r.Keys {
		switch k.Role {
		case "master-key":
			master = &r.Keys[i]
		case report.RoleSigningKey:
			signing = &r.Keys[i]
		}
	}
	if master == nil || master.TokenAccessor == "" || master.KEK == nil || master.KEK.Key != "transit/keys/tikv-c1-kek" ||
		master.KEK.LatestVersion == "" || master.MinDecryptionVersion == "" || master.RotationStatus == "" {
		t.Errorf("%s: master-key evidence %+v (kek %+v)", kind, master, master.KEK)
	}
	if signing == nil || signing.Backend != "vault-transit" || signing.KeyID != "transit/keys/tikv-ear-report" || signing.LatestVersion != "1" {
		t.Errorf("%s: signing-key evidence %+v", kind, signing)
	}
}
