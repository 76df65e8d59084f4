package report

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultSigner signs with a Vault transit key of type ecdsa-p256 or ed25519
// (reference kms-and-evidence.md §1.1): POST <mount>/sign/<key>/sha2-256 with
// base64 input and marshaling_algorithm=asn1, pinned to the key version whose
// public key it read from <mount>/keys/<key>. The private key never leaves Vault.
type VaultSigner struct {
	client  *vault.Client
	mount   string
	name    string
	keyType string
	version int
	pub     crypto.PublicKey
	keyID   string
	info    KeyEvidence
}

// NewVaultSigner reads transit key name under mount (e.g. "transit") and
// returns a signer for its latest version.
func NewVaultSigner(ctx context.Context, client *vault.Client, mount, name string) (*VaultSigner, error) {
	mount = strings.Trim(mount, "/")
	where := fmt.Sprintf("vault key %s/keys/%s", mount, name)
	sec, err := client.Logical().ReadWithContext(ctx, mount+"/keys/"+name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", where, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("reading %s: not found; create it with: vault write -f %s/keys/%s type=ecdsa-p256", where, mount, name)
	}
	keyType, _ := sec.Data["type"].(string)
	if keyType != "ecdsa-p256" && keyType != "ed25519" {
		return nil, fmt.Errorf("%s has type %q; report signing needs type ecdsa-p256 (or ed25519)", where, keyType)
	}
	latest, err := intField(sec.Data["latest_version"])
	if err != nil || latest < 1 {
		return nil, fmt.Errorf("%s: latest_version missing or invalid", where)
	}
	keys, _ := sec.Data["keys"].(map[string]any)
	ver, _ := keys[strconv.Itoa(latest)].(map[string]any)
	pubText, _ := ver["public_key"].(string)
	if pubText == "" {
		return nil, fmt.Errorf("%s: keys.%d.public_key is missing", where, latest)
	}
	var pub crypto.PublicKey
	if keyType == "ecdsa-p256" {
		pub, err = ParsePublicKeyPEM([]byte(pubText))
	} else {
		var raw []byte
		raw, err = base64.StdEncoding.DecodeString(pubText)
		if err == nil && len(raw) != ed25519.PublicKeySize {
			err = fmt.Errorf("ed25519 public key has %d bytes, want %d", len(raw), ed25519.PublicKeySize)
		}
		pub = ed25519.PublicKey(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: keys.%d.public_key: %w", where, latest, err)
	}
	id, err := KeyIDOf(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	s := &VaultSigner{client: client, mount: mount, name: name, keyType: keyType, version: latest, pub: pub, keyID: id}
	s.info = vaultEvidence(mount, name, latest, sec.Data, keys)
	return s, nil
}

func vaultEvidence(mount, name string, latest int, data, keys map[string]any) KeyEvidence {
	ev := KeyEvidence{Role: RoleSigningKey, Backend: "vault-transit", KeyID: mount + "/keys/" + name, LatestVersion: strconv.Itoa(latest)}
	if v, err := intField(data["min_decryption_version"]); err == nil {
		ev.MinDecryptionVersion = strconv.Itoa(v)
	}
	ev.RotationStatus = RotationDisabled
	if p, err := intField(data["auto_rotate_period"]); err == nil && p > 0 {
		ev.RotationEnabled, ev.RotationStatus = true, RotationEnabled
		ev.RotationPeriod = (time.Duration(p) * time.Second).String()
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { a, _ := strconv.Atoi(names[i]); b, _ := strconv.Atoi(names[j]); return a < b })
	for _, k := range names {
		kv := KeyVersion{Version: k}
		if m, ok := keys[k].(map[string]any); ok {
			if ct, ok := m["creation_time"].(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, ct); err == nil {
					kv.CreatedAt = t.UTC()
				}
			}
		}
		ev.Versions = append(ev.Versions, kv)
	}
	return ev
}

func intField(v any) (int, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return int(n), err
	case float64:
		return int(x), nil
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case string:
		return strconv.Atoi(x)
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// Sign asks Vault to sign data with the pinned key version.
func (s *VaultSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	path := s.mount + "/sign/" + s.name
	body := map[string]any{"input": base64.StdEncoding.EncodeToString(data), "key_version": s.version}
	if s.keyType == "ecdsa-p256" {
		path += "/sha2-256"
		body["marshaling_algorithm"] = "asn1"
	}
	sec, err := s.client.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", path, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("vault %s: empty response", path)
	}
	sigText, _ := sec.Data["signature"].(string)
	want := fmt.Sprintf("vault:v%d:", s.version)
	if !strings.HasPrefix(sigText, want) {
		return nil, fmt.Errorf("vault %s: signature does not start with %q", path, want)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sigText, want))
	if err != nil {
		return nil, fmt.Errorf("vault %s: decoding signature: %w", path, err)
	}
	return sig, nil
}

// Public returns the public key of the pinned version.
func (s *VaultSigner) Public() crypto.PublicKey { return s.pub }

// KeyID returns "sha256:<hex>" of the PKIX public key.
func (s *VaultSigner) KeyID() string { return s.keyID }

// Evidence describes the transit key (versions, creation times, auto-rotation) for the report.
func (s *VaultSigner) Evidence() KeyEvidence { return s.info }
