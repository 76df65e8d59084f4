//go:build realparts

package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
)

// baoDev is a real OpenBao dev server on loopback (internal/realparts) with
// the transit engine mounted.
type baoDev struct {
	URL   string
	Token string
}

// startBao starts OpenBao through internal/realparts (which fails the test
// naming the install step when the binary is missing) and mounts transit.
func startBao(t *testing.T) *baoDev {
	t.Helper()
	srv := realparts.MustStartBao(t)
	b := &baoDev{URL: srv.Addr, Token: srv.Token}
	// A dev server mounts no transit engine (sys/mounts/:path, type transit).
	if code, body, err := b.call(http.MethodPost, "sys/mounts/transit", map[string]any{"type": "transit"}); err != nil || code/100 != 2 {
		t.Fatalf("enabling transit: %d %s %v", code, body, err)
	}
	return b
}

// call is a plain HTTP request to the Vault API, independent of the SDK the signer uses.
func (b *baoDev) call(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.URL+"/v1/"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Vault-Token", b.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// transitPublicKey reads version's public key of transit key name
// (GET transit/keys/:name, keys.<version>.public_key, reference
// kms-and-evidence.md §1.1) straight from the server.
func (b *baoDev) transitPublicKey(t *testing.T, name string, version int) []byte {
	t.Helper()
	code, body, err := b.call(http.MethodGet, "transit/keys/"+name, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("reading transit/keys/%s: %d %s %v", name, code, body, err)
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
	pub := r.Data.Keys[fmt.Sprint(version)].PublicKey
	if pub == "" {
		t.Fatalf("transit/keys/%s has no public key for version %d: %s", name, version, body)
	}
	return []byte(pub)
}

// TestRealVaultSignerOpenBao: a report signed with signer = "vault" against a
// real OpenBao verifies through sigstore-go with the transit key's public key
// as the server returns it; after a key rotation the signer uses the new
// version, and the old version's key no longer verifies the new report.
func TestRealVaultSignerOpenBao(t *testing.T) {
	b := startBao(t)
	if code, body, err := b.call(http.MethodPost, "transit/keys/tikv-ear-report", map[string]any{"type": "ecdsa-p256"}); err != nil || code/100 != 2 {
		t.Fatalf("creating the transit key: %d %s %v", code, body, err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(b.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := SignerConfig{Kind: SignerVault, Dir: dir, Vault: &VaultSignerConfig{Key: "tikv-ear-report", Address: b.URL, TokenFile: tok}}
	sign := func() Files {
		s, gen, err := OpenSigner(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*VaultSigner); !ok || gen != "" {
			t.Fatalf("got a %T signer (generated %q)", s, gen)
		}
		files, err := WriteSigned(ctx, t.TempDir(), sampleReport(), s)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	files := sign()
	v1, err := ParsePublicKeyPEM(b.transitPublicKey(t, "tikv-ear-report", 1))
	if err != nil {
		t.Fatal(err)
	}
	sigstoreVerifyFiles(t, v1, files)
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, BundlePath: files.Bundle}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(files.Report)
	if strings.Contains(string(data), b.Token) {
		t.Fatal("the Vault token reached report.json")
	}

	if code, body, err := b.call(http.MethodPost, "transit/keys/tikv-ear-report/rotate", nil); err != nil || code/100 != 2 {
		t.Fatalf("rotating the transit key: %d %s %v", code, body, err)
	}
	files = sign()
	v2, err := ParsePublicKeyPEM(b.transitPublicKey(t, "tikv-ear-report", 2))
	if err != nil {
		t.Fatal(err)
	}
	sigstoreVerifyFiles(t, v2, files)
	bundleJSON, _ := os.ReadFile(files.Bundle)
	blob, _ := os.ReadFile(files.Report)
	if err := sigstoreVerify(v1, bundleJSON, blob, PredicateType); err == nil {
		t.Fatal("the report signed after the rotation verifies with version 1's key")
	}

	// A transit key that cannot sign (aes256-gcm96) is refused, naming why.
	if code, body, err := b.call(http.MethodPost, "transit/keys/not-a-signer", map[string]any{"type": "aes256-gcm96"}); err != nil || code/100 != 2 {
		t.Fatalf("creating the aes key: %d %s %v", code, body, err)
	}
	bad := cfg
	bad.Vault = &VaultSignerConfig{Key: "not-a-signer", Address: b.URL, TokenFile: tok}
	if _, _, err := OpenSigner(ctx, bad, nil); err == nil || !strings.Contains(err.Error(), `type "aes256-gcm96"`) {
		t.Fatalf("an aes transit key as signer: %v", err)
	}
}
