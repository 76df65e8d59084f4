// Package gcpkms is the Google Cloud KMS master-key backend (TiKV type = "kms",
// vendor = "gcp", TiKV ≥ v8.0.0 and experimental there). TiKV calls encrypt,
// decrypt and generateRandomBytes (protection level HSM) on the hard-coded
// endpoint https://cloudkms.googleapis.com/v1/ and ignores `endpoint`
// (tikv/tikv components/cloud/gcp/src/kms.rs GCP_KMS_ENDPOINT, 8e964719;
// reference tikv-encryption.md §1.2).
//
// The tool talks to Cloud KMS through cloud.google.com/go/kms (REST client):
//   - Preflight reads the CryptoKey (purpose ENCRYPT_DECRYPT, primary version
//     ENABLED, protection level, rotation period), checks IAM with
//     testIamPermissions on the key, then does what TiKV does: 32 random bytes
//     from generateRandomBytes (HSM) in the key's location, encrypt, decrypt,
//     all with CRC32C integrity fields.
//   - Prepare(new) creates a new CryptoKeyVersion and makes it primary; with
//     next-key-id it moves to another CryptoKey instead (then TiKV needs the
//     tikv/tikv#17410 fix and previous-master-key). A new primary version is
//     transparent to TiKV: Cloud KMS decrypts with the version that encrypted,
//     and TiKV keeps key.dict wrapped by the version it first used (KmsBackend
//     caches the data key, components/encryption/src/master_key/kms.rs), so an
//     old version must stay ENABLED. Retire is therefore manual.
//   - MasterKey always renders the [gcp] sub-table: TiKV refuses vendor "gcp"
//     without it ("invalid configurations for GCP KMS", create_cloud_backend in
//     components/encryption/export/src/lib.rs). Its only field is
//     credential-file-path (GcpConfig, components/encryption/src/config.rs);
//     when empty TiKV uses application-default credentials.
//   - credentials-file (on this machine) is the service-account or
//     authorized-user JSON the tool authenticates with; Deliver copies it to
//     credential-file-path on every TiKV host (0400, over stdin), like key files.
package gcpkms

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
	kmsapi "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

// KeyIDPattern is the key-id TiKV accepts for vendor "gcp"; anything else fails
// with "invalid key: '<id>'" (components/cloud/gcp/src/kms.rs KEY_ID_PATTERN).
const KeyIDPattern = `^projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/cryptoKeys/([^/]+)/?$`

// Permissions preflight asks testIamPermissions about. TiKV needs the first two.
var (
	tikvPermissions     = []string{"cloudkms.cryptoKeyVersions.useToEncrypt", "cloudkms.cryptoKeyVersions.useToDecrypt"}
	rotationPermissions = []string{"cloudkms.cryptoKeyVersions.create", "cloudkms.cryptoKeys.update"}
)

// Config is the [key.gcp] section of a plan.
type Config struct {
	// KeyID is projects/P/locations/L/keyRings/R/cryptoKeys/K.
	KeyID string `toml:"key-id"`
	// CredentialFilePath is the service-account or authorized-user file on the
	// TiKV hosts (rendered as credential-file-path); empty = TiKV uses ADC.
	CredentialFilePath string `toml:"credential-file-path,omitempty"`
	// CredentialsFile is that file on this machine: the tool authenticates with
	// it and Deliver copies it to CredentialFilePath. Empty = the tool uses ADC.
	CredentialsFile string `toml:"credentials-file,omitempty"`
	// Owner owns the delivered credential file on the hosts (the TiKV user).
	Owner string `toml:"owner,omitempty"`
	// Endpoint overrides the tool's Cloud KMS endpoint (e.g. a private endpoint
	// or the offline demo's fake). TiKV ignores it: its endpoint is hard-coded.
	Endpoint string `toml:"endpoint,omitempty"`
	// NextKeyID is the CryptoKey Prepare(new) moves to; empty = a new primary version.
	NextKeyID string `toml:"next-key-id,omitempty"`
}

// Client is the part of the Cloud KMS API the backend uses;
// *kms.KeyManagementClient (cloud.google.com/go/kms/apiv1) satisfies it.
type Client interface {
	GetCryptoKey(ctx context.Context, req *kmspb.GetCryptoKeyRequest, opts ...gax.CallOption) (*kmspb.CryptoKey, error)
	GetCryptoKeyVersion(ctx context.Context, req *kmspb.GetCryptoKeyVersionRequest, opts ...gax.CallOption) (*kmspb.CryptoKeyVersion, error)
	CreateCryptoKeyVersion(ctx context.Context, req *kmspb.CreateCryptoKeyVersionRequest, opts ...gax.CallOption) (*kmspb.CryptoKeyVersion, error)
	UpdateCryptoKeyPrimaryVersion(ctx context.Context, req *kmspb.UpdateCryptoKeyPrimaryVersionRequest, opts ...gax.CallOption) (*kmspb.CryptoKey, error)
	Encrypt(ctx context.Context, req *kmspb.EncryptRequest, opts ...gax.CallOption) (*kmspb.EncryptResponse, error)
	Decrypt(ctx context.Context, req *kmspb.DecryptRequest, opts ...gax.CallOption) (*kmspb.DecryptResponse, error)
	GenerateRandomBytes(ctx context.Context, req *kmspb.GenerateRandomBytesRequest, opts ...gax.CallOption) (*kmspb.GenerateRandomBytesResponse, error)
	TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest, opts ...gax.CallOption) (*iampb.TestIamPermissionsResponse, error)
}

var _ Client = (*kmsapi.KeyManagementClient)(nil)

// Backend is the GCP backend.
type Backend struct {
	cfg Config

	mu     sync.Mutex
	client Client
	dial   func(ctx context.Context) (Client, error)
}

var _ core.Backend = (*Backend)(nil)

// New returns the backend. The REST client is built on first use from
// credentials-file (or application-default credentials) and endpoint.
func New(cfg Config) *Backend {
	b := &Backend{cfg: cfg}
	b.dial = func(ctx context.Context) (Client, error) { return b.restClient(ctx) }
	return b
}

// NewWithClient returns the backend on a given client (tests, or a caller that
// builds its own, e.g. with option.WithoutAuthentication).
func NewWithClient(cfg Config, c Client) *Backend {
	return &Backend{cfg: cfg, client: c}
}

// credentialType reads the "type" of a credentials JSON as TiKV does
// (CredentialType in components/cloud/gcp/src/client.rs: service_account or
// authorized_user, nothing else).
func credentialType(data []byte) (option.CredentialsType, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("not a JSON credentials file: %w", err)
	}
	switch head.Type {
	case "service_account":
		return option.ServiceAccount, nil
	case "authorized_user":
		return option.AuthorizedUser, nil
	}
	return "", fmt.Errorf("credential type %q: TiKV reads only service_account and authorized_user files", head.Type)
}

func (b *Backend) restClient(ctx context.Context) (Client, error) {
	var opts []option.ClientOption
	if b.cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(b.cfg.Endpoint))
	}
	if f := b.cfg.CredentialsFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading credentials-file %s: %w", f, err)
		}
		t, err := credentialType(data)
		if err != nil {
			return nil, fmt.Errorf("credentials-file %s: %w", f, err)
		}
		opts = append(opts, option.WithAuthCredentialsFile(t, f))
	}
	c, err := kmsapi.NewKeyManagementRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("building the Cloud KMS client: %w", err)
	}
	return c, nil
}

func (b *Backend) api(ctx context.Context) (Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != nil {
		return b.client, nil
	}
	c, err := b.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcp key backend: %w", err)
	}
	b.client = c
	return c, nil
}

// Name implements core.Backend.
func (b *Backend) Name() string { return core.BackendGCP }

func validKeyID(id string) bool { return regexp.MustCompile(KeyIDPattern).MatchString(id) }

// keyName strips the trailing "/" TiKV tolerates (GcpKms::new).
func keyName(id string) string { return strings.TrimSuffix(id, "/") }

// location returns projects/P/locations/L of a key id.
func location(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) < 4 {
		return ""
	}
	return strings.Join(parts[:4], "/")
}

// describe turns an SDK error into "CODE: message".
func describe(err error) string {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		if st := ae.GRPCStatus(); st != nil && st.Message() != "" {
			return st.Code().String() + ": " + st.Message()
		}
		if ae.HTTPCode() > 0 {
			return fmt.Sprintf("HTTP %d: %s", ae.HTTPCode(), ae.Message())
		}
	}
	return err.Error()
}

// Validate implements core.Backend.
func (b *Backend) Validate(env core.Environment, tikvVersions []string) []core.Finding {
	vs, fs := core.VersionFindings(tikvVersions)
	for _, id := range []string{b.cfg.KeyID, b.cfg.NextKeyID} {
		if id == "" && id == b.cfg.NextKeyID {
			continue
		}
		if !validKeyID(id) {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "gcp-key-id",
				Message: fmt.Sprintf("[key.gcp] key-id %q does not match %s (TiKV: \"invalid key: '%s'\")", id, KeyIDPattern, id),
				Fix:     "use projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>",
				Source:  "components/cloud/gcp/src/kms.rs"})
		}
	}
	if f := b.cfg.CredentialsFile; f != "" {
		if b.cfg.CredentialFilePath == "" {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "gcp-credential-path",
				Message: "[key.gcp] credentials-file is set but credential-file-path (where TiKV reads it on the hosts) is empty",
				Fix:     "set credential-file-path, e.g. /etc/tikv/gcp-kms.json"})
		}
		if data, err := os.ReadFile(f); err != nil {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "gcp-credentials-file",
				Message: "[key.gcp] credentials-file: " + err.Error(), Fix: "point credentials-file at the service-account JSON"})
		} else if _, err := credentialType(data); err != nil {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "gcp-credentials-file",
				Message: fmt.Sprintf("[key.gcp] credentials-file %s: %v", f, err), Fix: "use a service-account key file or an authorized-user file",
				Source: "components/cloud/gcp/src/client.rs CredentialType"})
		}
	}
	if old := core.Below(vs, core.MinGCP); len(old) > 0 {
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "gcp-version",
			Message: fmt.Sprintf("vendor = \"gcp\" needs TiKV %s or later; cluster has %s", core.MinGCP, strings.Join(old, ", ")),
			Fix:     "upgrade TiKV or use another backend", Source: "pingcap/docs releases/release-8.0.0.md"})
	}
	fs = append(fs, core.Finding{Severity: core.SeverityWarn, Code: "gcp-experimental",
		Message: "GCP KMS master keys are experimental in TiKV", Fix: "test restarts and rotation in staging first",
		Source: "pingcap/docs releases/release-8.0.0.md"})
	if f := core.KMSRotationFinding(vs); f != nil {
		fs = append(fs, *f)
	}
	return fs
}

// Preflight implements core.Backend: the key's settings, IAM, then what TiKV does.
func (b *Backend) Preflight(ctx context.Context) []core.Check {
	id := keyName(b.cfg.KeyID)
	if !validKeyID(b.cfg.KeyID) {
		return []core.Check{{Name: "gcp key " + b.cfg.KeyID, Status: core.StatusFail, Reason: fmt.Sprintf("invalid key: '%s'", b.cfg.KeyID), Fix: "fix [key.gcp] key-id"}}
	}
	c, err := b.api(ctx)
	if err != nil {
		return []core.Check{{Name: "gcp client", Status: core.StatusFail, Reason: err.Error(),
			Fix: "set [key.gcp] credentials-file to a service-account JSON, or run gcloud auth application-default login"}}
	}
	checks := []core.Check{b.keyCheck(ctx, c, id)}
	if checks[0].Status == core.StatusFail {
		return checks
	}
	checks = append(checks, b.iamCheck(ctx, c, id))
	return append(checks, b.roundTrip(ctx, c, id))
}

func (b *Backend) keyCheck(ctx context.Context, c Client, id string) core.Check {
	name := "gcp key " + id
	k, err := c.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: id})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "reading the key: " + describe(err),
			Fix: "check key-id, and grant the tool cloudkms.cryptoKeys.get (roles/cloudkms.viewer)"}
	}
	var bad []string
	if k.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		bad = append(bad, "purpose is "+k.GetPurpose().String())
	}
	p := k.GetPrimary()
	switch {
	case p == nil:
		bad = append(bad, "it has no primary version")
	case p.GetState() != kmspb.CryptoKeyVersion_ENABLED:
		bad = append(bad, "primary version "+versionOf(p.GetName())+" is "+p.GetState().String())
	}
	if len(bad) > 0 {
		return core.Check{Name: name, Status: core.StatusFail, Reason: strings.Join(bad, ", ") + "; TiKV needs a symmetric ENCRYPT_DECRYPT key with an ENABLED primary version",
			Fix: "use a symmetric encryption key, or enable its primary version: gcloud kms keys versions enable"}
	}
	reason := fmt.Sprintf("ENCRYPT_DECRYPT, primary version %s ENABLED, protection level %s", versionOf(p.GetName()), p.GetProtectionLevel())
	if rp := k.GetRotationPeriod(); rp != nil {
		return core.Check{Name: name, Status: core.StatusPass, Reason: reason + ", rotation every " + rp.AsDuration().String()}
	}
	return core.Check{Name: name, Status: core.StatusWarn, Reason: reason + "; automatic rotation is off",
		Fix: "set a rotation period (transparent to TiKV): gcloud kms keys update --rotation-period 90d --next-rotation-time <time>"}
}

func (b *Backend) iamCheck(ctx context.Context, c Client, id string) core.Check {
	name := "gcp iam on " + id
	want := append(append([]string(nil), tikvPermissions...), rotationPermissions...)
	resp, err := c.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: id, Permissions: want})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusWarn, Reason: "testIamPermissions: " + describe(err), Fix: "check the identity's roles on the key by hand"}
	}
	granted := map[string]bool{}
	for _, p := range resp.GetPermissions() {
		granted[p] = true
	}
	missing := func(ps []string) []string {
		var m []string
		for _, p := range ps {
			if !granted[p] {
				m = append(m, p)
			}
		}
		return m
	}
	if m := missing(tikvPermissions); len(m) > 0 {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "this identity lacks " + strings.Join(m, ", "),
			Fix: "grant roles/cloudkms.cryptoKeyEncrypterDecrypter on the key (to this tool and to TiKV's service account)"}
	}
	if m := missing(rotationPermissions); len(m) > 0 {
		return core.Check{Name: name, Status: core.StatusWarn, Reason: "encrypt and decrypt granted; rotation needs " + strings.Join(m, ", "),
			Fix: "grant roles/cloudkms.admin on the key to the identity that rotates"}
	}
	return core.Check{Name: name, Status: core.StatusPass, Reason: "encrypt, decrypt and rotation permissions granted"}
}

func crc32c(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// roundTrip does what TiKV's generate_data_key and decrypt_data_key do.
func (b *Backend) roundTrip(ctx context.Context, c Client, id string) core.Check {
	name := "gcp generateRandomBytes/encrypt/decrypt"
	loc := location(id)
	rb, err := c.GenerateRandomBytes(ctx, &kmspb.GenerateRandomBytesRequest{Location: loc, LengthBytes: 32, ProtectionLevel: kmspb.ProtectionLevel_HSM})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("generateRandomBytes (HSM) in %s: %s", loc, describe(err)),
			Fix: "grant cloudkms.locations.generateRandomBytes in " + loc + " (TiKV makes every data key this way)"}
	}
	rnd := rb.GetData()
	defer core.Wipe(rnd)
	if len(rnd) != 32 || (rb.GetDataCrc32C() != nil && rb.GetDataCrc32C().GetValue() != crc32c(rnd)) {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "generateRandomBytes answered bytes that fail their CRC32C or length", Fix: "check the endpoint"}
	}
	enc, err := c.Encrypt(ctx, &kmspb.EncryptRequest{Name: id, Plaintext: rnd, PlaintextCrc32C: wrapperspb.Int64(crc32c(rnd))})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "encrypt: " + describe(err), Fix: "grant roles/cloudkms.cryptoKeyEncrypterDecrypter on the key"}
	}
	if !enc.GetVerifiedPlaintextCrc32C() || enc.GetCiphertextCrc32C().GetValue() != crc32c(enc.GetCiphertext()) {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "encrypt response failed its CRC32C checks", Fix: "retry; check the endpoint"}
	}
	dec, err := c.Decrypt(ctx, &kmspb.DecryptRequest{Name: id, Ciphertext: enc.GetCiphertext(), CiphertextCrc32C: wrapperspb.Int64(crc32c(enc.GetCiphertext()))})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "decrypt: " + describe(err), Fix: "grant roles/cloudkms.cryptoKeyEncrypterDecrypter on the key"}
	}
	pt := dec.GetPlaintext()
	defer core.Wipe(pt)
	if subtle.ConstantTimeCompare(pt, rnd) != 1 || dec.GetPlaintextCrc32C().GetValue() != crc32c(pt) {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "decrypt returned different bytes", Fix: "check the endpoint points at Cloud KMS"}
	}
	return core.Check{Name: name, Status: core.StatusPass, Reason: fmt.Sprintf("32 HSM random bytes encrypted with %s and decrypted", versionOf(enc.GetName()))}
}

// HostPreflight implements core.Backend: the credential file on the host.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	p := b.cfg.CredentialFilePath
	if p == "" {
		return []core.Check{{Name: "gcp credentials on " + h.Name(), Status: core.StatusPass, Reason: "TiKV uses application-default credentials"}}
	}
	name := "gcp credential file " + p + " on " + h.Name()
	if b.cfg.CredentialsFile != "" {
		if fi, err := h.Stat(ctx, p); err == nil && !fi.Exists {
			return []core.Check{{Name: name, Status: core.StatusPass, Reason: "absent; apply delivers credentials-file there (0400)"}}
		}
	}
	return []core.Check{core.CredentialFileCheck(ctx, h, name, p, "copy the service-account file to the host, or set [key.gcp] credentials-file so apply delivers it")}
}

// versionOf returns the version number of a CryptoKeyVersion name.
func versionOf(name string) string {
	_, v, ok := strings.Cut(name, "/cryptoKeyVersions/")
	if !ok {
		return ""
	}
	return v
}

// Prepare implements core.Backend. Current returns the key with its primary
// version; new creates a version and makes it primary (or moves to next-key-id).
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	id := b.cfg.KeyID
	if purpose == core.PurposeNew && b.cfg.NextKeyID != "" {
		id = b.cfg.NextKeyID
	}
	if !validKeyID(id) {
		return core.KeyRef{}, fmt.Errorf("gcp key backend: invalid key: '%s'", id)
	}
	id = keyName(id)
	c, err := b.api(ctx)
	if err != nil {
		return core.KeyRef{}, err
	}
	if purpose == core.PurposeNew && b.cfg.NextKeyID == "" {
		v, err := c.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: id, CryptoKeyVersion: &kmspb.CryptoKeyVersion{}})
		if err != nil {
			return core.KeyRef{}, fmt.Errorf("gcp key backend: creating a version of %s: %s", id, describe(err))
		}
		if _, err := c.UpdateCryptoKeyPrimaryVersion(ctx, &kmspb.UpdateCryptoKeyPrimaryVersionRequest{Name: id, CryptoKeyVersionId: versionOf(v.GetName())}); err != nil {
			return core.KeyRef{}, fmt.Errorf("gcp key backend: making %s primary: %s", v.GetName(), describe(err))
		}
	}
	k, err := c.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: id})
	if err != nil {
		return core.KeyRef{}, fmt.Errorf("gcp key backend: reading %s: %s", id, describe(err))
	}
	ref := core.KeyRef{Backend: core.BackendGCP, ID: id, Version: versionOf(k.GetPrimary().GetName()),
		Attrs: map[string]string{"location": location(id), "protection_level": k.GetPrimary().GetProtectionLevel().String()}}
	if t := k.GetPrimary().GetCreateTime(); t != nil {
		ref.Created = t.AsTime().UTC()
	}
	return ref, nil
}

// MasterKey implements core.Backend.
func (b *Backend) MasterKey(ref core.KeyRef) tikv.MasterKey {
	return tikv.MasterKey{Type: tikv.MasterKeyKMS, KeyID: ref.ID, Vendor: tikv.VendorGCP,
		GCP: &tikv.GCPKMS{CredentialFilePath: b.cfg.CredentialFilePath}}
}

// CredentialFileMode is the mode of the delivered credential file.
const CredentialFileMode = 0o400

// Deliver implements core.Backend: copies credentials-file to
// credential-file-path on h (0400, owner) when both are set.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error {
	if b.cfg.CredentialsFile == "" || b.cfg.CredentialFilePath == "" {
		return nil
	}
	data, err := os.ReadFile(b.cfg.CredentialsFile)
	if err != nil {
		return fmt.Errorf("gcp key backend: reading credentials-file %s: %w", b.cfg.CredentialsFile, err)
	}
	defer core.Wipe(data)
	if _, err := credentialType(data); err != nil {
		return fmt.Errorf("gcp key backend: credentials-file %s: %w", b.cfg.CredentialsFile, err)
	}
	p := b.cfg.CredentialFilePath
	if err := h.WriteSecretFile(ctx, p, bytes.NewReader(data), CredentialFileMode, b.cfg.Owner); err != nil {
		return fmt.Errorf("writing gcp credential file %s on %s: %w", p, h.Name(), err)
	}
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return fmt.Errorf("checking gcp credential file %s on %s: %w", p, h.Name(), err)
	}
	if !fi.Exists || fi.Size != int64(len(data)) || fi.Mode.Perm() != CredentialFileMode {
		return fmt.Errorf("gcp credential file %s on %s: want %d bytes mode 0400, got exists=%t size=%d mode=%#o",
			p, h.Name(), len(data), fi.Exists, fi.Size, fi.Mode.Perm())
	}
	return nil
}

// Retire implements core.Backend: manual. Disabling an old version breaks every
// store whose key.dict it still wraps, and TiKV re-wraps only when it moves to
// another CryptoKey.
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	return core.Evidence{}, fmt.Errorf("retiring gcp key %s version %s: not automated: TiKV keeps key.dict wrapped by the version it first used, "+
		"so disable old versions only after every store restarted on a different CryptoKey", ref.ID, ref.Version)
}

// Evidence implements core.Backend: the key's primary version (or ref's
// version), its state, protection level and rotation schedule.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	ev := core.Evidence{Backend: core.BackendGCP, KeyID: ref.ID, KeyVersion: ref.Version, Created: ref.Created,
		Attrs: map[string]string{"location": location(ref.ID)}}
	c, err := b.api(ctx)
	if err != nil {
		return ev, err
	}
	k, err := c.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: ref.ID})
	if err != nil {
		return ev, fmt.Errorf("gcp evidence: reading %s: %s", ref.ID, describe(err))
	}
	ev.Attrs["purpose"] = k.GetPurpose().String()
	ev.Attrs["primary_version"] = versionOf(k.GetPrimary().GetName())
	v := k.GetPrimary()
	if ref.Version != "" && ref.Version != ev.Attrs["primary_version"] {
		if v, err = c.GetCryptoKeyVersion(ctx, &kmspb.GetCryptoKeyVersionRequest{Name: ref.ID + "/cryptoKeyVersions/" + ref.Version}); err != nil {
			return ev, fmt.Errorf("gcp evidence: reading version %s of %s: %s", ref.Version, ref.ID, describe(err))
		}
	}
	if ev.KeyVersion == "" {
		ev.KeyVersion = versionOf(v.GetName())
	}
	ev.State = v.GetState().String()
	ev.Attrs["protection_level"] = v.GetProtectionLevel().String()
	if t := v.GetCreateTime(); t != nil {
		ev.Created = t.AsTime().UTC()
	}
	on := k.GetRotationPeriod() != nil
	ev.RotationEnabled = &on
	if on {
		ev.RotationPeriod = strconv.Itoa(int(k.GetRotationPeriod().AsDuration().Hours()/24)) + "d"
	}
	if t := k.GetNextRotationTime(); t != nil {
		ev.NextRotation = t.AsTime().UTC()
	}
	return ev, nil
}

// Fields lists the [key.gcp] settings for form generation: TiKV's
// [security.encryption.master-key] key-id and [security.encryption.master-key.gcp]
// credential-file-path (GcpConfig, components/encryption/src/config.rs, tikv/tikv
// v8.0.0 and later, cluster/tikv GateGCP; reference tikv-encryption.md §1.2) plus the tool's own settings.
func Fields() []core.Field {
	return []core.Field{
		{Key: "key-id", TiKVKey: "key-id", Label: "CryptoKey", Help: "the full resource name of the key", Placeholder: "projects/P/locations/L/keyRings/R/cryptoKeys/K", Required: true,
			Pattern: KeyIDPattern, PatternHelp: "use projects/P/locations/L/keyRings/R/cryptoKeys/K"},
		{Key: "credential-file-path", TiKVKey: "gcp.credential-file-path", Label: "Credential file on the hosts",
			Help: "service-account JSON TiKV reads; empty = application-default credentials", Placeholder: "/run/tikv-keys/gcp-kms.json", Format: core.FormatAbsPath},
		{Key: "credentials-file", Label: "Credential file here", Help: "that JSON on this machine: the tool signs in with it and apply delivers it (0400)", Placeholder: "/etc/tikv-ear/gcp-sa.json", Secret: true},
		{Key: "owner", Label: "Owner on the hosts", Help: "owner of the delivered file (the TiKV user)", Default: core.DefaultOwner},
		{Key: "endpoint", Label: "Endpoint for this tool", Help: "private endpoint; TiKV always uses https://cloudkms.googleapis.com/v1/", Format: core.FormatURL, Advanced: true},
		{Key: "next-key-id", Label: "Next CryptoKey", Help: "a rotation moves here; empty = a new primary version of the key", Pattern: KeyIDPattern,
			PatternHelp: "use projects/P/locations/L/keyRings/R/cryptoKeys/K", Advanced: true},
	}
}
