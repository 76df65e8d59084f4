package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newFileSigner creates a key with Keygen in a fresh directory and loads it.
func newKeygenSigner(t testing.TB, alg Algorithm) *FileSigner {
	t.Helper()
	dir := t.TempDir()
	pubPath, err := Keygen(filepath.Join(dir, "signing.key"), alg)
	if err != nil {
		t.Fatal(err)
	}
	if pubPath != filepath.Join(dir, "pub.pem") {
		t.Fatalf("pub path %s", pubPath)
	}
	s, err := LoadFileSigner(filepath.Join(dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signAndVerify writes a signed report and verifies both the bundle and the envelope.
func signAndVerify(t *testing.T, s Signer, wantAlg string) Files {
	t.Helper()
	dir := t.TempDir()
	files, err := WriteSigned(context.Background(), dir, sampleReport(), s)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []VerifyOptions{
		{KeyPath: files.PublicKey, BundlePath: files.Bundle},
		{KeyPath: files.PublicKey, EnvelopePath: files.Envelope},
	} {
		res, err := Verify(files.Report, opts)
		if err != nil {
			t.Fatalf("verify %+v: %v", opts, err)
		}
		if res.Algorithm != wantAlg || res.PredicateType != PredicateType || res.Kind != KindRotate || res.ClusterID != "7293847561234567890" {
			t.Fatalf("result %+v", res)
		}
		if len(res.Checks) < 6 {
			t.Fatalf("too few checks listed: %q", res.Checks)
		}
	}
	// A different key must not verify.
	other := newKeygenSigner(t, ECDSAP256)
	otherPub, _ := PublicKeyPEM(other.Public())
	wrong := filepath.Join(t.TempDir(), "wrong.pem")
	if err := os.WriteFile(wrong, otherPub, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: wrong, EnvelopePath: files.Envelope}); err == nil || !strings.Contains(err.Error(), "none of the 1 signature(s) verifies") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: wrong, BundlePath: files.Bundle}); err == nil || !strings.Contains(err.Error(), "publicKey.hint") {
		t.Fatalf("wrong key vs bundle hint: %v", err)
	}
	// sigstore-go, an independent verifier, accepts the bundle with the signer's key.
	sigstoreVerifyFiles(t, s.Public(), files)
	return files
}

func TestSignVerifyECDSAFileKey(t *testing.T) {
	s := newKeygenSigner(t, ECDSAP256)
	files := signAndVerify(t, s, "ecdsa-p256")
	env, _ := os.ReadFile(files.Envelope)
	if bytes.Count(env, []byte("\n")) != 1 || !bytes.HasSuffix(env, []byte("\n")) {
		t.Fatalf("report.intoto.jsonl is not one line: %q", env)
	}
}

func TestSignVerifyEd25519FileKey(t *testing.T) {
	signAndVerify(t, newKeygenSigner(t, Ed25519), "ed25519")
}

func TestKeygenAndLoadChecks(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	if _, err := Keygen(key, ECDSAP256); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v err %v", st.Mode(), err)
	}
	if _, err := Keygen(key, ECDSAP256); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("keygen overwrote: %v", err)
	}
	if _, err := Keygen(filepath.Join(t.TempDir(), "x"), "rsa-1024"); err == nil || !strings.Contains(err.Error(), `"rsa-1024" is not supported`) {
		t.Fatalf("bad alg: %v", err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFileSigner(key); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key loaded: %v", err)
	}
}

func TestVerifyAcceptsURLSafeAndUnknownFields(t *testing.T) {
	s := newKeygenSigner(t, ECDSAP256)
	files, err := WriteSigned(context.Background(), t.TempDir(), smallReport(), s)
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	raw, _ := os.ReadFile(files.Envelope)
	_ = json.Unmarshal(raw, &env)
	p, _ := base64.StdEncoding.DecodeString(env.Payload)
	sg, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	alt := map[string]any{
		"payload": base64.RawURLEncoding.EncodeToString(p), "payloadType": env.PayloadType, "extra": true,
		"signatures": []any{map[string]any{"keyid": "lies", "sig": "!!!"}, map[string]any{"keyid": "lies", "sig": base64.URLEncoding.EncodeToString(sg), "x": 1}},
	}
	out, _ := json.Marshal(alt)
	path := filepath.Join(t.TempDir(), "alt.json")
	_ = os.WriteFile(path, out, 0o644)
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, EnvelopePath: path}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRejectsWrongTypes(t *testing.T) {
	s := newKeygenSigner(t, ECDSAP256)
	ctx := context.Background()
	files, err := WriteSigned(ctx, t.TempDir(), smallReport(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, BundlePath: files.Bundle, PredicateType: "https://example.com/other"}); err == nil || !strings.Contains(err.Error(), "invalid predicate type") {
		t.Fatalf("predicate type: %v", err)
	}
	// A correctly signed envelope with the wrong payloadType, or a wrong _type, fails.
	body, _ := os.ReadFile(files.Report)
	for name, mk := range map[string]func() (string, []byte){
		"payloadType": func() (string, []byte) {
			st := newStatement(smallReportNormalized(t), body)
			p, _ := json.Marshal(st)
			return "application/json", p
		},
		"_type": func() (string, []byte) {
			st := newStatement(smallReportNormalized(t), body)
			st.Type = "https://in-toto.io/Statement/v0.1"
			p, _ := json.Marshal(st)
			return PayloadType, p
		},
	} {
		pt, payload := mk()
		sig, _ := s.Sign(ctx, PAE(pt, payload))
		env := Envelope{PayloadType: pt, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
		raw, _ := json.Marshal(env)
		path := filepath.Join(t.TempDir(), name+".jsonl")
		_ = os.WriteFile(path, raw, 0o644)
		_, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, EnvelopePath: path})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func smallReportNormalized(t *testing.T) *Report {
	t.Helper()
	r, err := normalized(smallReport())
	if err != nil {
		t.Fatal(err)
	}
	return r
}
