// Package gcpkms is the Google Cloud KMS master-key backend (TiKV type = "kms",
// vendor = "gcp", TiKV ≥ v8.0.0 and experimental there). TiKV calls encrypt,
// decrypt and generateRandomBytes (protection level HSM) on the hard-coded
// endpoint https://cloudkms.googleapis.com/v1/ and ignores `endpoint`
// (components/cloud/gcp/src/kms.rs; reference tikv-encryption.md §1.2).
//
// Runbook and limits:
//   - MasterKey always renders the [gcp] sub-table: TiKV refuses vendor "gcp"
//     without it ("invalid configurations for GCP KMS"). credential-file-path is
//     the path on the TiKV host; when empty TiKV uses application-default
//     credentials.
//   - The live preflight runs through the Client interface. This build ships no
//     GCP SDK and no emulator is installable here (reference kms-and-evidence.md
//     §3.3), so without a Client the preflight reports a warning and the key
//     must be checked by hand (gcloud kms encrypt/decrypt with the TiKV identity).
//   - CryptoKey version rotation in Cloud KMS is transparent to TiKV; moving to
//     a different CryptoKey needs previous-master-key and TiKV with the
//     tikv/tikv#17410 fix. Retire is manual (disable the old key version in Cloud KMS).
package gcpkms

import (
	"context"
	"crypto/subtle"
	"fmt"
	"regexp"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

// KeyIDPattern is the key-id TiKV accepts for vendor "gcp"; anything else fails
// with "invalid key: '<id>'" (components/cloud/gcp/src/kms.rs; reference §1.2).
const KeyIDPattern = `^projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/cryptoKeys/([^/]+)/?$`

// Config is the [key.gcp] section of a plan.
type Config struct {
	// KeyID is projects/P/locations/L/keyRings/R/cryptoKeys/K.
	KeyID string `toml:"key-id"`
	// CredentialFilePath is the service-account or authorized-user file on the TiKV hosts.
	CredentialFilePath string `toml:"credential-file-path,omitempty"`
	// NextKeyID is the CryptoKey Prepare(new) moves to.
	NextKeyID string `toml:"next-key-id,omitempty"`
}

// Client is the slice of the Cloud KMS API TiKV uses, shaped like the SDK.
type Client interface {
	Encrypt(ctx context.Context, keyName string, plaintext []byte) (ciphertext []byte, err error)
	Decrypt(ctx context.Context, keyName string, ciphertext []byte) (plaintext []byte, err error)
	// GenerateRandomBytes calls projects/P/locations/L:generateRandomBytes.
	GenerateRandomBytes(ctx context.Context, location string, n int, protectionLevel string) ([]byte, error)
}

// Backend is the GCP backend.
type Backend struct {
	cfg    Config
	client Client
}

var _ core.Backend = (*Backend)(nil)

// New returns the backend; client may be nil (no live preflight).
func New(cfg Config, client Client) *Backend { return &Backend{cfg: cfg, client: client} }

// Name implements core.Backend.
func (b *Backend) Name() string { return core.BackendGCP }

func validKeyID(id string) bool { return regexp.MustCompile(KeyIDPattern).MatchString(id) }

// location returns projects/P/locations/L of a key id.
func location(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) < 4 {
		return ""
	}
	return strings.Join(parts[:4], "/")
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

// Preflight implements core.Backend: what TiKV does, through Client.
func (b *Backend) Preflight(ctx context.Context) []core.Check {
	name := "gcp kms " + b.cfg.KeyID
	if b.client == nil {
		return []core.Check{{Name: name, Status: core.StatusWarn,
			Reason: "no live check: this build has no GCP client wiring",
			Fix:    "check by hand with the TiKV identity: gcloud kms encrypt/decrypt --key " + b.cfg.KeyID}}
	}
	if !validKeyID(b.cfg.KeyID) {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("invalid key: '%s'", b.cfg.KeyID), Fix: "fix [key.gcp] key-id"}}
	}
	rnd, err := b.client.GenerateRandomBytes(ctx, location(b.cfg.KeyID), 32, "HSM")
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("generateRandomBytes in %s: %v", location(b.cfg.KeyID), err), Fix: "grant cloudkms.locations.generateRandomBytes"}}
	}
	defer core.Wipe(rnd)
	ct, err := b.client.Encrypt(ctx, b.cfg.KeyID, rnd)
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: "encrypt: " + err.Error(), Fix: "grant roles/cloudkms.cryptoKeyEncrypterDecrypter on the key"}}
	}
	pt, err := b.client.Decrypt(ctx, b.cfg.KeyID, ct)
	if err != nil {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: "decrypt: " + err.Error(), Fix: "grant roles/cloudkms.cryptoKeyEncrypterDecrypter on the key"}}
	}
	defer core.Wipe(pt)
	if subtle.ConstantTimeCompare(pt, rnd) != 1 {
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: "decrypt returned different bytes"}}
	}
	return []core.Check{{Name: name, Status: core.StatusPass, Reason: "generateRandomBytes (HSM), encrypt and decrypt succeeded"}}
}

// HostPreflight implements core.Backend: nothing on disk but the credential file.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	if b.cfg.CredentialFilePath == "" {
		return []core.Check{{Name: "gcp credentials on " + h.Name(), Status: core.StatusPass, Reason: "TiKV uses application-default credentials"}}
	}
	p := b.cfg.CredentialFilePath
	return []core.Check{core.CredentialFileCheck(ctx, h, "gcp credential file "+p+" on "+h.Name(), p, "copy the service-account file to the host")}
}

// Prepare implements core.Backend.
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	id := b.cfg.KeyID
	if purpose == core.PurposeNew {
		if b.cfg.NextKeyID == "" {
			return core.KeyRef{}, fmt.Errorf("gcp key backend: a new master key needs [key.gcp] next-key-id; prefer Cloud KMS key rotation, which is transparent to TiKV")
		}
		id = b.cfg.NextKeyID
	}
	if !validKeyID(id) {
		return core.KeyRef{}, fmt.Errorf("gcp key backend: invalid key: '%s'", id)
	}
	return core.KeyRef{Backend: core.BackendGCP, ID: id, Attrs: map[string]string{"location": location(id)}}, nil
}

// MasterKey implements core.Backend.
func (b *Backend) MasterKey(ref core.KeyRef) tikv.MasterKey {
	return tikv.MasterKey{Type: tikv.MasterKeyKMS, KeyID: ref.ID, Vendor: tikv.VendorGCP,
		GCP: &tikv.GCPKMS{CredentialFilePath: b.cfg.CredentialFilePath}}
}

// Deliver implements core.Backend: nothing to deliver.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error { return nil }

// Retire implements core.Backend: manual in this build.
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	return core.Evidence{}, fmt.Errorf("retiring gcp key %s: not automated: disable its key versions in Cloud KMS after every store restarted on the new key", ref.ID)
}

// Evidence implements core.Backend.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	return core.Evidence{Backend: core.BackendGCP, KeyID: ref.ID, Attrs: map[string]string{"location": location(ref.ID)}}, nil
}
