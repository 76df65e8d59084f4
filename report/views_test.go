package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

var goldenUpdate = flag.Bool("golden-update", false, "rewrite testdata/*.golden from the current output")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *goldenUpdate {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run go test -run %s -golden-update to create it): %v", path, t.Name(), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the output (run with -golden-update after checking):\n%s", path, got)
	}
}

func TestMarkdownGolden(t *testing.T) {
	md := RenderMarkdown(sampleReport())
	golden(t, "report.md.golden", md)
	for _, want := range []string{"| 3.7.4 |", "UNCONFIRMED", "| store 1 | evict | ok |", "OVERDUE", "within policy", "(by policy)"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestHTMLSelfContained(t *testing.T) {
	r := sampleReport()
	r.Findings = append(r.Findings, Finding{Severity: SeverityLow, Message: `<script>alert("x")</script>`})
	h := string(RenderHTML(r))
	for _, bad := range []string{"<script", "<link", " src=", "@import", "url(", "<img", "<iframe", "<object"} {
		if strings.Contains(h, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	// Links stay inside the page, and every one has its target.
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(h, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("html links outside the page: %s", m[0])
		} else if !strings.Contains(h, `id="`+m[1][1:]+`"`) {
			t.Errorf("html link %s has no target", m[0])
		}
	}
	for _, want := range []string{"<style>", "<svg", "<rect", "store 2", "&lt;script&gt;", "164.312(a)(2)(iv)", "CC6.7", "3.6.1.2"} {
		if !strings.Contains(h, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if !bytes.Equal(RenderHTML(r), []byte(h)) {
		t.Fatal("RenderHTML is not deterministic")
	}
}

func TestComplianceStatuses(t *testing.T) {
	byID := func(cs []Control) map[string]Control {
		m := map[string]Control{}
		for _, c := range cs {
			m[c.ID] = c
		}
		return m
	}
	good := byID(MapCompliance(sampleReport()))
	for _, id := range []string{"3.5.1", "3.5.1", "3.6.1", "3.6.1.2", "3.7.1", "3.7.2", "3.7.3", "3.7.4", "3.7.5", "3.7.7", "§5.3.6 cryptoperiods", "164.312(a)(2)(iv)", "CC6.1", "CC6.7"} {
		if _, ok := good[id]; !ok {
			t.Errorf("control %s missing", id)
		}
	}
	if good["3.5.1"].Status != ControlSupported || good["3.7.4"].Status != ControlSupported || good["3.6.1.2"].Status != ControlSupported {
		t.Errorf("fully evidenced report: %+v", good)
	}
	bad := sampleReport()
	bad.Stores[1].After.Method = tikv.MethodPlaintext
	bad.Stores[0].Verification.KeyFile.FSType = "ext4"
	bad.Schedule.NextDue = bad.StartedAt.Add(-1)
	bad.Schedule.MasterKeyPeriodDays = 1000
	m := byID(MapCompliance(bad))
	if m["3.5.1"].Status != ControlNotEvidenced || m["164.312(a)(2)(iv)"].Status != ControlNotEvidenced ||
		m["3.7.4"].Status != ControlNotEvidenced || m["3.6.1.2"].Status != ControlPartial || m["§5.3.6 cryptoperiods"].Status != ControlPartial {
		t.Errorf("weak report: %+v", m)
	}
}

// TestCanarySecretsNeverWritten feeds secrets into every input a report is
// built from and checks that none reaches any written file (nor the signed payload).
func TestCanarySecretsNeverWritten(t *testing.T) {
	hexKey := "c0ffee" + strings.Repeat("5eca1d", 9) + "0a0b" // 64 hex digits: a TiKV file master key
	canaries := map[string]string{
		"aws-secret":   "CanaryAwsSecret0001xyz",
		"aws-key-id":   "AKIACANARY0000000001",
		"azure-secret": "CanaryAzureSecret0002",
		"azure-cert":   "CanaryAzureCert0003",
		"azure-pass":   "CanaryAzurePass0004",
		"hex-key":      hexKey,
		"url-pass":     "CanaryUrlPass0005",
		"vault-token":  "hvs.CanaryVaultToken0006abcdef",
		"b64-key":      base64.StdEncoding.EncodeToString([]byte("canary-raw-key-bytes-32-long!!!!")),
		"free-secret":  "CanaryFreeText0007",
	}
	cfg := tikv.MasterKey{Type: "kms", KeyID: "alias/tikv", Region: "us-west-2", Vendor: "aws",
		Endpoint: "https://admin:" + canaries["url-pass"] + "@kms.local:4566",
		AWS:      &tikv.AWSKMS{AccessKey: canaries["aws-key-id"], SecretAccessKey: canaries["aws-secret"]},
		Azure:    &tikv.AzureKMS{ClientSecret: canaries["azure-secret"], ClientCertificate: canaries["azure-cert"], ClientCertificatePassword: canaries["azure-pass"]},
	}
	r := sampleReport()
	r.Stores[0].After.MasterKey = MasterKeyFromConfig(cfg, "3", Fingerprint([]byte(hexKey)))
	r.Cluster.PDEndpoints = append(r.Cluster.PDEndpoints, "https://pd:"+canaries["url-pass"]+"@10.0.0.1:2379")
	r.Stores[0].Verification.LogLines = append(r.Stores[0].Verification.LogLines,
		LogLine{Time: at(6), Level: "ERROR", Message: "failed to access master key, key " + hexKey + " secret-access-key = \"" + canaries["aws-secret"] + "\""})
	r.Faults = append(r.Faults, Fault{At: at(8), Kind: "kms-down", Message: "vault login with token " + canaries["vault-token"] + " failed; data key " + canaries["b64-key"],
		Resolution: "password=" + canaries["free-secret"]})
	r.Findings = append(r.Findings, Finding{Severity: SeverityInfo, Message: "client-secret: " + canaries["azure-secret"], Fix: "id " + canaries["aws-key-id"]})
	r.Timeline = append(r.Timeline, Event{At: at(26), Phase: "cleanup", Status: "ok", Detail: "shredded " + hexKey})

	files, err := WriteSigned(context.Background(), t.TempDir(), r, newKeygenSigner(t, ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	var blobs = map[string][]byte{}
	for _, p := range []string{files.Report, files.Envelope, files.Bundle, files.PublicKey, files.Markdown, files.HTML} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blobs[filepath.Base(p)] = data
	}
	var env Envelope
	_ = json.Unmarshal(blobs[FileEnvelope], &env)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	blobs["payload"] = payload
	for name, data := range blobs {
		for what, c := range canaries {
			if bytes.Contains(bytes.ToLower(data), bytes.ToLower([]byte(c))) {
				t.Errorf("%s contains the %s canary", name, what)
			}
		}
		if regexp.MustCompile(`(?i)canary`).Match(data) {
			t.Errorf("%s contains a canary fragment", name)
		}
	}
	if !bytes.Contains(blobs[FileReport], []byte(`"endpoint": "https://kms.local:4566"`)) {
		t.Error("endpoint lost its host while losing its user info")
	}
	if !bytes.Contains(blobs[FileReport], []byte(Redacted)) {
		t.Error("no redaction marker: the free-text canaries were not redacted but removed some other way")
	}
}
