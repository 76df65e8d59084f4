package wizard

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// wizardVault walks the wizard's driver with Config.Vault (what the demo
// passes when VAULT_ADDR/BAO_ADDR is set) against the Vault at addr: the
// Vault backend comes first, pre-filled, with create-kek; plan, apply, verify
// and a signed report that verifies.
func wizardVault(t *testing.T, addr, token string) {
	for _, v := range []string{"VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "BAO_ADDR", "BAO_TOKEN", "BAO_NAMESPACE"} {
		t.Setenv(v, "")
	}
	cl := startSim(t, 3)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	d := New(Config{Base: simBase(t, cl), PlanPath: filepath.Join(dir, "plan.toml"), ReportDir: filepath.Join(dir, "reports"),
		Strategy: DemoStrategy(), Policies: steps.DefaultPolicies(),
		Vault: &vault.Config{Address: addr, Cluster: "tikv-ear-demo", TokenFile: tokenFile, CreateKEK: true}})
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	in := demoConnect(cl)
	disc, err := d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	if backends[0].Name != "vault" || backends[0].Disabled {
		t.Fatalf("with a Vault address the Vault backend comes first: %+v", backends[0])
	}
	fields := map[string]string{}
	for _, f := range backends[0].Fields {
		fields[f.Key] = f.Value
	}
	if fields["address"] != addr || fields["cluster"] != "tikv-ear-demo" || fields["create-kek"] != "yes" || !strings.HasPrefix(fields["host-key-dir"], cl.Env().Dir) {
		t.Fatalf("Vault fields not pre-filled: %v", fields)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	fields["owner"] = u.Username
	choice := ui.Choices{Connect: in, Discovery: disc, Method: tikv.MethodAES256CTR, DataKeyRotation: "7d", Backend: "vault", BackendFields: fields}
	checks, err := d.Preflight(ctx, choice)
	if err != nil {
		t.Fatal(err)
	}
	if blocking := steps.Blocking(checks); len(blocking) > 0 {
		t.Fatalf("preflight: %+v", blocking)
	}
	prev, err := d.BuildPlan(ctx, choice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prev.Diffs[0].Unified, `+type = "file"`) || !strings.Contains(prev.Diffs[0].Unified, "master-g1.key") {
		t.Fatalf("diff does not name the Vault-delivered key file:\n%s", prev.Diffs[0].Unified)
	}
	res, err := d.Apply(ctx, prev, &recordingSink{}, steps.PolicyDecider{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	ev, err := d.Verify(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if !e.OK {
			t.Errorf("store %d evidence: %+v", e.StoreID, e)
		}
	}
	files, err := d.WriteReport(ctx, res, prev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := report.Verify(files.JSON, report.VerifyOptions{KeyPath: filepath.Join(filepath.Dir(files.JSON), "pub.pem"), BundlePath: files.Bundle}); err != nil {
		t.Fatalf("report.Verify: %v", err)
	}
	b, _ := os.ReadFile(files.JSON)
	if strings.Contains(string(b), token) {
		t.Fatal("the Vault token is in the report")
	}
}

// TestWizardDriverWithVault: the demo's Vault path on the fake.
func TestWizardDriverWithVault(t *testing.T) {
	vs := vaulttest.New(t)
	wizardVault(t, vs.URL, vs.RootToken)
}
