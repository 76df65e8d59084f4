package gather

import (
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// SchemaVersion is the version of the JSON document Report marshals to. It is
// bumped when a field is renamed or removed or changes meaning; new fields may
// be added without a bump.
const SchemaVersion = 1

// State is a store's effective encryption state.
type State string

// The effective states, from the data a store's operator cares about most.
const (
	// StatePlaintext: the running process uses method plaintext and no data file is encrypted.
	StatePlaintext State = "plaintext"
	// StateEnabling: tikv.toml asks for a cipher but the running process still
	// uses plaintext (a restart is pending).
	StateEnabling State = "enabling"
	// StateEncrypted: the running process uses a cipher and every data file
	// proved on disk is encrypted.
	StateEncrypted State = "encrypted"
	// StateEncryptedPartial: encryption is on (or being switched off) but some
	// data files are still in the other form; compaction rewrites them over time.
	StateEncryptedPartial State = "encrypted-partial"
	// StateFailing: TiKV is not serving and its log ends in a FATAL
	// encryption or engine start-up failure.
	StateFailing State = "failing"
	// StateWaitingForKey: the master key is a file that does not exist (for
	// example a tmpfs lost on reboot) and TiKV is not serving.
	StateWaitingForKey State = "waiting-for-key"
	// StateUnknown: not enough could be read to tell.
	StateUnknown State = "unknown"
)

// States lists every State.
func States() []State {
	return []State{StatePlaintext, StateEnabling, StateEncrypted, StateEncryptedPartial, StateFailing, StateWaitingForKey, StateUnknown}
}

// Report is everything `tikv-ear status` shows: the cluster summary and one
// entry per TiKV store. It is the `status --output json` document.
type Report struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// GatheredAt is when gathering finished (UTC, RFC 3339).
	GatheredAt time.Time `json:"gathered_at"`
	// Complete is true when every source of every store and of the cluster
	// summary was read; Partial lists what was not, one line each.
	Complete bool     `json:"complete"`
	Partial  []string `json:"partial,omitempty"`
	// Cluster is the PD-side summary.
	Cluster Cluster `json:"cluster"`
	// Stores are the TiKV stores in store-id order.
	Stores []Store `json:"stores"`
	// MasterKey is the master key's age against the rotation policy. Gather
	// has no plan, so it leaves this nil; status --plan and audit fill it.
	MasterKey *MasterKeyAge `json:"master_key,omitempty"`
}

// Sources of MasterKeyAge.LastRotationSource.
const (
	// RotationFromPlan: the plan's key generation creation time (KeyRef.Created).
	RotationFromPlan = "plan"
	// RotationFromBackend: the key backend's record of the generation.
	RotationFromBackend = "backend"
	// RotationFromLog: the newest "encryption: persisted result after replace
	// master key." line in the stores' tikv.log.
	RotationFromLog = "log"
)

// MasterKeyAge is where the cluster's master key stands against its rotation
// period: which generation, since when, and when the next rotation is due.
type MasterKeyAge struct {
	// Generation is the plan's key generation (1, 2, …; 0 for KMS keys).
	Generation int `json:"generation"`
	// Backend and KeyID identify the generation (never the key).
	Backend string `json:"backend,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	// LastRotation is when the current master key came into use, from
	// LastRotationSource (plan, backend or log); absent when unknown.
	LastRotation       *time.Time `json:"last_rotation,omitempty"`
	LastRotationSource string     `json:"last_rotation_source,omitempty"`
	// LogConfirmed is the newest "persisted result after replace master key."
	// line seen in any store's log, and the store it came from.
	LogConfirmed      *time.Time `json:"log_confirmed,omitempty"`
	LogConfirmedStore uint64     `json:"log_confirmed_store,omitempty"`
	// LogAhead is how far that line's timestamp was ahead of this machine's
	// clock (clock skew between the store's host and this one, or the
	// simulated cluster's faster clock), as a Go duration; LogConfirmed is
	// then clamped to this machine's "now", never shown in the future.
	LogAhead string `json:"log_ahead,omitempty"`
	// AgeDays is whole days since LastRotation; PeriodDays the policy's period.
	AgeDays    int `json:"age_days"`
	PeriodDays int `json:"period_days"`
	// NextDue is LastRotation + period; absent when the last rotation is unknown.
	NextDue *time.Time `json:"next_due,omitempty"`
	// Overdue is true past NextDue, or when the last rotation is unknown.
	Overdue bool `json:"overdue"`
}

// Cluster is the cluster summary read from PD.
type Cluster struct {
	// ID is PD's cluster id (GET /pd/api/v1/cluster "id").
	ID uint64 `json:"id"`
	// PDEndpoints are the PD endpoints used.
	PDEndpoints []string `json:"pd_endpoints,omitempty"`
	// MaxReplicas and LocationLabels are GET /pd/api/v1/config/replicate
	// "max-replicas" and "location-labels" (split at commas);
	// PlacementRules is "enable-placement-rules" (then both are unused by PD).
	MaxReplicas    uint64   `json:"max_replicas"`
	LocationLabels []string `json:"location_labels"`
	PlacementRules bool     `json:"placement_rules"`
	// Regions counts regions per PD region check.
	Regions RegionHealth `json:"regions"`
	// EvictLeaderStores are the stores evict-leader-scheduler covers; a
	// leftover keeps a store at zero leaders.
	EvictLeaderStores []uint64 `json:"evict_leader_stores"`
	// EvictLeaderSchedulers are the evict-leader scheduler names PD lists
	// ("evict-leader-scheduler", or "evict-leader-scheduler-<id>" on old PD).
	EvictLeaderSchedulers []string `json:"evict_leader_schedulers"`
	// Errors are the PD reads that failed, one line each.
	Errors []string `json:"errors,omitempty"`
}

// RegionHealth counts regions returned by PD's region checks
// (GET /pd/api/v1/regions/check/{miss-peer,pending-peer,down-peer}); -1 means not read.
type RegionHealth struct {
	MissPeer    int `json:"miss_peer"`
	PendingPeer int `json:"pending_peer"`
	DownPeer    int `json:"down_peer"`
}

// Store is what was gathered about one TiKV store. Sections that could not be
// read are absent (null); Errors says why.
type Store struct {
	StoreID uint64 `json:"store_id"`
	// Address is PD's store address (host:port).
	Address string `json:"address"`
	// StatusAddress is the TiKV status address (host:port).
	StatusAddress string `json:"status_address"`
	// SSHTarget is the [user@]host[:port] the facts on disk were read through.
	SSHTarget string `json:"ssh_target"`
	// TiUPManaged is true when the store is in a TiUP meta.yaml, or its
	// tikv.toml carries TiUP's header.
	TiUPManaged bool `json:"tiup_managed"`

	PD       PDFacts        `json:"pd"`
	Config   *ConfigFacts   `json:"config"`
	Running  *RunningFacts  `json:"running"`
	KeyDict  *KeyDictFacts  `json:"key_dict"`
	FileDict *FileDictFacts `json:"file_dict"`
	Log      *LogFacts      `json:"log"`
	Coverage *Coverage      `json:"coverage"`
	KeyFile  *KeyFileFacts  `json:"key_file"`

	// State is the effective encryption state and Reason why.
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// Verdict is proven when the evidence read shows State, failing when
	// the store failed (State failing or waiting-for-key), and unknown when
	// evidence is missing or unreadable, with the reason (see Judge).
	Verdict verdict.Verdict `json:"verdict"`
	// Reachable is false when no SSH command could run on the host.
	Reachable bool `json:"ssh_reachable"`
	// Errors are the sources that could not be read.
	Errors []SourceError `json:"errors,omitempty"`
	// Warnings are findings worth acting on (key file mode, exposed data keys…).
	Warnings []string `json:"warnings,omitempty"`
}

// Sources of a store's facts, as named in SourceError.Source.
const (
	SourcePD       = "pd"
	SourceSSH      = "ssh"
	SourceConfig   = "config"
	SourceStatus   = "status"
	SourceMetrics  = "metrics"
	SourceKeyDict  = "key.dict"
	SourceFileDict = "file.dict"
	SourceLog      = "log"
	SourceStderr   = "stderr"
	SourceDisk     = "disk"
	SourceKeyFile  = "key-file"
)

// SourceError is one source of a store that could not be read.
type SourceError struct {
	Source  string `json:"source"`
	Message string `json:"message"`
}

// PDFacts are PD's view of the store (GET /pd/api/v1/stores).
type PDFacts struct {
	// Zone is the "zone" label; Labels are all store labels.
	Zone   string            `json:"zone"`
	Labels map[string]string `json:"labels,omitempty"`
	// Version is store.version; StateName is store.state_name (Up, Offline,
	// Disconnected, Down, Tombstone).
	Version   string `json:"version"`
	StateName string `json:"state_name"`
	// LeaderCount and RegionCount are status.leader_count and status.region_count.
	LeaderCount int `json:"leader_count"`
	RegionCount int `json:"region_count"`
	// StartTimestamp is store.start_timestamp (unix seconds of the process
	// start); StartTime is the same as a time.
	StartTimestamp int64      `json:"start_timestamp"`
	StartTime      *time.Time `json:"start_time,omitempty"`
	// PauseLeaderTransferIn is status.pause_leader_transfer_in (true while an
	// evict-leader scheduler covers the store).
	PauseLeaderTransferIn bool `json:"pause_leader_transfer_in"`
	// EvictLeader is true when evict-leader-scheduler lists the store.
	EvictLeader bool `json:"evict_leader"`
}

// ConfigFacts is what the store's tikv.toml configures. Secret values (KMS
// secret keys, Azure client secrets) are never copied here.
type ConfigFacts struct {
	// Path is the tikv.toml read on the host.
	Path string `json:"path"`
	// TiUP is true when the file starts with TiUP's "auto-generated" header.
	TiUP bool `json:"tiup"`
	// Method is data-encryption-method as TiKV would use it ("plaintext" when unset).
	Method string `json:"method"`
	// MasterKey and PreviousMasterKey describe the keys without their secrets.
	MasterKey         MasterKeyFacts  `json:"master_key"`
	PreviousMasterKey *MasterKeyFacts `json:"previous_master_key,omitempty"`
	// DataDir, RaftEngineDir and LogFile are the paths the file sets ("" when unset).
	DataDir       string `json:"data_dir,omitempty"`
	RaftEngineDir string `json:"raft_engine_dir,omitempty"`
	LogFile       string `json:"log_file,omitempty"`
	// Problems are TOML syntax errors and findings of TiKV's rules, each with
	// file:line:column, key and fix.
	Problems []Problem `json:"problems,omitempty"`
}

// MasterKeyFacts is a master key without secret values.
type MasterKeyFacts struct {
	// Type is plaintext, file or kms (plaintext when the table is absent).
	Type string `json:"type"`
	// Path is the key file (type file).
	Path string `json:"path,omitempty"`
	// KeyID, Vendor, Region and Endpoint identify a KMS key (type kms).
	KeyID    string `json:"key_id,omitempty"`
	Vendor   string `json:"vendor,omitempty"`
	Region   string `json:"region,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
}

// Problem is one finding about a tikv.toml.
type Problem struct {
	Severity string `json:"severity"` // error | warning
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Key      string `json:"key,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// RunningFacts is what the status port says about the running process.
type RunningFacts struct {
	// Method and MasterKeyType are security.encryption from GET /config;
	// empty when /config could not be read.
	Method        string `json:"method,omitempty"`
	MasterKeyType string `json:"master_key_type,omitempty"`
	// MasterKeyPath is the running master key file, when type is file.
	MasterKeyPath string `json:"master_key_path,omitempty"`
	// IsInitialized is tikv_encryption_is_initialized == 1.
	IsInitialized bool `json:"is_initialized"`
	// EncryptionMetrics is true when the tikv_encryption_* gauges were exported.
	EncryptionMetrics bool `json:"encryption_metrics"`
	// FileNum is tikv_encryption_file_num (entries in file.dict).
	FileNum int64 `json:"file_num"`
	// DataKeys is tikv_encryption_data_key_storage_total.
	DataKeys int64 `json:"data_keys"`
	// LeaderCount is tikv_raftstore_region_count{type="leader"}, RegionCount
	// tikv_raftstore_region_count{type="region"}.
	LeaderCount int `json:"leader_count"`
	RegionCount int `json:"region_count"`
}

// KeyDictFacts is key.dict's header and metadata; key bytes are never read out.
type KeyDictFacts struct {
	// Exists is false when the data dir has no key.dict (encryption never initialised).
	Exists bool `json:"exists"`
	// Method is metadata "method": aes256-gcm (sealed by the master key) or
	// plaintext (KeysExposed: the data keys lie on disk unencrypted).
	Method      string `json:"method,omitempty"`
	KeysExposed bool   `json:"keys_exposed"`
	// KMSVendor is metadata "kms_vendor" ("AWS", "azure", "gcp", "gcp_v2"); "" for a file key.
	KMSVendor string `json:"kms_vendor,omitempty"`
	// Size is the file size in bytes.
	Size int `json:"size"`
}

// FileDictFacts summarises file.dict.
type FileDictFacts struct {
	Exists bool `json:"exists"`
	// Entries is the number of tracked files; Methods counts them per method
	// ("aes256-ctr", "plaintext", …).
	Entries int            `json:"entries"`
	Methods map[string]int `json:"methods,omitempty"`
	// TornTail is TiKV's warning text when a torn tail record would be discarded.
	TornTail string `json:"torn_tail,omitempty"`
}

// LogFacts are the encryption events found at the end of tikv.log, and
// what tikv_stderr.log beside it says.
type LogFacts struct {
	Path string `json:"path"`
	// Size is the log's size; BytesRead how much of its end was read.
	Size      int64 `json:"size"`
	BytesRead int64 `json:"bytes_read"`
	// ModTime is the log's modification time on the host, when known.
	ModTime *time.Time `json:"mod_time,omitempty"`
	// Events are the last encryption events of the catalogue, oldest first
	// (the per-tick "Try to rotate data key", "installing new dictionary
	// file" and per-file lines are left out); FATAL records outside the
	// catalogue are events named "fatal".
	Events []LogEvent `json:"events"`
	// FatalAfterStart is true when the last start-up outcome in the read part
	// is a FATAL failure (no successful encryption init after it), whether
	// the FATAL record was whole or damaged.
	FatalAfterStart bool `json:"fatal_after_start"`
	// Started is true when a successful encryption init follows the last
	// start ("Welcome to TiKV") with no FATAL after it.
	Started bool `json:"started"`
	// StartLine is the line of the last "Welcome to TiKV" in the read part
	// (0: none was read; then the whole part counts as the last start).
	StartLine int `json:"start_line,omitempty"`
	// StartTime is that line's timestamp.
	StartTime *time.Time `json:"start_time,omitempty"`
	// Records counts the records read per class (parsed, partial, unparsed).
	Records map[string]int `json:"records"`
	// Unparsed are the records after the last start from which no level
	// could be read (at most tikvlog.MaxListed; UnparsedTotal counts all):
	// they may hide a failure. Damaged likewise lists the records that were
	// recovered in part.
	Unparsed      []LogRecord `json:"unparsed,omitempty"`
	UnparsedTotal int         `json:"unparsed_total"`
	Damaged       []LogRecord `json:"damaged,omitempty"`
	DamagedTotal  int         `json:"damaged_total"`
	// Stderr is tikv_stderr.log beside tikv.log (TiUP's run_tikv.sh sends
	// stderr there); nil when it could not be read (see Store.Errors).
	Stderr *StderrFacts `json:"stderr"`
}

// LogRecord is one damaged or unparsed log record, for listing.
type LogRecord struct {
	// Line is its first line number in the part read (1-based), Lines how
	// many physical lines it spans.
	Line  int    `json:"line"`
	Lines int    `json:"lines"`
	Class string `json:"class"`
	Level string `json:"level,omitempty"`
	// Problem says what is damaged; Text is the record's start (at most
	// maxRecordText bytes).
	Problem string `json:"problem,omitempty"`
	Text    string `json:"text"`
}

// StderrFacts is what tikv_stderr.log says: panics and fatal errors
// printed before TiKV's logger exists (a bad tikv.toml) or after its panic
// hook replaced the logger.
type StderrFacts struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Size   int64  `json:"size"`
	// BytesRead is how much of its end was read; ModTime its modification time.
	BytesRead int64      `json:"bytes_read"`
	ModTime   *time.Time `json:"mod_time,omitempty"`
	// Failure is the last FATAL record or Rust panic in the read part.
	Failure *LogEvent `json:"failure,omitempty"`
	// Current is true when the failure is newer than the last start in
	// tikv.log (the file changed after it); false when older or unknown,
	// CurrentKnown false when the two could not be placed in time.
	Current      bool `json:"current"`
	CurrentKnown bool `json:"current_known"`
	// Unparsed lists records without a level (at most tikvlog.MaxListed).
	Unparsed      []LogRecord `json:"unparsed,omitempty"`
	UnparsedTotal int         `json:"unparsed_total"`
}

// LogEvent is one encryption log line.
type LogEvent struct {
	Time    *time.Time `json:"time,omitempty"`
	Level   string     `json:"level"`
	Name    string     `json:"name"` // the catalogue name, e.g. "enabled", "encryption-init-failed"
	Message string     `json:"message"`
	Method  string     `json:"method,omitempty"`
	Error   string     `json:"error,omitempty"`
	Code    string     `json:"code,omitempty"`
	// Line is the record's line number; Damaged says why it was not whole
	// ("" for a whole record).
	Line    int    `json:"line,omitempty"`
	Damaged string `json:"damaged,omitempty"`
}

// Coverage is what the data files on disk prove: each SST's trailer and each
// Raft Engine file's header, read on the host.
type Coverage struct {
	Dirs []string `json:"dirs"`
	// Encrypted and Plaintext count files and bytes.
	Encrypted Tally `json:"encrypted"`
	Plaintext Tally `json:"plaintext"`
	// FilesPercent and BytesPercent are the encrypted shares (0 when nothing was proved).
	FilesPercent float64 `json:"files_percent"`
	BytesPercent float64 `json:"bytes_percent"`
	// Skipped files were too short, recycled or vanished while reading.
	Skipped int `json:"skipped"`
	// Mismatches counts files whose on-disk state disagrees with file.dict.
	Mismatches int `json:"mismatches"`
}

// Tally counts files and bytes.
type Tally struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// KeyFileFacts describes the master key file on the host (type file only).
// The content is never read.
type KeyFileFacts struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Mode   string `json:"mode,omitempty"` // octal permission bits, e.g. "0400"
	Owner  string `json:"owner,omitempty"`
	Group  string `json:"group,omitempty"`
	Size   int64  `json:"size"`
	FSType string `json:"fs_type,omitempty"` // e.g. "tmpfs", "ext2/ext3", "xfs"
}
