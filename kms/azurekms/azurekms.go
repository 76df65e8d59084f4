// Package azurekms is the Azure Key Vault master-key backend (TiKV type = "kms",
// vendor = "azure", first tag v7.2.0). TiKV takes 32 random bytes from a Managed
// HSM and wraps them with the Key Vault key using RSA-OAEP-256, so Azure needs
// both a Key Vault key and a Managed HSM (components/cloud/azure/src/kms.rs;
// reference tikv-encryption.md §1.2).
//
// Runbook and limits:
//   - Credentials, highest priority first as TiKV reads them: client-certificate
//     (base64 PKCS12, inline), client-certificate-path (file on the TiKV host),
//     client-secret. Only the winning one is rendered. Secrets come from files
//     named in the plan, never inline in the plan.
//   - Inline secrets (client-secret, client-certificate, its password) are
//     served by TiKV's GET /config and written to last_tikv.toml (reference §4.2);
//     prefer client-certificate-path.
//   - The pingcap docs example spells the credential keys with underscores; TiKV
//     reads kebab-case only, which is what MasterKey renders.
//   - The live preflight runs through the Client interface; this build ships no
//     Azure SDK and no emulator is installable here (reference
//     kms-and-evidence.md §3.3), so without a Client it warns.
//   - Retire is manual (disable the old key version in Key Vault).
package azurekms

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

// Config is the [key.azure] section of a plan.
type Config struct {
	KeyID       string `toml:"key-id"` // Key Vault key name
	TenantID    string `toml:"tenant-id"`
	ClientID    string `toml:"client-id"`
	KeyvaultURL string `toml:"keyvault-url"`
	HSMName     string `toml:"hsm-name"`
	HSMURL      string `toml:"hsm-url"`
	// ClientCertificateFile holds a PKCS12 certificate (raw or base64), rendered inline as client-certificate.
	ClientCertificateFile string `toml:"client-certificate-file,omitempty"`
	// ClientCertificatePath is the PKCS12 file on the TiKV hosts (client-certificate-path).
	ClientCertificatePath string `toml:"client-certificate-path,omitempty"`
	// ClientCertificatePasswordFile holds client-certificate-password.
	ClientCertificatePasswordFile string `toml:"client-certificate-password-file,omitempty"`
	// ClientSecretFile holds client-secret.
	ClientSecretFile string `toml:"client-secret-file,omitempty"`
	// NextKeyID is the key Prepare(new) moves to.
	NextKeyID string `toml:"next-key-id,omitempty"`
}

// Client is the slice of the Azure APIs TiKV uses, shaped like the SDK.
type Client interface {
	// GetRandomBytes asks the Managed HSM for n random bytes.
	GetRandomBytes(ctx context.Context, hsmURL string, n int) ([]byte, error)
	// Encrypt and Decrypt use the Key Vault key with algorithm alg ("RSA-OAEP-256").
	Encrypt(ctx context.Context, vaultURL, keyName, alg string, plaintext []byte) ([]byte, error)
	Decrypt(ctx context.Context, vaultURL, keyName, alg string, ciphertext []byte) ([]byte, error)
}

// WrapAlgorithm is what TiKV wraps the data key with (kms.rs EncryptionAlgorithm::RsaOaep256).
const WrapAlgorithm = "RSA-OAEP-256"

// Backend is the Azure backend.
type Backend struct {
	cfg    Config
	client Client
	creds  tikv.AzureKMS // secrets read from files
}

var _ core.Backend = (*Backend)(nil)

// New reads the secret files named in cfg and returns the backend; client may be nil.
func New(cfg Config, client Client) (*Backend, error) {
	b := &Backend{cfg: cfg, client: client}
	read := func(key, path string) (string, error) {
		if path == "" {
			return "", nil
		}
		v, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("azure key backend: reading %s %s: %w", key, path, err)
		}
		return strings.TrimSpace(string(v)), nil
	}
	var err error
	if b.creds.ClientSecret, err = read("client-secret-file", cfg.ClientSecretFile); err != nil {
		return nil, err
	}
	if b.creds.ClientCertificatePassword, err = read("client-certificate-password-file", cfg.ClientCertificatePasswordFile); err != nil {
		return nil, err
	}
	if cfg.ClientCertificateFile != "" {
		raw, err := os.ReadFile(cfg.ClientCertificateFile)
		if err != nil {
			return nil, fmt.Errorf("azure key backend: reading client-certificate-file %s: %w", cfg.ClientCertificateFile, err)
		}
		s := strings.TrimSpace(string(raw))
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			s = base64.StdEncoding.EncodeToString(raw) // a binary PKCS12 file
		}
		b.creds.ClientCertificate = s
	}
	return b, nil
}

// Name implements core.Backend.
func (b *Backend) Name() string { return core.BackendAzure }

// credential names the winning credential in TiKV's priority order.
func (b *Backend) credential() string {
	switch {
	case b.creds.ClientCertificate != "":
		return "client-certificate"
	case b.cfg.ClientCertificatePath != "":
		return "client-certificate-path"
	case b.creds.ClientSecret != "":
		return "client-secret"
	}
	return ""
}

// Validate implements core.Backend.
func (b *Backend) Validate(env core.Environment, tikvVersions []string) []core.Finding {
	vs, fs := core.VersionFindings(tikvVersions)
	for _, f := range []struct{ key, val string }{
		{"key-id", b.cfg.KeyID}, {"tenant-id", b.cfg.TenantID}, {"client-id", b.cfg.ClientID},
		{"keyvault-url", b.cfg.KeyvaultURL}, {"hsm-name", b.cfg.HSMName}, {"hsm-url", b.cfg.HSMURL},
	} {
		if f.val == "" {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "azure-field",
				Message: "[key.azure] " + f.key + " is empty", Fix: "set " + f.key + "; TiKV needs both a Key Vault key and a Managed HSM"})
		}
	}
	set := 0
	for _, v := range []string{b.creds.ClientCertificate, b.cfg.ClientCertificatePath, b.creds.ClientSecret} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "azure-credential",
			Message: "[key.azure] has no credential (TiKV: \"invalid configurations for Azure KMS\")",
			Fix:     "set client-certificate-path (preferred), client-certificate-file or client-secret-file",
			Source:  "components/cloud/azure/src/kms.rs"})
	case set > 1:
		fs = append(fs, core.Finding{Severity: core.SeverityWarn, Code: "azure-credential-priority",
			Message: "[key.azure] sets more than one credential; TiKV uses only " + b.credential() + " (priority: client-certificate, client-certificate-path, client-secret)",
			Fix:     "keep one credential"})
	}
	if c := b.credential(); c == "client-certificate" || c == "client-secret" || b.creds.ClientCertificatePassword != "" {
		fs = append(fs, core.Finding{Severity: core.SeverityWarn, Code: "azure-secret-exposed",
			Message: "inline Azure secrets in tikv.toml are served by TiKV's GET /config and persisted in <data-dir>/last_tikv.toml",
			Fix:     "prefer client-certificate-path; restrict the status port and the data directory",
			Source:  "reference tikv-encryption.md §4.2"})
	}
	if old := core.Below(vs, core.MinAzure); len(old) > 0 {
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "azure-version",
			Message: fmt.Sprintf("vendor = \"azure\" needs TiKV %s or later; cluster has %s", core.MinAzure, strings.Join(old, ", ")),
			Fix:     "upgrade TiKV or use another backend", Source: "tikv/tikv PR #14819 (first tag v7.2.0)"})
	}
	if f := core.KMSRotationFinding(vs); f != nil {
		fs = append(fs, *f)
	}
	return fs
}

// Preflight implements core.Backend: HSM random bytes, then wrap and unwrap.
func (b *Backend) Preflight(ctx context.Context) []core.Check {
	name := "azure key " + b.cfg.KeyID
	if b.client == nil {
		return []core.Check{{Name: name, Status: core.StatusWarn, Reason: "no live check: this build has no Azure client wiring",
			Fix: "check by hand with the TiKV identity: az keyvault key encrypt/decrypt --algorithm RSA-OAEP-256 and az keyvault key random --hsm-name " + b.cfg.HSMName}}
	}
	rnd, err := b.client.GetRandomBytes(ctx, b.cfg.HSMURL, 32)
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("managed HSM %s random bytes: %v", b.cfg.HSMURL, err), Fix: "grant the client the Managed HSM Crypto User role (random)"}}
	}
	defer core.Wipe(rnd)
	ct, err := b.client.Encrypt(ctx, b.cfg.KeyvaultURL, b.cfg.KeyID, WrapAlgorithm, rnd)
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("encrypt with %s in %s: %v", b.cfg.KeyID, b.cfg.KeyvaultURL, err), Fix: "grant encrypt/decrypt on the key"}}
	}
	pt, err := b.client.Decrypt(ctx, b.cfg.KeyvaultURL, b.cfg.KeyID, WrapAlgorithm, ct)
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("decrypt with %s in %s: %v", b.cfg.KeyID, b.cfg.KeyvaultURL, err), Fix: "grant encrypt/decrypt on the key"}}
	}
	defer core.Wipe(pt)
	if subtle.ConstantTimeCompare(pt, rnd) != 1 {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: "decrypt returned different bytes"}}
	}
	return []core.Check{{Name: name, Status: core.StatusPass, Reason: "HSM random bytes wrapped and unwrapped with " + WrapAlgorithm}}
}

// HostPreflight implements core.Backend: the certificate file when one is used.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	if b.credential() != "client-certificate-path" {
		return []core.Check{{Name: "azure credentials on " + h.Name(), Status: core.StatusPass, Reason: "credential is rendered into tikv.toml; no file needed"}}
	}
	p := b.cfg.ClientCertificatePath
	return []core.Check{core.CredentialFileCheck(ctx, h, "azure certificate "+p+" on "+h.Name(), p, "copy the PKCS12 certificate to the host")}
}

// Prepare implements core.Backend.
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	id := b.cfg.KeyID
	if purpose == core.PurposeNew {
		if b.cfg.NextKeyID == "" {
			return core.KeyRef{}, fmt.Errorf("azure key backend: a new master key needs [key.azure] next-key-id")
		}
		id = b.cfg.NextKeyID
	}
	if id == "" {
		return core.KeyRef{}, fmt.Errorf("azure key backend: key-id is empty")
	}
	return core.KeyRef{Backend: core.BackendAzure, ID: id, Attrs: map[string]string{"keyvault_url": b.cfg.KeyvaultURL, "hsm_url": b.cfg.HSMURL}}, nil
}

// MasterKey implements core.Backend: only the winning credential is rendered.
func (b *Backend) MasterKey(ref core.KeyRef) tikv.MasterKey {
	az := &tikv.AzureKMS{TenantID: b.cfg.TenantID, ClientID: b.cfg.ClientID, KeyvaultURL: b.cfg.KeyvaultURL, HSMName: b.cfg.HSMName, HSMURL: b.cfg.HSMURL}
	switch b.credential() {
	case "client-certificate":
		az.ClientCertificate, az.ClientCertificatePassword = b.creds.ClientCertificate, b.creds.ClientCertificatePassword
	case "client-certificate-path":
		az.ClientCertificatePath, az.ClientCertificatePassword = b.cfg.ClientCertificatePath, b.creds.ClientCertificatePassword
	case "client-secret":
		az.ClientSecret = b.creds.ClientSecret
	}
	return tikv.MasterKey{Type: tikv.MasterKeyKMS, KeyID: ref.ID, Vendor: tikv.VendorAzure, Azure: az}
}

// Deliver implements core.Backend: nothing to deliver.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error { return nil }

// Retire implements core.Backend: manual in this build.
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	return core.Evidence{}, fmt.Errorf("retiring azure key %s: not automated: disable it in Key Vault after every store restarted on the new key", ref.ID)
}

// Evidence implements core.Backend.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	return core.Evidence{Backend: core.BackendAzure, KeyID: ref.ID, Attrs: map[string]string{"keyvault_url": b.cfg.KeyvaultURL, "hsm_url": b.cfg.HSMURL, "credential": b.credential()}}, nil
}
