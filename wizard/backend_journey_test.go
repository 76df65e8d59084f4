package wizard

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tikv-ear/tikv-ear/internal/sigstoretest"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/kmsdemo"
	"github.com/tikv-ear/tikv-ear/kms/localkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// journey is one backend's way through the wizard at 80x24: the services it
// needs, the driver's pre-fill, the report signer chosen on the backend
// screen, and where the signer's public key comes from (never pub.pem, which
// the tool wrote beside the report itself).
type journey struct {
	backend string
	simOpts sim.Options
	cfg     Config
	// signer is "" (file) or the kind chosen with s; signerKey its key.
	signer, signerKey string
	// publicKey returns the signing key's public key from its own source.
	publicKey func(t *testing.T, reportDir string) crypto.PublicKey
	// report checks backend facts in the signed report.
	report func(t *testing.T, r *report.Report)
}

// fileSignerKey is the public half of the file signer's key the tool generated
// in the report directory (report.DefaultSigningKeyFile), parsed here.
func fileSignerKey(t *testing.T, reportDir string) crypto.PublicKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(reportDir, report.DefaultSigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("the signing key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer).Public()
}

// masterKeyEvidence returns the report's master-key evidence.
func masterKeyEvidence(t *testing.T, r *report.Report) report.KeyEvidence {
	t.Helper()
	for _, k := range r.Keys {
		if k.Role == "master-key" {
			return k
		}
	}
	t.Fatalf("no master-key evidence in the report: %+v", r.Keys)
	return report.KeyEvidence{}
}

// walkJourney takes the wizard's model through connect, algorithm, the
// backend's form (pre-filled), the report signer, preflight, plan, rollout,
// verification, schedule and report, by keys alone at 80x24, and checks the
// signed report with sigstore-go against the signer's own public key.
func walkJourney(t *testing.T, j journey) {
	if j.simOpts.Stores == 0 {
		j.simOpts = sim.Options{Stores: 3, Zones: 3, Regions: 60, Speed: 100, KMSEndpoint: j.simOpts.KMSEndpoint,
			GCPKMSEndpoint: j.simOpts.GCPKMSEndpoint, AzureAuthorityHost: j.simOpts.AzureAuthorityHost, CloudCAFile: j.simOpts.CloudCAFile}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cl, err := sim.Start(ctx, j.simOpts)
	cancel()
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	dir := t.TempDir()
	planPath := filepath.Join(dir, "plan.toml")
	cfg := j.cfg
	cfg.Base, cfg.PlanPath, cfg.ReportDir = simBase(t, cl), planPath, filepath.Join(dir, "reports")
	cfg.Strategy, cfg.Policies = DemoStrategy(), steps.DefaultPolicies()
	d := New(cfg)
	t.Cleanup(d.Close)
	opts := ui.Options{Prefill: demoConnect(cl), PlanPath: planPath}
	if j.signer != "" {
		opts.SignerKeys = map[string]string{j.signer: j.signerKey}
	}
	h := newModelHarness(t, d, opts)
	h.update(tea.WindowSizeMsg{Width: 80, Height: 24})

	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	h.press("enter")
	h.idle(ui.ScreenBackend)
	for i := 0; !strings.Contains(h.view(), "› "+j.backend+" "); i++ {
		if i > 5 {
			t.Fatalf("no %s backend on the screen:\n%s", j.backend, h.view())
		}
		h.update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	if j.signer != "" {
		h.press("s")
		h.submitForm("Who signs the report", func(title string) {
			if title == "Report signer" {
				for range map[string]int{"vault": 1, "aws": 2}[j.signer] {
					h.update(tea.KeyPressMsg{Code: tea.KeyDown})
				}
			}
		})
		h.contains("Report signer: " + j.signer)
	}
	h.press("enter")
	h.submitForm("Key backend settings", nil)
	h.until("preflight", func() bool { return strings.Contains(h.view(), "Preflight") && h.m.Busy() == "" })
	if !strings.Contains(h.view(), " 0 fail") {
		t.Fatalf("preflight fails:\n%s", h.view())
	}
	h.press("enter")
	h.idle(ui.ScreenPlan)
	h.press("enter", "y")
	if h.m.Screen() == ui.ScreenPlan { // at 80x24 the first y shows the end of the plan; the second applies
		h.contains("press y again")
		h.press("y")
	}
	h.until("rollout end", func() bool { r, _ := h.m.Result(); return r != nil })
	if _, err := h.m.Result(); err != nil {
		t.Fatalf("rollout: %v\n%s", err, h.view())
	}
	h.press("enter")
	h.idle(ui.ScreenVerify)
	h.contains("3 of 3 stores verified")
	h.press("enter")
	h.idle(ui.ScreenSchedule)
	h.press("enter")
	h.idle(ui.ScreenReport)
	h.contains("Encryption at rest is on; 3 of 3 stores verified")
	files := h.m.Report()
	if files == nil {
		t.Fatal("no report files")
	}
	bundle, err := os.ReadFile(files.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigstoretest.Verify(j.publicKey(t, cfg.ReportDir), bundle, blob, report.PredicateType); err != nil {
		t.Fatalf("sigstore-go rejects the report: %v", err)
	}
	if _, err := report.Verify(files.JSON, report.VerifyOptions{KeyPath: filepath.Join(filepath.Dir(files.JSON), "pub.pem"), BundlePath: files.Bundle}); err != nil {
		t.Fatalf("report.Verify: %v", err)
	}
	rep, err := report.Load(files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	// A key-service signer names its key in the report; the file signer's key
	// is the pub.pem beside it.
	var signers []string
	for _, k := range rep.Keys {
		if k.Role == report.RoleSigningKey {
			signers = append(signers, k.Backend)
		}
	}
	if want := map[string][]string{"vault": {"vault-transit"}, "aws": {"aws-kms"}}[j.signer]; !slices.Equal(signers, want) {
		t.Errorf("signing-key evidence from %q, want %q", signers, want)
	}
	if j.report != nil {
		j.report(t, rep)
	}
}

// submitForm presses enter on every field of the open form titled form
// (values are pre-filled), calling before(title) first, until it closes.
func (h *modelHarness) submitForm(form string, before func(title string)) {
	h.t.Helper()
	open := func() bool { return strings.Contains(h.view(), form) }
	for open() {
		var title string
		h.until("a focused field in "+form, func() bool { title = focusedTitle(h.view()); return title != "" || !open() })
		if title == "" {
			return
		}
		if before != nil {
			before(title)
		}
		h.press("enter")
		h.until("the form to move on from "+title, func() bool {
			t := focusedTitle(h.view())
			return (t != "" && t != title) || !open() || h.m.Err() != nil
		})
		if h.m.Err() != nil {
			h.t.Fatalf("%s: %v\n%s", form, h.m.Err(), h.view())
		}
	}
}

// focusedTitle is the title of the form field with the focus (huh marks its
// lines with ┃), without the required mark; "" when no form is open.
func focusedTitle(view string) string {
	for _, l := range strings.Split(view, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "┃ "); ok {
			return strings.TrimSuffix(strings.TrimSpace(rest), " *")
		}
	}
	return ""
}

// TestWizardJourneyFileKey: the file backend (staging) with the file signer.
func TestWizardJourneyFileKey(t *testing.T) {
	walkJourney(t, journey{backend: "file", publicKey: fileSignerKey})
}

// TestWizardJourneyAWSWithTheAWSSigner: AWS KMS through local-kms, the report
// signed by an ECC_NIST_P256 key in the same local-kms and checked with the
// public key KMS returns for it.
func TestWizardJourneyAWSWithTheAWSSigner(t *testing.T) {
	ctx := context.Background()
	lk, err := localkms.Start(ctx, localKMSBin(t), localkms.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Stop)
	client := awskmsapi.New(awskmsapi.Options{Region: lk.Region, BaseEndpoint: aws.String(lk.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	created, err := client.CreateKey(ctx, &awskmsapi.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	walkJourney(t, journey{backend: "aws", simOpts: sim.Options{KMSEndpoint: lk.Endpoint},
		cfg:    Config{AWS: &awskms.Config{KeyID: lk.Aliases[0], Region: lk.Region, Endpoint: lk.Endpoint, CredentialsFile: lk.CredentialsFile}},
		signer: "aws", signerKey: *created.KeyMetadata.Arn,
		publicKey: func(t *testing.T, _ string) crypto.PublicKey {
			out, err := client.GetPublicKey(ctx, &awskmsapi.GetPublicKeyInput{KeyId: created.KeyMetadata.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			return pub
		},
		report: func(t *testing.T, r *report.Report) {
			if k := masterKeyEvidence(t, r); k.Backend != "aws" || !strings.HasPrefix(k.KeyARN, "arn:aws:kms:") {
				t.Errorf("AWS master-key evidence %+v", k)
			}
		}})
}

// TestWizardJourneyGCP: Cloud KMS through the real SDK against the offline
// service the demo runs; the report carries the key's version and rotation.
func TestWizardJourneyGCP(t *testing.T) {
	c, err := kmsdemo.StartGCP(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	walkJourney(t, journey{backend: "gcp", simOpts: sim.Options{GCPKMSEndpoint: c.GCPEndpoint}, cfg: Config{GCP: c.Spec.GCP},
		publicKey: fileSignerKey,
		report: func(t *testing.T, r *report.Report) {
			k := masterKeyEvidence(t, r)
			if k.Backend != "gcp" || k.KeyID != kmsdemo.GCPKeyID || k.LatestVersion != "1" || k.RotationPeriod != "90d" ||
				k.NextRotation.IsZero() || k.RotationStatus != report.RotationEnabled {
				t.Errorf("GCP master-key evidence: version %q, rotation %q %q next %v: %+v", k.LatestVersion, k.RotationStatus, k.RotationPeriod, k.NextRotation, k)
			}
		}})
}

// TestWizardJourneyAzure: Key Vault + Managed HSM through azkeys and
// azidentity against the offline service; every field TiKV's
// [security.encryption.master-key.azure] needs comes from the form, and the
// report carries the key's version (32 hex digits, not redacted).
func TestWizardJourneyAzure(t *testing.T) {
	c, err := kmsdemo.StartAzure(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	walkJourney(t, journey{backend: "azure", simOpts: sim.Options{AzureAuthorityHost: c.AzureAuthorityHost, CloudCAFile: c.CAFile},
		cfg: Config{Azure: c.Spec.Azure}, publicKey: fileSignerKey,
		report: func(t *testing.T, r *report.Report) {
			secret, err := os.ReadFile(c.Spec.Azure.ClientSecretFile)
			if err != nil || len(bytes.TrimSpace(secret)) < 16 {
				t.Fatalf("reading the client secret file: %v", err)
			}
			b, _ := json.Marshal(r)
			if bytes.Contains(b, bytes.TrimSpace(secret)) {
				t.Error("the Azure client secret is in the report")
			}
			k := masterKeyEvidence(t, r)
			if k.Backend != "azure" || k.KeyID != kmsdemo.AzureKey || len(k.LatestVersion) != 32 || strings.Contains(k.LatestVersion, "REDACTED") {
				t.Errorf("Azure master-key evidence: version %q: %+v", k.LatestVersion, k)
			}
		}})
}

// TestWizardJourneyVaultWithTheVaultSigner: the Vault backend on the fake,
// the report signed by a transit ecdsa-p256 key and checked with the public
// key the server returns for it.
func TestWizardJourneyVaultWithTheVaultSigner(t *testing.T) {
	vs := vaulttest.New(t)
	vaultJourney(t, vs.URL, vs.RootToken)
}

// vaultJourney walks the Vault backend with the Vault signer against the
// server at addr (the fake, or real OpenBao under the realparts tag).
func vaultJourney(t *testing.T, addr, token string) {
	for _, v := range []string{"VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "BAO_ADDR", "BAO_TOKEN", "BAO_NAMESPACE"} {
		t.Setenv(v, "")
	}
	if code, body := vaultCall(t, addr, token, http.MethodPost, "transit/keys/tikv-ear-report", map[string]any{"type": "ecdsa-p256"}); code/100 != 2 {
		t.Fatalf("creating the transit signing key: %d %s", code, body)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	walkJourney(t, journey{backend: "vault",
		cfg:    Config{Vault: &vault.Config{Address: addr, Cluster: "tikv-ear-demo", TokenFile: tokenFile, CreateKEK: true}},
		signer: "vault", signerKey: "tikv-ear-report",
		publicKey: func(t *testing.T, _ string) crypto.PublicKey {
			code, body := vaultCall(t, addr, token, http.MethodGet, "transit/keys/tikv-ear-report", nil)
			if code != http.StatusOK {
				t.Fatalf("reading the transit key: %d %s", code, body)
			}
			var r struct {
				Data struct {
					Keys map[string]struct {
						PublicKey string `json:"public_key"`
					} `json:"keys"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode([]byte(r.Data.Keys["1"].PublicKey))
			if blk == nil {
				t.Fatalf("no PEM public key for version 1: %s", body)
			}
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return pub
		},
		report: func(t *testing.T, r *report.Report) {
			k := masterKeyEvidence(t, r)
			if k.Backend != "vault" || k.TokenAccessor == "" || k.KEK == nil || k.KEK.LatestVersion == "" {
				t.Errorf("Vault master-key evidence %+v", k)
			}
			b, _ := json.Marshal(r)
			if bytes.Contains(b, []byte(token)) {
				t.Error("the Vault token is in the report")
			}
		}})
}

// vaultCall is a plain request to the Vault HTTP API, independent of the SDK the tool uses.
func vaultCall(t *testing.T, addr, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, fmt.Sprintf("%s/v1/%s", addr, path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}
