package report

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cosignVerifyBlobAttestation re-implements, independently of Verify and of
// this package's types, what
//
//	cosign verify-blob-attestation --key pub.pem --bundle report.sigstore.json \
//	  --insecure-ignore-tlog=true --type <URI> report.json
//
// checks for a key-based bundle (reference kms-and-evidence.md §4.3, whose
// behaviours were tested there with cosign v3.1.3): the bundle is a Sigstore
// bundle v0.3 holding a DSSE envelope and a public-key hint (no certificate;
// with --insecure-ignore-tlog no transparency-log entry is needed); the hint,
// when not empty, is base64(SHA-256(PKIX DER)) of the key; the signature
// verifies over the DSSE PAE (not over the bare payload); the payloadType is
// in-toto's; the Statement's predicateType equals --type ("invalid predicate
// type" otherwise); and a subject's sha256 digest equals that of the blob
// ("provided artifact digests do not match digests in statement" otherwise).
// The error texts quoted are cosign's, for recognisability.
func cosignVerifyBlobAttestation(pubPEM, bundleJSON, blob []byte, typeURI string) error {
	block, _ := pem.Decode(pubPEM)
	if block == nil {
		return errors.New("no PEM public key")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return err
	}
	var b map[string]json.RawMessage
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	var mediaType string
	_ = json.Unmarshal(b["mediaType"], &mediaType)
	if mediaType != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		return fmt.Errorf("unsupported bundle mediaType %q", mediaType)
	}
	var vm map[string]json.RawMessage
	if err := json.Unmarshal(b["verificationMaterial"], &vm); err != nil {
		return fmt.Errorf("verificationMaterial: %w", err)
	}
	for k := range vm {
		if k != "publicKey" && k != "tlogEntries" {
			return fmt.Errorf("verificationMaterial.%s: a key-verified bundle carries only publicKey", k)
		}
	}
	var pk struct {
		Hint *string `json:"hint"`
	}
	if err := json.Unmarshal(vm["publicKey"], &pk); err != nil || pk.Hint == nil {
		return errors.New("verificationMaterial.publicKey.hint missing")
	}
	if *pk.Hint != "" {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		sum := sha256.Sum256(der)
		if *pk.Hint != base64.StdEncoding.EncodeToString(sum[:]) {
			return errors.New("publicKey.hint is not base64(SHA-256(PKIX DER)) of --key")
		}
	}
	var env struct {
		Payload     string `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(b["dsseEnvelope"], &env); err != nil || env.Payload == "" {
		return errors.New("bundle has no dsseEnvelope")
	}
	if env.PayloadType != "application/vnd.in-toto+json" {
		return fmt.Errorf("payloadType %q is not in-toto", env.PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	pae := []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(env.PayloadType), env.PayloadType, len(payload), payload))
	verified := false
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			d := sha256.Sum256(pae)
			verified = verified || ecdsa.VerifyASN1(k, d[:], sig)
		case ed25519.PublicKey:
			verified = verified || ed25519.Verify(k, pae, sig)
		}
	}
	if !verified {
		return errors.New("invalid signature when validating ASN.1 encoded signature")
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	if st.Type != "https://in-toto.io/Statement/v1" {
		return fmt.Errorf("statement _type %q", st.Type)
	}
	if st.PredicateType != typeURI {
		return errors.New("invalid predicate type")
	}
	sum := sha256.Sum256(blob)
	for _, s := range st.Subject {
		if s.Digest["sha256"] == hex.EncodeToString(sum[:]) {
			return nil
		}
	}
	return errors.New("provided artifact digests do not match digests in statement")
}

// TestBundleAsCosignVerifies writes signed reports and checks the bundle the
// way cosign verify-blob-attestation does (see cosignVerifyBlobAttestation),
// for both key types, and that each documented failure is caught.
func TestBundleAsCosignVerifies(t *testing.T) {
	for _, alg := range []Algorithm{ECDSAP256, Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			files, err := WriteSigned(context.Background(), t.TempDir(), sampleReport(), newKeygenSigner(t, alg))
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
			pub, bundle, blob := read(files.PublicKey), read(files.Bundle), read(files.Report)
			if err := cosignVerifyBlobAttestation(pub, bundle, blob, PredicateType); err != nil {
				t.Fatalf("cosign checks reject a fresh bundle: %v", err)
			}
			checkBundleShape(t, bundle)
			// report.intoto.jsonl carries the same payload and signature.
			var env Envelope
			if err := json.Unmarshal(read(files.Envelope), &env); err != nil {
				t.Fatal(err)
			}
			var bb Bundle
			_ = json.Unmarshal(bundle, &bb)
			if env.Payload != bb.DSSEEnvelope.Payload || env.Signatures[0].Sig != bb.DSSEEnvelope.Signatures[0].Sig {
				t.Error("bundle and jsonl envelopes differ")
			}

			// Each of cosign's documented failures, and that the checker is not vacuous.
			otherPub, _ := PublicKeyPEM(newKeygenSigner(t, alg).Public())
			edit := func(f func(b map[string]any)) []byte {
				var b map[string]any
				if err := json.Unmarshal(bundle, &b); err != nil {
					t.Fatal(err)
				}
				f(b)
				out, _ := json.Marshal(b)
				return out
			}
			envOf := func(b map[string]any) map[string]any { return b["dsseEnvelope"].(map[string]any) }
			cases := []struct {
				name                string
				pub, bundle, blob   []byte
				typeURI, wantErrSub string
			}{
				{"wrong --type", pub, bundle, blob, "https://example.com/other/v1", "invalid predicate type"},
				{"report.json changed", pub, bundle, append(bytes.Clone(blob), ' '), PredicateType, "artifact digests do not match"},
				{"another key", otherPub, bundle, blob, PredicateType, "hint"},
				{"another key, empty hint", otherPub, edit(func(b map[string]any) {
					b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = ""
				}), blob, PredicateType, "invalid signature"},
				{"mediaType v0.2", pub, edit(func(b map[string]any) { b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2" }), blob, PredicateType, "mediaType"},
				{"payloadType changed", pub, edit(func(b map[string]any) { envOf(b)["payloadType"] = "application/json" }), blob, PredicateType, "payloadType"},
				{"payload changed", pub, edit(func(b map[string]any) {
					p, _ := base64.StdEncoding.DecodeString(envOf(b)["payload"].(string))
					envOf(b)["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(p, []byte(`"kind":"rotate"`), []byte(`"kind":"audit"`), 1))
				}), blob, PredicateType, "invalid signature"},
			}
			for _, c := range cases {
				err := cosignVerifyBlobAttestation(c.pub, c.bundle, c.blob, c.typeURI)
				if err == nil || !strings.Contains(err.Error(), c.wantErrSub) {
					t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.wantErrSub)
				}
				// tikv-ear's own verifier must reject the same inputs.
				dir := t.TempDir()
				_ = os.WriteFile(filepath.Join(dir, "pub.pem"), c.pub, 0o644)
				_ = os.WriteFile(filepath.Join(dir, "b.json"), c.bundle, 0o644)
				_ = os.WriteFile(filepath.Join(dir, "report.json"), c.blob, 0o644)
				if _, err := Verify(filepath.Join(dir, "report.json"), VerifyOptions{KeyPath: filepath.Join(dir, "pub.pem"), BundlePath: filepath.Join(dir, "b.json"), PredicateType: c.typeURI}); err == nil {
					t.Errorf("%s: Verify accepted what cosign rejects", c.name)
				}
			}

			// A signature over the bare payload (not the PAE) must not pass.
			s := newKeygenSigner(t, alg)
			sPub, _ := PublicKeyPEM(s.Public())
			raw := edit(func(b map[string]any) {
				p, _ := base64.StdEncoding.DecodeString(envOf(b)["payload"].(string))
				sig, _ := s.Sign(context.Background(), p)
				envOf(b)["signatures"] = []any{map[string]any{"sig": base64.StdEncoding.EncodeToString(sig)}}
				b["verificationMaterial"].(map[string]any)["publicKey"].(map[string]any)["hint"] = ""
			})
			if err := cosignVerifyBlobAttestation(sPub, raw, blob, PredicateType); err == nil {
				t.Error("a signature over the bare payload passed the cosign checks")
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
