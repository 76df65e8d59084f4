package steps

import (
	"context"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/report"
)

func TestPlanValidateReportSigner(t *testing.T) {
	for _, c := range []struct {
		name    string
		section ReportSection
		wantKey string
	}{
		{"file", ReportSection{Signer: "file"}, ""},
		{"empty means file", ReportSection{}, ""},
		{"vault with key", ReportSection{Signer: "vault", Vault: &report.VaultSignerConfig{Key: "r"}}, ""},
		{"aws with key", ReportSection{Signer: "aws", AWS: &report.AWSSignerConfig{KeyID: "alias/r"}}, ""},
		{"vault without key", ReportSection{Signer: "vault"}, "report.vault.key"},
		{"aws without key", ReportSection{Signer: "aws", AWS: &report.AWSSignerConfig{}}, "report.aws.key-id"},
		{"unknown", ReportSection{Signer: "gpg"}, "report.signer"},
		{"vault table under file", ReportSection{Signer: "file", Vault: &report.VaultSignerConfig{Key: "r"}}, "report.vault"},
	} {
		p := testPlan("aes256-ctr", "file", "8.5.2")
		p.Report = c.section
		err := p.Validate("plan.toml")
		switch {
		case c.wantKey == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantKey != "" && (err == nil || !strings.Contains(err.Error(), c.wantKey+":")):
			t.Errorf("%s: got %v, want an error on %s", c.name, err, c.wantKey)
		}
	}
}

// TestSignerConfigInheritsTheBackendConnection: a vault or aws signer reaches
// its service as [target.key] does, unless it says otherwise.
func TestSignerConfigInheritsTheBackendConnection(t *testing.T) {
	p := testPlan("aes256-ctr", "vault", "8.5.2")
	p.Target.Key.Vault = &vault.Config{Address: "https://vault:8200", TokenFile: "/etc/t", Namespace: "ns"}
	p.Report = ReportSection{Signer: "vault", Vault: &report.VaultSignerConfig{Key: "r", Namespace: "other"}}
	got := p.SignerConfig("/reports")
	if got.Kind != "vault" || got.Dir != "/reports" || got.Vault.Address != "https://vault:8200" || got.Vault.TokenFile != "/etc/t" || got.Vault.Namespace != "other" {
		t.Fatalf("vault: %+v %+v", got, got.Vault)
	}
	if p.Report.Vault.Address != "" {
		t.Fatal("SignerConfig changed the plan")
	}
	p = testPlan("aes256-ctr", "aws", "8.5.2")
	p.Target.Key = kms.Spec{Backend: "aws", AWS: &awskms.Config{Region: "eu-west-1", Endpoint: "http://kms", CredentialsFile: "/c"}}
	p.Report = ReportSection{Signer: "aws", AWS: &report.AWSSignerConfig{KeyID: "alias/r"}}
	if a := p.SignerConfig("").AWS; a.Region != "eu-west-1" || a.Endpoint != "http://kms" || a.CredentialsFile != "/c" || a.KeyID != "alias/r" {
		t.Fatalf("aws: %+v", a)
	}
}

func TestSignerCheckFailsNamingWhy(t *testing.T) {
	p := testPlan("aes256-ctr", "file", "8.5.2")
	p.Report = ReportSection{Signer: "vault", Vault: &report.VaultSignerConfig{Key: "r", Address: "http://127.0.0.1:1", TokenFile: "/nonexistent/token"}}
	c := SignerCheck(context.Background(), p)
	if c.Status != Fail || c.ID != "report-signer" || !strings.Contains(c.Message, `signer = "vault"`) || !strings.Contains(c.Message, "token-file") {
		t.Fatalf("%+v", c)
	}
	p.Report = ReportSection{Signer: "file"}
	if c := SignerCheck(context.Background(), p); c.Status != Pass {
		t.Fatalf("file signer with no key-file: %+v", c)
	}
	if _, ok := find(RunPreflight(Facts{Plan: p, Signer: &Check{ID: "report-signer", Status: Fail}}), "report-signer", 0); !ok {
		t.Fatal("RunPreflight drops the signer check")
	}
}
