// Package core holds the vocabulary every key backend shares: the Backend and
// Host interfaces, key references, findings, checks and evidence, plus the
// TiKV file-key format (64 lowercase hex + LF, 65 bytes) and the version gates.
//
// It is a leaf package so that the backends (kms/filekey, kms/awskms,
// kms/vault, kms/gcpkms, kms/azurekms) and the constructor in package kms can
// all import it without a cycle. Callers normally use the aliases in package kms.
// It must never log, print or return key bytes.
package core

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Backend names as they appear in a plan's [key] section.
const (
	BackendFile  = "file"
	BackendAWS   = "aws"
	BackendGCP   = "gcp"
	BackendAzure = "azure"
	BackendVault = "vault"
)

// Environment is the plan's deployment tier. Production refuses the file backend.
type Environment string

// Environments a plan may declare.
const (
	EnvDevelopment Environment = "dev"
	EnvStaging     Environment = "staging"
	EnvProduction  Environment = "production"
)

// Severity grades a Finding.
type Severity string

// Severities of a Finding: an error blocks the plan, a warning needs acknowledgement.
const (
	SeverityInfo  Severity = "info"
	SeverityWarn  Severity = "warn"
	SeverityError Severity = "error"
)

// Finding is one result of static validation (settings and TiKV version gates).
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`             // stable identifier, e.g. "aws-subtable-version"
	Message  string   `json:"message"`          // what is wrong, lowercase, names the setting
	Fix      string   `json:"fix,omitempty"`    // what the operator should do
	Source   string   `json:"source,omitempty"` // upstream fact the finding rests on
}

// Status is the outcome of a Check.
type Status string

// Check outcomes.
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

// Check is one live preflight probe (from the operator's machine or a TiKV host).
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
}

// Purpose says which master-key generation Prepare should return.
type Purpose string

// Purposes for Prepare.
const (
	// PurposeCurrent returns the newest existing generation (creating the first one
	// for backends that generate keys: file and vault).
	PurposeCurrent Purpose = "current"
	// PurposeNew creates the next generation (master-key rotation).
	PurposeNew Purpose = "new"
)

// KeyRef names one master-key generation. It never holds key bytes, so it can be
// journaled, shown and put into the report.
type KeyRef struct {
	Backend     string            `json:"backend" toml:"backend"`
	ID          string            `json:"id" toml:"id"`                                       // file: operator-side key path; vault: KV path; aws: key ARN; gcp: key resource name; azure: key name
	Version     string            `json:"version,omitempty" toml:"version,omitempty"`         // vault: KV v2 version
	Generation  int               `json:"generation" toml:"generation"`                       // 1, 2, … (file and vault); 0 for KMS
	Fingerprint string            `json:"fingerprint,omitempty" toml:"fingerprint,omitempty"` // see Fingerprint
	Created     time.Time         `json:"created,omitzero" toml:"created,omitempty"`
	Attrs       map[string]string `json:"attrs,omitempty" toml:"attrs,omitempty"` // backend-specific, non-secret
}

// RetireOptions control Retire. Nothing is revoked unless Confirmed is true.
type RetireOptions struct {
	// Confirmed is the operator's explicit consent; Retire refuses without it.
	Confirmed bool
	// Action selects how: aws "disable" (default) or "schedule-deletion";
	// vault "destroy" (default); file "shred" (default).
	Action string
	// PendingWindowDays is the AWS ScheduleKeyDeletion waiting period (7–30).
	PendingWindowDays int
	// Hosts, when set, also removes the generation's key file from each host (file, vault).
	Hosts []Host
}

// Evidence describes one key generation for the signed report. Never key bytes.
type Evidence struct {
	Backend         string            `json:"backend"`
	KeyID           string            `json:"key_id"`
	KeyVersion      string            `json:"key_version,omitempty"`
	Generation      int               `json:"generation,omitempty"`
	Fingerprint     string            `json:"fingerprint,omitempty"`
	Created         time.Time         `json:"created,omitzero"`
	State           string            `json:"state,omitempty"` // e.g. Enabled, Disabled, PendingDeletion, destroyed
	RotationEnabled *bool             `json:"rotation_enabled,omitempty"`
	RotationPeriod  string            `json:"rotation_period,omitempty"`
	NextRotation    time.Time         `json:"next_rotation,omitzero"`
	Accessor        string            `json:"accessor,omitempty"` // vault token accessor (never the token)
	Actions         []string          `json:"actions,omitempty"`  // what Retire did
	Attrs           map[string]string `json:"attrs,omitempty"`
}

// FileInfo is what Host.Stat reports about a path on a TiKV host.
type FileInfo struct {
	Exists bool
	Mode   os.FileMode // permission bits
	Owner  string
	Size   int64
	FSType string // filesystem type of the path (or of its directory when absent), e.g. "tmpfs"
}

// Host is a TiKV host as the key backends need it. The SSH layer implements it;
// secret content always travels over stdin, never argv or environment.
type Host interface {
	// Name identifies the host in messages (e.g. "tikv-1 (10.0.0.5)").
	Name() string
	// WriteSecretFile writes content to path with mode and owner, creating it
	// atomically (temp file in the same directory, fsync, rename) over stdin.
	WriteSecretFile(ctx context.Context, path string, content io.Reader, mode os.FileMode, owner string) error
	// Stat describes path; a missing path is Exists=false with FSType of its directory.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// Remove deletes path, overwriting it first when shred is true.
	Remove(ctx context.Context, path string, shred bool) error
}

// Backend is one master-key backend. A backend is built from a Spec by kms.New;
// every method is safe to call again (idempotent) except Prepare(PurposeNew).
type Backend interface {
	// Name is the backend name: "file", "aws", "gcp", "azure" or "vault".
	Name() string
	// Validate checks the settings and the TiKV version gates without any I/O.
	Validate(env Environment, tikvVersions []string) []Finding
	// Preflight probes the key service from the operator's machine.
	Preflight(ctx context.Context) []Check
	// HostPreflight probes one TiKV host (key directory on tmpfs, key file mode and size).
	HostPreflight(ctx context.Context, h Host) []Check
	// Prepare returns the current generation or creates a new one.
	Prepare(ctx context.Context, purpose Purpose) (KeyRef, error)
	// MasterKey renders the tikv.toml master-key (or previous-master-key) table for ref.
	MasterKey(ref KeyRef) tikv.MasterKey
	// Deliver puts what TiKV needs for ref on host h (a 0400 key file; no-op for KMS).
	Deliver(ctx context.Context, h Host, ref KeyRef) error
	// Retire revokes an old generation; it refuses unless opts.Confirmed.
	Retire(ctx context.Context, ref KeyRef, opts RetireOptions) (Evidence, error)
	// Evidence describes ref for the report.
	Evidence(ctx context.Context, ref KeyRef) (Evidence, error)
}
