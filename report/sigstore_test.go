package report

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/tikv-ear/tikv-ear/internal/sigstoretest"
)

// sigstoreVerify is sigstoretest.Verify: sigstore-go's checks, independent of this package.
func sigstoreVerify(pub crypto.PublicKey, bundleJSON, artifact []byte, typeURI string) error {
	return sigstoretest.Verify(pub, bundleJSON, artifact, typeURI)
}

// sigstoreVerifyFiles is sigstoreVerify over the files WriteSigned wrote, with
// pub (not the pub.pem beside the report) as the trusted key.
func sigstoreVerifyFiles(t *testing.T, pub crypto.PublicKey, files Files) {
	t.Helper()
	bundleJSON, err := os.ReadFile(files.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(files.Report)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigstoreVerify(pub, bundleJSON, blob, PredicateType); err != nil {
		t.Fatalf("sigstore-go rejects the signed report: %v", err)
	}
}

// TestBundleVerifiesWithSigstoreGo writes signed reports and has sigstore-go
// verify each, for both key types; then each tampering must be rejected by
// sigstore-go and by tikv-ear's own Verify alike.
func TestBundleVerifiesWithSigstoreGo(t *testing.T) {
	for _, alg := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			signer := newKeygenSigner(t, alg)
			files, err := WriteSigned(context.Background(), t.TempDir(), sampleReport(), signer)
			if err != nil {
				t.Fatal(err)
			}
			read := func(p string) []byte {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			pubPEM, bundleJSON, blob := read(files.PublicKey), read(files.Bundle), read(files.Report)
			pub, err := ParsePublicKeyPEM(pubPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := sigstoreVerify(pub, bundleJSON, blob, PredicateType); err != nil {
				t.Fatalf("sigstore-go rejects a fresh bundle: %v", err)
			}
			checkBundleShape(t, bundleJSON)
			// report.intoto.jsonl carries the same payload and signature.
			var env Envelope
			if err := json.Unmarshal(read(files.Envelope), &env); err != nil {
				t.Fatal(err)
			}
			var bb Bundle
			_ = json.Unmarshal(bundleJSON, &bb)
			if env.Payload != bb.DSSEEnvelope.Payload || env.Signatures[0].Sig != bb.DSSEEnvelope.Signatures[0].Sig {
				t.Error("bundle and jsonl envelopes differ")
			}

			other := newKeygenSigner(t, alg)
			otherPEM, _ := PublicKeyPEM(other.Public())
			edit := func(f func(b map[string]any)) []byte {
				var b map[string]any
				if err := json.Unmarshal(bundleJSON, &b); err != nil {
					t.Fatal(err)
				}
				f(b)
				out, _ := json.Marshal(b)
				return out
			}
			envOf := func(b map[string]any) map[string]any { return b["dsseEnvelope"].(map[string]any) }
			cases := []struct {
				name       string
				pub        crypto.PublicKey
				pubPEM     []byte
				bundle     []byte
				blob       []byte
				typeURI    string
				wantErrSub string
			}{
				{"wrong --type", pub, pubPEM, bundleJSON, blob, "https://example.com/other/v1", "invalid predicate type"},
				{"report.json changed", pub, pubPEM, bundleJSON, append(bytes.Clone(blob), ' '), PredicateType, "artifact"},
				{"another key", other.Public(), otherPEM, bundleJSON, blob, PredicateType, "public key not found"},
				{"another key, empty hint", other.Public(), otherPEM, edit(func(b map[string]any) {
					b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = ""
				}), blob, PredicateType, "could not verify envelope"},
				{"payloadType changed", pub, pubPEM, edit(func(b map[string]any) { envOf(b)["payloadType"] = "application/json" }), blob, PredicateType, "could not verify envelope"},
				{"payload changed", pub, pubPEM, edit(func(b map[string]any) {
					p, _ := base64.StdEncoding.DecodeString(envOf(b)["payload"].(string))
					envOf(b)["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(p, []byte(`"kind":"rotate"`), []byte(`"kind":"audit"`), 1))
				}), blob, PredicateType, "could not verify envelope"},
				{"signature over the bare payload, not the PAE", pub, pubPEM, edit(func(b map[string]any) {
					p, _ := base64.StdEncoding.DecodeString(envOf(b)["payload"].(string))
					sig, _ := signer.Sign(context.Background(), p)
					envOf(b)["signatures"] = []any{map[string]any{"sig": base64.StdEncoding.EncodeToString(sig)}}
				}), blob, PredicateType, "could not verify envelope"},
			}
			for _, c := range cases {
				err := sigstoreVerify(c.pub, c.bundle, c.blob, c.typeURI)
				if err == nil || !strings.Contains(err.Error(), c.wantErrSub) {
					t.Errorf("%s: sigstore-go: got %v, want an error containing %q", c.name, err, c.wantErrSub)
				}
				// tikv-ear's own verifier must reject the same inputs.
				dir := t.TempDir()
				_ = os.WriteFile(filepath.Join(dir, "pub.pem"), c.pubPEM, 0o644)
				_ = os.WriteFile(filepath.Join(dir, "b.json"), c.bundle, 0o644)
				_ = os.WriteFile(filepath.Join(dir, "report.json"), c.blob, 0o644)
				if _, err := Verify(filepath.Join(dir, "report.json"), VerifyOptions{KeyPath: filepath.Join(dir, "pub.pem"), BundlePath: filepath.Join(dir, "b.json"), PredicateType: c.typeURI}); err == nil {
					t.Errorf("%s: Verify accepted what sigstore-go rejects", c.name)
				}
			}
		})
	}
}

// checkBundleShape checks the bundle has exactly the shape cosign v3 itself
// writes for attest-blob --key --tlog-upload=false (reference §4.3): no
// keyid, no tlogEntries or timestampVerificationData, no certificate, and a
// Statement about report.json.
func checkBundleShape(t *testing.T, bundle []byte) {
	t.Helper()
	var b struct {
		MediaType            string                     `json:"mediaType"`
		VerificationMaterial map[string]json.RawMessage `json:"verificationMaterial"`
		DSSEEnvelope         struct {
			Payload    string              `json:"payload"`
			Signatures []map[string]string `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(bundle, &top)
	for k := range top {
		if k != "mediaType" && k != "verificationMaterial" && k != "dsseEnvelope" {
			t.Errorf("bundle has an unexpected top-level field %q", k)
		}
	}
	if b.MediaType != BundleMediaType {
		t.Errorf("mediaType %q", b.MediaType)
	}
	if len(b.VerificationMaterial) != 1 || b.VerificationMaterial["publicKey"] == nil {
		t.Errorf("verificationMaterial has %d fields, want publicKey only", len(b.VerificationMaterial))
	}
	if len(b.DSSEEnvelope.Signatures) != 1 {
		t.Fatalf("%d signatures", len(b.DSSEEnvelope.Signatures))
	}
	if _, has := b.DSSEEnvelope.Signatures[0]["keyid"]; has {
		t.Error("bundle signature carries a keyid; cosign writes none")
	}
	payload, _ := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	var st struct {
		Subject []struct {
			Name string `json:"name"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(payload, &st); err != nil || len(st.Subject) != 1 || st.Subject[0].Name != "report.json" {
		t.Errorf("statement subject: %+v %v", st, err)
	}
}

// parsePKIX parses a DER PKIX public key.
func parsePKIX(der []byte) (crypto.PublicKey, error) { return x509.ParsePKIXPublicKey(der) }

// TestFormatsMatchUpstream checks this package's format constants and PAE
// against the upstream implementations sigstore-go v1.2.1 builds on:
// sigstore-go pkg/bundle (MediaTypeString, IntotoMediaType) and the DSSE
// reference implementation's PAE (secure-systems-lab/go-securesystemslib dsse).
func TestFormatsMatchUpstream(t *testing.T) {
	if mt, err := bundle.MediaTypeString("0.3"); err != nil || mt != BundleMediaType {
		t.Errorf("bundle v0.3 media type: upstream %q (%v), ours %q", mt, err, BundleMediaType)
	}
	if bundle.IntotoMediaType != PayloadType {
		t.Errorf("in-toto payloadType: upstream %q, ours %q", bundle.IntotoMediaType, PayloadType)
	}
	for _, payload := range [][]byte{nil, []byte("{}"), []byte("héllo wörld\n"), bytes.Repeat([]byte{0xff}, 300)} {
		if got, want := PAE(PayloadType, payload), dsse.PAE(PayloadType, payload); !bytes.Equal(got, want) {
			t.Errorf("PAE(%q): ours %q, upstream %q", payload, got, want)
		}
	}
}
