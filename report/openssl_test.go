package report

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenSSLVerifiesPAE checks the auditor's openssl path from the reference
// (§4.7): rebuild the PAE, then openssl dgst -sha256 -verify pub.pem -signature sig.der pae.bin.
func TestOpenSSLVerifiesPAE(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required for this interop test: %v", err)
	}
	files, err := WriteSigned(context.Background(), t.TempDir(), smallReport(), newKeygenSigner(t, ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(files.Envelope)
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	dir := t.TempDir()
	pae, sigPath := filepath.Join(dir, "pae.bin"), filepath.Join(dir, "sig.der")
	_ = os.WriteFile(pae, PAE(env.PayloadType, payload), 0o644)
	_ = os.WriteFile(sigPath, sig, 0o644)
	out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", files.PublicKey, "-signature", sigPath, pae).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	_ = os.WriteFile(pae, PAE(env.PayloadType, append(payload, ' ')), 0o644)
	if err := exec.Command(openssl, "dgst", "-sha256", "-verify", files.PublicKey, "-signature", sigPath, pae).Run(); err == nil {
		t.Fatal("openssl verified a changed PAE")
	}
}
