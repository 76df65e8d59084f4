package kms

import (
	"context"
	"fmt"

	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
)

// Aliases of the shared vocabulary in kms/core, so callers import only kms.
type (
	// Backend is one master-key backend; see core.Backend.
	Backend = core.Backend
	// Host is a TiKV host as backends need it; see core.Host.
	Host = core.Host
	// FileInfo is what Host.Stat reports.
	FileInfo = core.FileInfo
	// KeyRef names one master-key generation, never its bytes.
	KeyRef = core.KeyRef
	// Finding is a static validation result.
	Finding = core.Finding
	// Check is a live preflight result.
	Check = core.Check
	// Evidence describes a key generation for the report.
	Evidence = core.Evidence
	// Environment is the plan's deployment tier.
	Environment = core.Environment
	// Purpose selects the generation Prepare returns.
	Purpose = core.Purpose
	// RetireOptions control Retire.
	RetireOptions = core.RetireOptions
	// Field describes one setting of a [key.<backend>] table.
	Field = core.Field
)

// Spec is the [key] section of a plan. Backend picks the sub-table that applies;
// secrets are always referenced by file path, never inline.
//
//	[key]
//	backend = "vault"
//	[key.vault]
//	cluster = "prod-east"
//	auth = "approle"
//	role-id-file = "/etc/tikv-ear/role_id"
//	secret-id-file = "/etc/tikv-ear/secret_id"
type Spec struct {
	Backend string           `toml:"backend"`
	File    *filekey.Config  `toml:"file,omitempty"`
	AWS     *awskms.Config   `toml:"aws,omitempty"`
	Vault   *vault.Config    `toml:"vault,omitempty"`
	GCP     *gcpkms.Config   `toml:"gcp,omitempty"`
	Azure   *azurekms.Config `toml:"azure,omitempty"`
}

// New builds the backend the spec names. It sends no request.
func New(spec Spec) (Backend, error) {
	missing := func() error {
		return fmt.Errorf("plan [key] backend = %q but the [key.%s] table is missing: add it", spec.Backend, spec.Backend)
	}
	switch spec.Backend {
	case core.BackendFile:
		if spec.File == nil {
			return nil, missing()
		}
		return filekey.New(*spec.File)
	case core.BackendAWS:
		if spec.AWS == nil {
			return nil, missing()
		}
		return awskms.New(context.Background(), *spec.AWS)
	case core.BackendVault:
		if spec.Vault == nil {
			return nil, missing()
		}
		return vault.New(*spec.Vault)
	case core.BackendGCP:
		if spec.GCP == nil {
			return nil, missing()
		}
		return gcpkms.New(*spec.GCP), nil
	case core.BackendAzure:
		if spec.Azure == nil {
			return nil, missing()
		}
		return azurekms.New(*spec.Azure)
	case "":
		return nil, fmt.Errorf("plan [key] backend is empty: set it to one of %q, %q, %q, %q, %q",
			core.BackendFile, core.BackendAWS, core.BackendVault, core.BackendGCP, core.BackendAzure)
	}
	return nil, fmt.Errorf("plan [key] backend = %q is unknown: use one of %q, %q, %q, %q, %q", spec.Backend,
		core.BackendFile, core.BackendAWS, core.BackendVault, core.BackendGCP, core.BackendAzure)
}

// Rotated returns the spec to keep once a master-key rotation has made ref the
// current key. For the KMS backends (aws, gcp, azure) key-id becomes ref's key
// and next-key-id is cleared: the next rotation then needs a new next-key-id
// (or, for aws, create-keys) instead of moving "on" to the key already in use,
// and preflight probes the key TiKV really uses. File and vault number their
// generations themselves, so their specs are returned unchanged. The receiver
// is not modified.
func (s Spec) Rotated(ref KeyRef) Spec {
	switch {
	case s.Backend == core.BackendAWS && s.AWS != nil:
		c := *s.AWS
		c.KeyID, c.NextKeyID = ref.ID, ""
		s.AWS = &c
	case s.Backend == core.BackendGCP && s.GCP != nil:
		c := *s.GCP
		c.KeyID, c.NextKeyID = ref.ID, ""
		s.GCP = &c
	case s.Backend == core.BackendAzure && s.Azure != nil:
		c := *s.Azure
		c.KeyID, c.NextKeyID = ref.ID, ""
		s.Azure = &c
	}
	return s
}

// SameKey reports whether a and b name the same master key: the same backend,
// key id, version and generation.
func SameKey(a, b KeyRef) bool {
	return a.Backend == b.Backend && a.ID == b.ID && a.Version == b.Version && a.Generation == b.Generation
}
