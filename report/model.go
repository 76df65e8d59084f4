package report

import (
	"cmp"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// SchemaV1 names the report.json schema written by this package.
const SchemaV1 = "tikv-ear/report/v1"

// Kind is what the run did.
type Kind string

// The run kinds a report can record.
const (
	KindApply        Kind = "apply"
	KindRotate       Kind = "rotate"
	KindAudit        Kind = "audit"
	KindDisable      Kind = "disable"
	KindChangeMethod Kind = "change-method"
)

// Kinds lists every valid Kind.
func Kinds() []Kind {
	return []Kind{KindApply, KindRotate, KindAudit, KindDisable, KindChangeMethod}
}

// Outcome values for Report.Outcome.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeAborted   = "aborted"
	OutcomePartial   = "partial"
)

// Severity values for Finding.Severity, most severe first.
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
	SeverityInfo     = "info"
)

// DecidedByPolicy is the Decision.DecidedBy value for choices made by the plan's policy
// (headless runs); otherwise DecidedBy is "operator:<name>".
const DecidedByPolicy = "policy"

// Report is the evidence of one tikv-ear run, serialised as report.json.
//
// It never holds key material: only key identifiers, versions and SHA-256
// fingerprints. Canonical also redacts any secret-looking text (see Redact)
// from every string before it is written. All numbers are integers and all
// times are written as UTC RFC 3339.
type Report struct {
	Schema     string    `json:"schema"`
	Kind       Kind      `json:"kind"`
	RunID      string    `json:"run_id,omitempty"`
	Outcome    string    `json:"outcome"`
	Cluster    Cluster   `json:"cluster"`
	Operator   string    `json:"operator"`
	Tool       Tool      `json:"tool"`
	PlanDigest string    `json:"plan_digest,omitempty"` // "sha256:<hex>" of the plan.toml bytes
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`

	Stores     []Store       `json:"stores"`
	Timeline   []Event       `json:"timeline,omitempty"`
	Faults     []Fault       `json:"faults,omitempty"`
	Schedule   *Schedule     `json:"schedule,omitempty"`
	Keys       []KeyEvidence `json:"keys,omitempty"`
	Findings   []Finding     `json:"findings,omitempty"`
	Compliance []Control     `json:"compliance,omitempty"`
}

// Cluster identifies the cluster the run acted on.
type Cluster struct {
	PDClusterID  string   `json:"pd_cluster_id"` // decimal string: PD cluster ids are uint64
	PDEndpoints  []string `json:"pd_endpoints,omitempty"`
	TiUPName     string   `json:"tiup_name,omitempty"`
	TiKVVersions []string `json:"tikv_versions,omitempty"`
}

// Tool identifies the tikv-ear build that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// Store is the evidence for one TiKV store.
type Store struct {
	ID           uint64       `json:"id"`
	Address      string       `json:"address"`
	Zone         string       `json:"zone,omitempty"`
	Before       StoreState   `json:"before"`
	After        StoreState   `json:"after"`
	Verification Verification `json:"verification"`
}

// StoreState is a store's encryption configuration at one point in time.
type StoreState struct {
	Version               string    `json:"version,omitempty"`
	ConfigDigest          string    `json:"config_digest,omitempty"` // "sha256:<hex>" of tikv.toml
	Method                string    `json:"method"`                  // data-encryption-method
	DataKeyRotationPeriod string    `json:"data_key_rotation_period,omitempty"`
	MasterKey             MasterKey `json:"master_key"`
	// PreviousMasterKey is [security.encryption.previous-master-key] while a rotation is in flight.
	PreviousMasterKey *MasterKey `json:"previous_master_key,omitempty"`
}

// HasPreviousMasterKey reports whether s names a previous-master-key TiKV
// could fall back to: one of type plaintext (TiKV's default, which TiUP
// templates write out) is none.
func (s StoreState) HasPreviousMasterKey() bool {
	return s.PreviousMasterKey != nil && !isPlaintextKey(*s.PreviousMasterKey)
}

// MasterKey describes a master key by identity only. Build it with
// MasterKeyFromConfig so that no secret field of the TiKV config can reach it.
type MasterKey struct {
	Type        string `json:"type"`                                       // plaintext | file | kms
	Path        string `json:"path,omitempty"`                             // type = file
	Vendor      string `json:"vendor,omitempty"`                           // type = kms
	KeyID       string `json:"key_id,omitempty"`                           // type = kms, or the Vault/KMS key the file key came from
	Region      string `json:"region,omitempty"`                           // type = kms
	Endpoint    string `json:"endpoint,omitempty"`                         // type = kms, user info stripped
	KeyVersion  string `json:"key_version,omitempty" redact:"key-version"` // backend key version (Vault "3", AWS key material id)
	Fingerprint string `json:"fingerprint,omitempty"`                      // "sha256:<hex>", see Fingerprint
}

// Verification is what the tool observed on a store after the change.
type Verification struct {
	// Verdict is the store's three-valued verdict on that evidence: proven,
	// failing or unknown, with the reason. Absent (reports written before it
	// existed) reads as unknown, never as proven (see StoreVerdict).
	Verdict  *verdict.Verdict `json:"verdict,omitempty"`
	LogLines []LogLine        `json:"log_lines,omitempty"`
	// Log says whether the TiKV log since the restart was read: LogRead, or
	// LogUnknown with LogReason when it could not be (then LogLines is empty
	// because nothing was read, not because TiKV logged nothing). "" in
	// reports written before the field existed.
	Log       string    `json:"log,omitempty"`
	LogReason string    `json:"log_reason,omitempty"`
	Metrics   []Metric  `json:"metrics,omitempty"`
	Leaders   int64     `json:"leaders"`
	KeyDict   *KeyDict  `json:"key_dict,omitempty"`
	Coverage  *Coverage `json:"coverage,omitempty"`
	KeyFile   *KeyFile  `json:"key_file,omitempty"`
}

// Values of Verification.Log.
const (
	// LogRead: the log since the restart was read; LogLines is what it showed.
	LogRead = "read"
	// LogUnknown: the log could not be read; its verdict is unknown.
	LogUnknown = "unknown"
)

// LogEvidence is the text of a store's log evidence: "" when the log was read
// (its lines speak) or the report predates the field, else "unknown (not
// read: reason)".
func (v Verification) LogEvidence() string {
	if v.Log != LogUnknown {
		return ""
	}
	return "unknown (not read: " + cmp.Or(v.LogReason, "no reason recorded") + ")"
}

// LogLine is one TiKV log line seen during verification.
type LogLine struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level,omitempty"`
	Message string    `json:"message"`
	Catalog string    `json:"catalog,omitempty"` // cluster/tikv Msg.Name when it matched the catalogue
}

// Metric is one scraped sample. Value is the exposition text of the sample
// (kept as a string: the report holds no floats).
type Metric struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  string            `json:"value"`
}

// KeyDict is the non-secret metadata of a store's key.dict.
type KeyDict struct {
	Method           string `json:"method"` // EncryptedContent metadata "method": aes256-gcm or plaintext
	KMSVendor        string `json:"kms_vendor,omitempty"`
	DataKeys         int64  `json:"data_keys"`
	CurrentDataKeyID string `json:"current_data_key_id,omitempty"` // decimal string (u64)
}

// Coverage counts data files by whether they are encrypted on disk.
type Coverage struct {
	FilesEncrypted int64  `json:"files_encrypted"`
	FilesPlaintext int64  `json:"files_plaintext"`
	BytesEncrypted int64  `json:"bytes_encrypted"`
	BytesPlaintext int64  `json:"bytes_plaintext"`
	Note           string `json:"note,omitempty"`
}

// KeyFile describes where a file master key lives on the host.
type KeyFile struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"` // octal, e.g. "0400"
	Owner  string `json:"owner,omitempty"`
	FSType string `json:"fs_type,omitempty"` // e.g. tmpfs
}

// Event is one step or decision of the run's timeline.
type Event struct {
	At       time.Time `json:"at"`
	Store    uint64    `json:"store,omitempty"` // 0 = cluster-wide
	Phase    string    `json:"phase"`           // e.g. preflight, evict, restart, verify, settle
	Status   string    `json:"status"`          // started | ok | failed | skipped
	Detail   string    `json:"detail,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
}

// Decision records a choice the run had to make and who made it.
type Decision struct {
	Question  string   `json:"question"`
	Options   []string `json:"options,omitempty"`
	Choice    string   `json:"choice"`
	DecidedBy string   `json:"decided_by"` // "operator:<name>" or DecidedByPolicy
}

// Fault is a problem met during the run and how it was resolved.
type Fault struct {
	At         time.Time `json:"at"`
	Store      uint64    `json:"store,omitempty"`
	Kind       string    `json:"kind"`
	Message    string    `json:"message"`
	Resolution string    `json:"resolution,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Schedule is the rotation policy in force and when rotation is next due.
type Schedule struct {
	MasterKeyPeriodDays   int64     `json:"master_key_period_days"`
	DataKeyRotationPeriod string    `json:"data_key_rotation_period"` // TiKV duration, e.g. "7d"
	SigningKeyPeriodDays  int64     `json:"signing_key_period_days,omitempty"`
	LastMasterKeyRotation time.Time `json:"last_master_key_rotation,omitzero"`
	NextDue               time.Time `json:"next_due,omitzero"`
	Mechanism             string    `json:"mechanism,omitempty"` // systemd | cron | kubernetes | manual
	KMSNative             string    `json:"kms_native,omitempty"`
}

// KeyEvidence describes a managed key (master key, report signing key) in its
// backend, as the backend reported it when the report was built.
type KeyEvidence struct {
	Role                 string       `json:"role"`    // master-key | previous-master-key | signing-key
	Backend              string       `json:"backend"` // file | vault | vault-transit | aws | gcp | azure
	KeyID                string       `json:"key_id"`
	Versions             []KeyVersion `json:"versions,omitempty"`
	LatestVersion        string       `json:"latest_version,omitempty" redact:"key-version"`
	MinDecryptionVersion string       `json:"min_decryption_version,omitempty"`
	RotationEnabled      bool         `json:"rotation_enabled"`
	// RotationStatus is the backend's automatic rotation: RotationEnabled,
	// RotationDisabled or RotationUnknown (not readable; RotationEnabled is then false).
	RotationStatus string    `json:"rotation_status,omitempty"`
	RotationPeriod string    `json:"rotation_period,omitempty"` // e.g. "90d", "8760h"
	NextRotation   time.Time `json:"next_rotation,omitzero"`
	// State is the key's state in the backend (AWS Enabled/PendingDeletion,
	// GCP ENABLED/DESTROYED, Vault active/destroyed), or "unknown".
	State string `json:"state,omitempty"`
	// KeyARN is the AWS key ARN.
	KeyARN string `json:"key_arn,omitempty"`
	// Location is the AWS region or GCP location.
	Location string `json:"location,omitempty"`
	// TokenAccessor is the accessor of the Vault token the tool used (never the token).
	TokenAccessor string `json:"token_accessor,omitempty"`
	// KEK is the Vault transit key that wraps the master key.
	KEK *KEKEvidence `json:"kek,omitempty"`
	// Attributes are further backend facts (GCP protection level, Azure vault URL, ...).
	Attributes map[string]string `json:"attributes,omitempty"`
	// Unreadable says why the backend could not be read; the fields above are then the plan's.
	Unreadable string `json:"unreadable,omitempty"`
}

// RoleSigningKey is the KeyEvidence.Role of the key that signed the report.
const RoleSigningKey = "signing-key"

// Rotation statuses for KeyEvidence.RotationStatus.
const (
	RotationEnabled  = "enabled"
	RotationDisabled = "disabled"
	RotationUnknown  = "unknown"
)

// KEKEvidence is the Vault transit key-encryption key behind a master key
// (GET transit/keys/:name: type, latest_version, min_decryption_version;
// reference kms-and-evidence.md §1.1).
type KEKEvidence struct {
	Key                  string `json:"key"` // <mount>/keys/<name>
	Type                 string `json:"type,omitempty"`
	LatestVersion        string `json:"latest_version,omitempty"`
	MinDecryptionVersion string `json:"min_decryption_version,omitempty"`
	// WrappedWith is the KEK version that wrapped this master-key generation.
	WrappedWith   string    `json:"wrapped_with_version,omitempty"`
	LatestCreated time.Time `json:"latest_created,omitzero"`
}

// KeyVersion is one version of a managed key.
type KeyVersion struct {
	Version     string    `json:"version" redact:"key-version"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	Fingerprint string    `json:"fingerprint,omitempty"` // "sha256:<hex>" of public or derived identity, never of secret bytes alone
}

// Finding is a problem or observation for the reader, with the fix.
type Finding struct {
	Severity string `json:"severity"`
	Store    uint64 `json:"store,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// Control is one compliance requirement and the evidence in this report that supports it.
type Control struct {
	Framework   string   `json:"framework"` // PCI DSS v4.0.1 | NIST SP 800-57 Pt1 | HIPAA | SOC 2
	ID          string   `json:"id"`
	Requirement string   `json:"requirement"` // paraphrase
	Status      string   `json:"status"`      // supported | partial | not-evidenced | assessor
	Evidence    []string `json:"evidence,omitempty"`
	Note        string   `json:"note,omitempty"`
}

// Control statuses.
const (
	ControlSupported    = "supported"
	ControlPartial      = "partial"
	ControlNotEvidenced = "not-evidenced"
)

// New returns a report of the given kind with the schema set.
func New(kind Kind, started time.Time) *Report {
	return &Report{Schema: SchemaV1, Kind: kind, StartedAt: started, Stores: []Store{}}
}
