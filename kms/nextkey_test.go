package kms

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
)

func TestNextKeyProblem(t *testing.T) {
	const gcpKey = "projects/p/locations/global/keyRings/r/cryptoKeys/master"
	cases := []struct {
		name     string
		spec     Spec
		incident bool
		want     string // substring of the problem; "" = none
	}{
		{"aws without next key", Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/tikv"}}, false, "next-key-id"},
		{"aws incident without next key", Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/tikv"}}, true, "create-keys is off"},
		{"aws next key", Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/tikv", NextKeyID: "alias/tikv-2"}}, true, ""},
		{"aws create-keys", Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/tikv", CreateKeys: true}}, true, ""},
		{"azure without next key", Spec{Backend: "azure", Azure: &azurekms.Config{KeyID: "tikv"}}, false, "[target.key.azure]"},
		{"azure create-keys", Spec{Backend: "azure", Azure: &azurekms.Config{KeyID: "tikv", CreateKeys: true}}, true, ""},
		{"gcp scheduled: a new version", Spec{Backend: "gcp", GCP: &gcpkms.Config{KeyID: gcpKey}}, false, ""},
		{"gcp incident without next key", Spec{Backend: "gcp", GCP: &gcpkms.Config{KeyID: gcpKey}}, true, "suspect"},
		{"gcp incident to the same key", Spec{Backend: "gcp", GCP: &gcpkms.Config{KeyID: gcpKey, NextKeyID: gcpKey}}, true, "suspect"},
		{"gcp incident to another key", Spec{Backend: "gcp", GCP: &gcpkms.Config{KeyID: gcpKey, NextKeyID: gcpKey + "-2"}}, true, ""},
		{"file", Spec{Backend: "file", File: &filekey.Config{}}, true, ""},
		{"vault", Spec{Backend: "vault", Vault: &vault.Config{}}, true, ""},
	}
	for _, tc := range cases {
		problem, fix := tc.spec.NextKeyProblem(tc.incident, "plan.toml")
		switch {
		case tc.want == "" && problem != "":
			t.Errorf("%s: problem %q, want none", tc.name, problem)
		case tc.want != "" && !strings.Contains(problem, tc.want):
			t.Errorf("%s: problem %q, want it to mention %q", tc.name, problem, tc.want)
		case tc.want != "" && (!strings.Contains(fix, "[target.key."+tc.spec.Backend+"] next-key-id") || !strings.Contains(fix, "plan.toml")):
			t.Errorf("%s: fix %q does not name the setting to change", tc.name, fix)
		}
	}
}
