// Package azurekms is the Azure Key Vault master-key backend (TiKV type = "kms",
// vendor = "azure", first tag v7.2.0). TiKV takes 32 random bytes from a Managed
// HSM (get_random_bytes(hsm_name, 32)) and encrypts them with the Key Vault key
// using RSA-OAEP-256; it decrypts through the bare key name
// (components/cloud/azure/src/kms.rs, tikv/tikv 8e964719; reference
// tikv-encryption.md §1.2). So Azure needs both a Key Vault key and a Managed HSM.
//
// The tool talks to Azure through azkeys (v1.5.0) and azidentity:
//   - Preflight reads the key (enabled, RSA, key_ops encrypt and decrypt), asks
//     the Managed HSM for 32 random bytes, and encrypts and decrypts them with
//     RSA-OAEP-256 through the bare key name, as TiKV does.
//   - Key Vault answers an operation without a version with the key's latest
//     version, and an RSA ciphertext names no version; TiKV sends none. So a new
//     version of the key (a rotation, manual or by a rotation policy) leaves
//     every store unable to unwrap its key.dict at the next restart, and
//     previous-master-key with the same key name cannot help. Prepare(new)
//     therefore moves to another key: next-key-id, or with create-keys a new
//     RSA key "<key>-g<N>"; with the tikv/tikv#17410 fix TiKV falls back to
//     previous-master-key (the old key) and re-wraps key.dict.
//   - Credentials TiKV gets, highest priority first as TiKV reads them:
//     client-certificate (base64 PKCS12, inline), client-certificate-path (file
//     on the TiKV host), client-secret; only the winning one is rendered.
//     Secrets come from files named in the plan, never inline in the plan.
//     client-certificate-file is the certificate on this machine: the tool
//     authenticates with it and, when client-certificate-path is set, Deliver
//     copies it there (0400); otherwise it is rendered inline.
//   - Inline secrets (client-secret, client-certificate, its password) are
//     served by TiKV's GET /config and written to last_tikv.toml (reference
//     §4.2); prefer client-certificate-path.
//   - The pingcap docs example spells the credential keys with underscores; TiKV
//     reads kebab-case only (AzureConfig, components/encryption/src/config.rs),
//     which is what MasterKey renders.
//   - authority-host, ca-file and disable-challenge-resource-verification are for
//     the tool only (sovereign clouds, private endpoints, the offline demo).
//   - Retire is manual (disable the old key in Key Vault).
package azurekms

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

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
	// ClientCertificateFile is the PKCS12 certificate on this machine (raw or
	// base64): the tool authenticates with it; TiKV gets it at
	// client-certificate-path when that is set, else inline as client-certificate.
	ClientCertificateFile string `toml:"client-certificate-file,omitempty"`
	// ClientCertificatePath is the PKCS12 file on the TiKV hosts (client-certificate-path).
	ClientCertificatePath string `toml:"client-certificate-path,omitempty"`
	// ClientCertificatePasswordFile holds client-certificate-password.
	ClientCertificatePasswordFile string `toml:"client-certificate-password-file,omitempty"`
	// ClientSecretFile holds client-secret.
	ClientSecretFile string `toml:"client-secret-file,omitempty"`
	// Owner owns the delivered certificate on the hosts (the TiKV user).
	Owner string `toml:"owner,omitempty"`
	// NextKeyID is the key Prepare(new) moves to.
	NextKeyID string `toml:"next-key-id,omitempty"`
	// CreateKeys lets Prepare(new) create an RSA key "<key-id>-g<N>" when NextKeyID is empty.
	CreateKeys bool `toml:"create-keys,omitempty"`
	// AuthorityHost overrides the tool's Microsoft Entra authority (default public cloud).
	AuthorityHost string `toml:"authority-host,omitempty"`
	// CAFile is a PEM bundle the tool trusts besides the system roots.
	CAFile string `toml:"ca-file,omitempty"`
	// DisableChallengeResourceVerification lets the tool answer a Key Vault
	// challenge whose resource is not the vault's domain (private endpoints).
	DisableChallengeResourceVerification bool `toml:"disable-challenge-resource-verification,omitempty"`
}

// Fields lists the [key.azure] settings for form generation: every key of
// TiKV's [security.encryption.master-key.azure] (AzureConfig,
// components/encryption/src/config.rs; SubConfigAzure, components/cloud/src/kms.rs;
// tikv/tikv v7.2.0 through master 0093bddd) plus the tool's own settings.
// Secrets are named by files, never typed.
func Fields() []core.Field {
	return []core.Field{
		{Key: "key-id", TiKVKey: "key-id", Label: "Key name", Help: "the Key Vault RSA key's name (not its URL or version)", Placeholder: "tikv-master", Required: true,
			Pattern: `^[0-9A-Za-z-]{1,127}$`, PatternHelp: "a Key Vault key name: letters, digits and dashes, no URL or version"},
		{Key: "keyvault-url", TiKVKey: "azure.keyvault-url", Label: "Key Vault URL", Help: "the vault holding the key", Placeholder: "https://NAME.vault.azure.net/", Required: true, Format: core.FormatHTTPS},
		{Key: "tenant-id", TiKVKey: "azure.tenant-id", Label: "Tenant ID", Help: "the Microsoft Entra tenant (directory) id", Placeholder: "00000000-0000-0000-0000-000000000000", Required: true},
		{Key: "client-id", TiKVKey: "azure.client-id", Label: "Client ID", Help: "the application (service principal) id TiKV signs in as", Placeholder: "00000000-0000-0000-0000-000000000000", Required: true},
		{Key: "hsm-name", TiKVKey: "azure.hsm-name", Label: "Managed HSM name", Help: "TiKV draws each data key's random bytes from it", Placeholder: "NAME", Required: true},
		{Key: "hsm-url", TiKVKey: "azure.hsm-url", Label: "Managed HSM URL", Placeholder: "https://NAME.managedhsm.azure.net/", Required: true, Format: core.FormatHTTPS},
		{Key: "client-secret-file", TiKVKey: "azure.client-secret", Label: "Client secret file", Help: "file holding the client secret (TiKV gets it inline in tikv.toml)", Placeholder: "/etc/tikv-ear/azure-client-secret", Secret: true, OneOf: "credential"},
		{Key: "client-certificate-file", TiKVKey: "azure.client-certificate", Label: "Certificate file here", Help: "PKCS12 on this machine: delivered to the path below, or inlined", Placeholder: "/etc/tikv-ear/azure-client.pfx", Secret: true, OneOf: "credential"},
		{Key: "client-certificate-path", TiKVKey: "azure.client-certificate-path", Label: "Certificate path on the hosts", Help: "where TiKV reads the PKCS12 file (preferred over inline)", Placeholder: "/run/tikv-keys/azure-client.pfx", OneOf: "credential", Format: core.FormatAbsPath},
		{Key: "client-certificate-password-file", TiKVKey: "azure.client-certificate-password", Label: "Certificate password file", Help: "file holding the PKCS12 password", Placeholder: "/etc/tikv-ear/azure-client.pfx.pass", Secret: true},
		{Key: "owner", Label: "Owner on the hosts", Help: "owner of the delivered certificate (the TiKV user)", Default: core.DefaultOwner},
		{Key: "create-keys", Label: "Create rotation keys", Help: "yes: a rotation creates key <name>-g2, -g3… (TiKV decrypts by bare key name, so never a new version)", Default: "no", Format: core.FormatYesNo, Advanced: true},
		{Key: "next-key-id", Label: "Next key name", Help: "the key a master-key rotation moves to", Advanced: true},
		{Key: "authority-host", Label: "Authority host", Help: "this tool's Microsoft Entra authority (default public cloud)", Placeholder: "https://login.microsoftonline.com/", Format: core.FormatHTTPS, Advanced: true},
		{Key: "ca-file", Label: "CA bundle", Help: "PEM this tool trusts besides the system roots", Advanced: true},
		{Key: "disable-challenge-resource-verification", Label: "Skip challenge check", Help: "yes only for private endpoints whose challenge names another domain", Default: "no", Format: core.FormatYesNo, Advanced: true},
	}
}

// API is the part of azkeys.Client the backend uses (*azkeys.Client satisfies it).
type API interface {
	GetKey(ctx context.Context, name, version string, options *azkeys.GetKeyOptions) (azkeys.GetKeyResponse, error)
	Encrypt(ctx context.Context, name, version string, parameters azkeys.KeyOperationParameters, options *azkeys.EncryptOptions) (azkeys.EncryptResponse, error)
	Decrypt(ctx context.Context, name, version string, parameters azkeys.KeyOperationParameters, options *azkeys.DecryptOptions) (azkeys.DecryptResponse, error)
	CreateKey(ctx context.Context, name string, parameters azkeys.CreateKeyParameters, options *azkeys.CreateKeyOptions) (azkeys.CreateKeyResponse, error)
	GetRandomBytes(ctx context.Context, parameters azkeys.GetRandomBytesParameters, options *azkeys.GetRandomBytesOptions) (azkeys.GetRandomBytesResponse, error)
}

var _ API = (*azkeys.Client)(nil)

// WrapAlgorithm is what TiKV wraps the data key with (kms.rs EncryptionAlgorithm::RsaOaep256).
const WrapAlgorithm = azkeys.EncryptionAlgorithmRSAOAEP256

// Backend is the Azure backend.
type Backend struct {
	cfg   Config
	creds tikv.AzureKMS // secrets read from files
	cert  []byte        // client-certificate-file as read

	mu         sync.Mutex
	vault, hsm API
}

var _ core.Backend = (*Backend)(nil)

// New reads the secret files named in cfg and returns the backend. The azkeys
// clients are built on first use.
func New(cfg Config) (*Backend, error) {
	b := &Backend{cfg: cfg}
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
		b.cert = raw
		if cfg.ClientCertificatePath == "" {
			s := strings.TrimSpace(string(raw))
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				s = base64.StdEncoding.EncodeToString(raw) // a binary PKCS12 file
			}
			b.creds.ClientCertificate = s
		}
	}
	return b, nil
}

// NewWithClients returns the backend on given clients (tests, or a caller that
// builds its own); vault serves the key, hsm the random bytes.
func NewWithClients(cfg Config, vault, hsm API) (*Backend, error) {
	b, err := New(cfg)
	if err != nil {
		return nil, err
	}
	b.vault, b.hsm = vault, hsm
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

// clientOptions builds the azcore options: authority, trusted CAs.
func (b *Backend) clientOptions() (azcore.ClientOptions, error) {
	var o azcore.ClientOptions
	if b.cfg.AuthorityHost != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: b.cfg.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	}
	if b.cfg.CAFile != "" {
		pem, err := os.ReadFile(b.cfg.CAFile)
		if err != nil {
			return o, fmt.Errorf("reading ca-file %s: %w", b.cfg.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("ca-file %s holds no PEM certificate", b.cfg.CAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		o.Transport = &http.Client{Transport: tr}
	}
	return o, nil
}

// tokenCredential is the tool's identity: the certificate file, the client
// secret file, or azidentity's default chain.
func (b *Backend) tokenCredential(o azcore.ClientOptions) (azcore.TokenCredential, error) {
	disco := b.cfg.AuthorityHost != "" // a private authority has no instance-discovery endpoint
	switch {
	case b.cert != nil:
		certs, key, err := azidentity.ParseCertificates(b.cert, []byte(b.creds.ClientCertificatePassword))
		if err != nil {
			if raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b.cert))); derr == nil {
				certs, key, err = azidentity.ParseCertificates(raw, []byte(b.creds.ClientCertificatePassword))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("client-certificate-file %s: %w", b.cfg.ClientCertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(b.cfg.TenantID, b.cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: o, DisableInstanceDiscovery: disco})
	case b.creds.ClientSecret != "":
		return azidentity.NewClientSecretCredential(b.cfg.TenantID, b.cfg.ClientID, b.creds.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: o, DisableInstanceDiscovery: disco})
	}
	return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: o, DisableInstanceDiscovery: disco, TenantID: b.cfg.TenantID})
}

func (b *Backend) clients() (API, API, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.vault != nil && b.hsm != nil {
		return b.vault, b.hsm, nil
	}
	o, err := b.clientOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("azure key backend: %w", err)
	}
	cred, err := b.tokenCredential(o)
	if err != nil {
		return nil, nil, fmt.Errorf("azure key backend: credential: %w", err)
	}
	opts := &azkeys.ClientOptions{ClientOptions: o, DisableChallengeResourceVerification: b.cfg.DisableChallengeResourceVerification}
	vault, err := azkeys.NewClient(b.cfg.KeyvaultURL, cred, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("azure key backend: key vault client for %s: %w", b.cfg.KeyvaultURL, err)
	}
	hsm, err := azkeys.NewClient(b.cfg.HSMURL, cred, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("azure key backend: managed HSM client for %s: %w", b.cfg.HSMURL, err)
	}
	b.vault, b.hsm = vault, hsm
	return vault, hsm, nil
}

// describe shortens an SDK error to "HTTP n CODE: message".
func describe(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)
	}
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) {
		return "sign-in failed: " + firstLine(ae.Error())
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Validate implements core.Backend.
func (b *Backend) Validate(env core.Environment, tikvVersions []string) []core.Finding {
	vs, fs := core.VersionFindings(tikvVersions)
	for _, f := range Fields() {
		v := map[string]string{"key-id": b.cfg.KeyID, "tenant-id": b.cfg.TenantID, "client-id": b.cfg.ClientID,
			"keyvault-url": b.cfg.KeyvaultURL, "hsm-name": b.cfg.HSMName, "hsm-url": b.cfg.HSMURL}[f.Key]
		switch {
		case f.Required && v == "":
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "azure-field",
				Message: "[key.azure] " + f.Key + " is empty", Fix: "set " + f.Key + " (" + cmp.Or(f.Help, "e.g. "+f.Placeholder) + "); TiKV needs both a Key Vault key and a Managed HSM"})
		case f.Format == core.FormatHTTPS && v != "" && !strings.HasPrefix(v, "https://"):
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "azure-field",
				Message: fmt.Sprintf("[key.azure] %s = %q is not an https URL", f.Key, v), Fix: "use e.g. " + f.Placeholder})
		case f.Pattern != "" && v != "" && !regexp.MustCompile(f.Pattern).MatchString(v):
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "azure-field",
				Message: fmt.Sprintf("[key.azure] %s = %q: %s", f.Key, v, f.PatternHelp), Fix: "use e.g. " + f.Placeholder})
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
			Source:  "components/cloud/azure/src/kms.rs AzureKms::new"})
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
	fs = append(fs, core.Finding{Severity: core.SeverityWarn, Code: "azure-key-version-rotation",
		Message: "a new version of Key Vault key " + b.cfg.KeyID + " (manual or by a rotation policy) stops every store from unwrapping key.dict at its next restart: TiKV decrypts through the bare key name, which Key Vault answers with the latest version",
		Fix:     "keep automatic rotation off for this key; rotate with tikv-ear rotate (next-key-id or create-keys), which moves TiKV to another key",
		Source:  "components/cloud/azure/src/kms.rs decrypt_data_key (current_key_id without version)"})
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

// versionOf returns the version of a key id URL ".../keys/<name>/<version>".
func versionOf(kid *azkeys.ID) string {
	if kid == nil {
		return ""
	}
	return kid.Version()
}

// Preflight implements core.Backend: the key, HSM random bytes, then wrap and
// unwrap through the bare key name as TiKV does.
func (b *Backend) Preflight(ctx context.Context) []core.Check {
	name := "azure key " + b.cfg.KeyID + " in " + b.cfg.KeyvaultURL
	vault, hsm, err := b.clients()
	if err != nil {
		return []core.Check{{Name: "azure client", Status: core.StatusFail, Reason: err.Error(), Fix: "check [key.azure] credentials, authority-host and ca-file"}}
	}
	k, err := vault.GetKey(ctx, b.cfg.KeyID, "", nil)
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: "reading the key: " + describe(err),
			Fix: "check key-id, keyvault-url, tenant-id and client-id, and grant the client keys/get (Key Vault Crypto User)"}}
	}
	var bad []string
	if a := k.Attributes; a == nil || a.Enabled == nil || !*a.Enabled {
		bad = append(bad, "it is disabled")
	}
	jwk := k.Key
	if jwk == nil || jwk.Kty == nil || (*jwk.Kty != azkeys.KeyTypeRSA && *jwk.Kty != azkeys.KeyTypeRSAHSM) {
		bad = append(bad, "it is not an RSA key")
	}
	ops := map[azkeys.KeyOperation]bool{}
	if jwk != nil {
		for _, o := range jwk.KeyOps {
			if o != nil {
				ops[*o] = true
			}
		}
	}
	if !ops[azkeys.KeyOperationEncrypt] || !ops[azkeys.KeyOperationDecrypt] {
		bad = append(bad, "its key_ops lack encrypt or decrypt")
	}
	if len(bad) > 0 {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: strings.Join(bad, ", ") + "; TiKV encrypts and decrypts with RSA-OAEP-256",
			Fix: "use an enabled RSA key allowed to encrypt and decrypt"}}
	}
	var kid *azkeys.ID
	if jwk != nil {
		kid = jwk.KID
	}
	checks := []core.Check{{Name: name, Status: core.StatusPass, Reason: fmt.Sprintf("enabled %s key, version %s, encrypt and decrypt allowed", *jwk.Kty, versionOf(kid))}}

	rt := "azure managed HSM " + b.cfg.HSMName + " random bytes, " + string(WrapAlgorithm) + " encrypt/decrypt"
	rb, err := hsm.GetRandomBytes(ctx, azkeys.GetRandomBytesParameters{Count: to.Ptr[int32](32)}, nil)
	if err != nil {
		return append(checks, core.Check{Name: rt, Status: core.StatusFail, Reason: fmt.Sprintf("random bytes from %s: %s", b.cfg.HSMURL, describe(err)),
			Fix: "grant the client the Managed HSM Crypto User role (TiKV makes every data key this way)"})
	}
	rnd := rb.Value
	defer core.Wipe(rnd)
	if len(rnd) != 32 {
		return append(checks, core.Check{Name: rt, Status: core.StatusFail, Reason: fmt.Sprintf("the HSM returned %d bytes, want 32", len(rnd))})
	}
	alg := WrapAlgorithm
	enc, err := vault.Encrypt(ctx, b.cfg.KeyID, "", azkeys.KeyOperationParameters{Algorithm: &alg, Value: rnd}, nil)
	if err != nil {
		return append(checks, core.Check{Name: rt, Status: core.StatusFail, Reason: "encrypt: " + describe(err), Fix: "grant keys/encrypt on the key (Key Vault Crypto User)"})
	}
	dec, err := vault.Decrypt(ctx, b.cfg.KeyID, "", azkeys.KeyOperationParameters{Algorithm: &alg, Value: enc.Result}, nil)
	if err != nil {
		return append(checks, core.Check{Name: rt, Status: core.StatusFail, Reason: "decrypt: " + describe(err), Fix: "grant keys/decrypt on the key (Key Vault Crypto User)"})
	}
	defer core.Wipe(dec.Result)
	if subtle.ConstantTimeCompare(dec.Result, rnd) != 1 {
		return append(checks, core.Check{Name: rt, Status: core.StatusFail, Reason: "decrypt returned different bytes", Fix: "check keyvault-url points at Key Vault"})
	}
	return append(checks, core.Check{Name: rt, Status: core.StatusPass, Reason: "32 HSM random bytes encrypted and decrypted with " + string(WrapAlgorithm)})
}

// HostPreflight implements core.Backend: the certificate file when one is used.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	if b.credential() != "client-certificate-path" {
		return []core.Check{{Name: "azure credentials on " + h.Name(), Status: core.StatusPass, Reason: "credential is rendered into tikv.toml; no file needed"}}
	}
	p := b.cfg.ClientCertificatePath
	name := "azure certificate " + p + " on " + h.Name()
	if b.cert != nil {
		if fi, err := h.Stat(ctx, p); err == nil && !fi.Exists {
			return []core.Check{{Name: name, Status: core.StatusPass, Reason: "absent; apply delivers client-certificate-file there (0400)"}}
		}
	}
	return []core.Check{core.CredentialFileCheck(ctx, h, name, p, "copy the PKCS12 certificate to the host, or set client-certificate-file so apply delivers it")}
}

// nextName is "<base>-g<N+1>" for a key named "<base>-g<N>" (or "<name>-g2").
func nextName(name string) string {
	if i := strings.LastIndex(name, "-g"); i > 0 {
		if n, err := strconv.Atoi(name[i+2:]); err == nil && n > 0 {
			return name[:i] + "-g" + strconv.Itoa(n+1)
		}
	}
	return name + "-g2"
}

// Prepare implements core.Backend. Current reads key-id's latest version; new
// moves to next-key-id or creates "<key-id>-g<N>" (create-keys).
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	id := b.cfg.KeyID
	if id == "" {
		return core.KeyRef{}, errors.New("azure key backend: key-id is empty")
	}
	vault, _, err := b.clients()
	if err != nil {
		return core.KeyRef{}, err
	}
	var kb azkeys.KeyBundle
	switch {
	case purpose == core.PurposeNew && b.cfg.NextKeyID != "":
		id = b.cfg.NextKeyID
	case purpose == core.PurposeNew && b.cfg.CreateKeys:
		id = nextName(b.cfg.KeyID)
		kty := azkeys.KeyTypeRSA
		resp, err := vault.CreateKey(ctx, id, azkeys.CreateKeyParameters{Kty: &kty, KeySize: to.Ptr[int32](2048),
			KeyOps: []*azkeys.KeyOperation{to.Ptr(azkeys.KeyOperationEncrypt), to.Ptr(azkeys.KeyOperationDecrypt)}}, nil)
		if err != nil {
			return core.KeyRef{}, fmt.Errorf("azure key backend: creating key %s: %s", id, describe(err))
		}
		kb = resp.KeyBundle
	case purpose == core.PurposeNew:
		return core.KeyRef{}, errors.New("azure key backend: a new master key needs [key.azure] next-key-id (or create-keys = true); " +
			"a new version of the same key would leave TiKV unable to unwrap key.dict (it decrypts through the bare key name)")
	}
	if kb.Key == nil {
		resp, err := vault.GetKey(ctx, id, "", nil)
		if err != nil {
			return core.KeyRef{}, fmt.Errorf("azure key backend: reading key %s: %s", id, describe(err))
		}
		kb = resp.KeyBundle
	}
	ref := core.KeyRef{Backend: core.BackendAzure, ID: id, Attrs: map[string]string{"keyvault_url": b.cfg.KeyvaultURL, "hsm_url": b.cfg.HSMURL}}
	if kb.Key != nil {
		ref.Version = versionOf(kb.Key.KID)
	}
	if a := kb.Attributes; a != nil && a.Created != nil {
		ref.Created = a.Created.UTC()
	}
	return ref, nil
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

// CertificateFileMode is the mode of the delivered certificate.
const CertificateFileMode = 0o400

// Deliver implements core.Backend: copies client-certificate-file to
// client-certificate-path on h when both are set.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error {
	if b.cert == nil || b.cfg.ClientCertificatePath == "" {
		return nil
	}
	p := b.cfg.ClientCertificatePath
	if err := h.WriteSecretFile(ctx, p, bytes.NewReader(b.cert), CertificateFileMode, b.cfg.Owner); err != nil {
		return fmt.Errorf("writing azure certificate %s on %s: %w", p, h.Name(), err)
	}
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return fmt.Errorf("checking azure certificate %s on %s: %w", p, h.Name(), err)
	}
	if !fi.Exists || fi.Size != int64(len(b.cert)) || fi.Mode.Perm() != CertificateFileMode {
		return fmt.Errorf("azure certificate %s on %s: want %d bytes mode 0400, got exists=%t size=%d mode=%#o",
			p, h.Name(), len(b.cert), fi.Exists, fi.Size, fi.Mode.Perm())
	}
	return nil
}

// Retire implements core.Backend: manual in this build.
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	return core.Evidence{}, fmt.Errorf("retiring azure key %s: not automated: disable it in Key Vault after every store restarted on the new key", ref.ID)
}

// Evidence implements core.Backend: the key version, its state and creation time.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	ev := core.Evidence{Backend: core.BackendAzure, KeyID: ref.ID, KeyVersion: ref.Version, Created: ref.Created,
		Attrs: map[string]string{"keyvault_url": b.cfg.KeyvaultURL, "hsm_url": b.cfg.HSMURL, "credential": b.credential()}}
	vault, _, err := b.clients()
	if err != nil {
		return ev, err
	}
	resp, err := vault.GetKey(ctx, ref.ID, ref.Version, nil)
	if err != nil {
		return ev, fmt.Errorf("azure evidence: reading key %s: %s", ref.ID, describe(err))
	}
	if resp.Key != nil {
		ev.KeyVersion = versionOf(resp.Key.KID)
		if resp.Key.Kty != nil {
			ev.Attrs["kty"] = string(*resp.Key.Kty)
		}
	}
	if a := resp.Attributes; a != nil {
		if a.Enabled != nil {
			ev.State = map[bool]string{true: "Enabled", false: "Disabled"}[*a.Enabled]
		}
		if a.Created != nil {
			ev.Created = a.Created.UTC()
		}
	}
	return ev, nil
}
