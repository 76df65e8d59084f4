package report

import (
	"strings"
	"testing"
	"time"
)

// TestAzureKeyVersionSurvivesRedaction: an Azure Key Vault key version (32
// hex digits, the last segment of its key identifier) is evidence the report
// must carry; only the version fields keep it, and a longer hex run there (a
// file master key is 64 hex digits) is still redacted, as is the same
// 32-digit run anywhere else.
func TestAzureKeyVersionSurvivesRedaction(t *testing.T) {
	const ver = "78deebed173b48e48f55abf87ed4cf71"
	const key64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	r := sampleReport()
	r.Keys = append(r.Keys,
		KeyEvidence{Role: "master-key", Backend: "azure", KeyID: "tikv-master", LatestVersion: ver,
			Versions: []KeyVersion{{Version: ver}}, Attributes: map[string]string{"leak": ver}},
		KeyEvidence{Role: "previous-master-key", Backend: "file", KeyID: "k", LatestVersion: key64, Versions: []KeyVersion{{Version: key64}}})
	data, err := Canonical(r)
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	if n := strings.Count(out, ver); n != 2 {
		t.Errorf("the Azure key version appears %d times, want 2 (latest_version and versions[0]):\n%s", n, out)
	}
	if strings.Contains(out, `"leak":"`+ver) || strings.Contains(out, key64) {
		t.Errorf("a hex run outside a version field, or a 64-digit one, was kept:\n%s", out)
	}
}

// TestGCPRotationFactsInTheViews: a GCP key's automatic rotation period and
// next rotation time are shown in the Markdown and HTML views.
func TestGCPRotationFactsInTheViews(t *testing.T) {
	r := sampleReport()
	next := time.Date(2027, 3, 4, 0, 0, 0, 0, time.UTC)
	r.Keys = append(r.Keys, KeyEvidence{Role: "master-key", Backend: "gcp", KeyID: "projects/p/locations/global/keyRings/r/cryptoKeys/k",
		LatestVersion: "2", RotationEnabled: true, RotationStatus: RotationEnabled, RotationPeriod: "90d", NextRotation: next})
	md := string(RenderMarkdown(r))
	for _, want := range []string{"enabled 90d", "next automatic rotation", "2027-03-04T00:00:00Z"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}
