package ui

import (
	"context"
	"slices"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
)

// Driver is everything the wizard asks of the outside world, as small role
// interfaces, one per part of the flow. Package wizard implements it over the
// engine (steps.Session); ui/uitest has a scripted fake. Every method is
// called from a tea.Cmd, never from Update, and may block.
type Driver interface {
	ClusterReader
	Planner
	Applier
	Finisher
}

// ClusterReader reads the cluster and the run journal (the Resume and Connect screens).
type ClusterReader interface {
	// Discover reads the cluster: its stores and the findings that block a rollout.
	Discover(ctx context.Context, in ConnectInput) (Discovery, error)
	// Journal returns the unfinished run the journal records, or nil.
	Journal(ctx context.Context) (*Unfinished, error)
	// AbortUnfinished cleans up after an unfinished run (removes the
	// evict-leader schedulers it left, marks the journal) without resuming it.
	AbortUnfinished(ctx context.Context, u Unfinished) error
}

// Planner turns the operator's choices into a plan (the Algorithm, Backend
// and Plan screens).
type Planner interface {
	// Algorithms describes each data-encryption-method for this cluster.
	Algorithms(ctx context.Context, d Discovery) ([]AlgorithmOption, error)
	// Backends describes the master-key backends for the environment.
	Backends(ctx context.Context, d Discovery, env string) ([]BackendOption, error)
	// Preflight runs the read-only checks for the choices.
	Preflight(ctx context.Context, choice Choices) ([]steps.Check, error)
	// BuildPlan turns the choices into a plan, its batches and per-node diffs.
	BuildPlan(ctx context.Context, choice Choices) (PlanPreview, error)
	// SavePlan writes the plan as plan.toml at path.
	SavePlan(ctx context.Context, p PlanPreview, path string) error
}

// Applier runs a plan (the Dashboard).
type Applier interface {
	// Apply runs the plan, emitting events into sink and asking decider at
	// every decision. It returns when the run ends or ctx is cancelled (the
	// engine cleans up on every exit path).
	Apply(ctx context.Context, p PlanPreview, sink steps.Sink, decider steps.Decider) (*steps.Result, error)
}

// Finisher proves and records a finished run (the Verify, Schedule and Report screens).
type Finisher interface {
	// Verify gathers per-store evidence after a run.
	Verify(ctx context.Context, p PlanPreview) ([]StoreEvidence, error)
	// ScheduleOptions lists the ways to keep the master key rotating.
	ScheduleOptions(ctx context.Context, p PlanPreview) ([]ScheduleOption, error)
	// WriteReport writes the signed report and returns where it went.
	WriteReport(ctx context.Context, r *steps.Result, p PlanPreview) (ReportFiles, error)
}

// LeaderCounter is an optional Driver method: a fresh reading of every
// store's leader count. During a rollout the dashboard polls it (every
// Options.LeaderPoll) so LEADERS shows leaders returning after a store's
// release, which the engine reports only as a threshold. A Driver that cannot
// read them returns an error wrapping errors.ErrUnsupported, and polling stops.
type LeaderCounter interface {
	LeaderCounts(ctx context.Context) (map[uint64]int, error)
}

// Pauser is implemented by anything that can hold the engine at a safe point.
// StepGate is the wizard's own; the dashboard's "p" key calls it.
type Pauser interface {
	Pause()
	Resume()
}

// ConnectInput is how to reach the cluster, as the Connect screen collects it.
type ConnectInput struct {
	Environment string   // steps.EnvProduction, EnvStaging or EnvDev
	PD          []string // PD endpoints; empty when TiUPName is set
	TiUPName    string   // a TiUP cluster name (its meta.yaml gives PD and hosts)
	SSHUser     string
	Identity    string // private key file; ssh-agent when empty
	KnownHosts  string
	SSHConfig   string
}

// Discovery is what Discover learned.
type Discovery struct {
	ClusterID   uint64
	ClusterName string
	PD          []string
	Stores      []StoreRow
	// Findings are problems found while discovering; those with Status
	// steps.Fail block the rollout.
	Findings []steps.Check
}

// Blocking returns the findings that stop the wizard from going on.
func (d Discovery) Blocking() []steps.Check { return steps.Blocking(d.Findings) }

// StoreRow is one TiKV store as the Connect screen shows it.
type StoreRow struct {
	ID         uint64
	Address    string
	Host       string
	Zone       string
	Version    string
	State      string // PD's state_name: Up, Offline, Disconnected, Down, Tombstone
	Leaders    int
	Regions    int
	Encryption string // the running data-encryption-method, "plaintext" when off
	MasterKey  string // "file", "kms (aws)", ... or "" when none
}

// AlgorithmOption is one data-encryption-method with what it means here.
type AlgorithmOption struct {
	Method      string // tikv.MethodAES256CTR etc.
	Summary     string // what it means on this cluster
	Gates       []Gate // per store: can it run the method
	AESNI       []HostFlag
	Speed       Throughput // AES-CTR throughput sampled on the machine running tikv-ear; no samples when not measured
	Compliance  string     // e.g. "FIPS 140-3 approved cipher" — as the driver states it
	Recommended bool
	Disabled    bool
	Reason      string // why it is disabled
}

// Throughput is a cipher's speed sampled on the machine running tikv-ear:
// several samples, so the screen shows their median and spread rather than
// one figure. It compares the methods on one machine at one moment; it is not
// what a TiKV host will reach (its CPU, AES-NI and load differ).
type Throughput struct {
	Samples []float64 // MB/s, in the order taken
	Bytes   int       // bytes encrypted per sample
	Machine string    // where: CPU model, cores, GOARCH
}

// Measured reports whether there are samples.
func (t Throughput) Measured() bool { return len(t.Samples) > 0 }

// Median is the middle sample (the mean of the two middle ones).
func (t Throughput) Median() float64 {
	if len(t.Samples) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(t.Samples))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Range is the lowest and highest sample.
func (t Throughput) Range() (lo, hi float64) {
	if len(t.Samples) == 0 {
		return 0, 0
	}
	return slices.Min(t.Samples), slices.Max(t.Samples)
}

// Spread is the range as a share of the median: 0.1 means the samples lie
// within 10% of it.
func (t Throughput) Spread() float64 {
	med := t.Median()
	if med <= 0 {
		return 0
	}
	lo, hi := t.Range()
	return (hi - lo) / med
}

// Noisy reports whether the samples disagree too much to be read as a
// figure: their range is more than a quarter of their median.
func (t Throughput) Noisy() bool { return t.Spread() > 0.25 }

// Gate is whether one store can use an option, and why not.
type Gate struct {
	StoreID uint64
	OK      bool
	Reason  string
}

// HostFlag is a yes/no fact about one host (AES-NI present).
type HostFlag struct {
	Host  string
	Value bool
	Known bool
}

// BackendOption is one master-key backend.
type BackendOption struct {
	Name     string // file | aws | gcp | azure | vault
	Title    string
	Summary  string
	Fields   []BackendField
	Disabled bool
	Reason   string // why it is disabled (a file key in production)
}

// BackendField is one setting of a backend. It never carries key material:
// only identifiers, paths and URLs.
type BackendField struct {
	Key         string // the plan key it fills, e.g. "key-id"
	Label       string
	Help        string
	Value       string // pre-filled value
	Placeholder string
	Required    bool
	Pattern     string // a regular expression the value must match, when set
	PatternHelp string // what the pattern means, shown when it does not match
	// Format is a check beyond Pattern (kms/core Format*: url, https, yesno, abspath).
	Format string
	// OneOf names a group of fields of which at least one must be set.
	OneOf string
	// Secret marks a path to a file holding a secret: the form asks for the
	// path, never the secret.
	Secret bool
	// Advanced fields are asked last, in their own group.
	Advanced bool
}

// Choices is everything the operator chose.
type Choices struct {
	Connect         ConnectInput
	Discovery       Discovery
	Method          string
	DataKeyRotation string // ReadableDuration, e.g. "7d"
	Backend         string
	BackendFields   map[string]string
	// Signer is the report signer (file, vault or aws) and SignerKey the key
	// it names (Vault transit key, AWS KMS key id); "" for the file signer.
	Signer, SignerKey string
	Rotate            bool // a master-key rotation rather than a first enable
	Incident          bool // an emergency rotation after a suspected key compromise
}

// PlanPreview is a built plan with what it will do.
type PlanPreview struct {
	Plan     *steps.Plan
	Batches  steps.BatchPlan
	Diffs    []NodeDiff
	Schedule *ScheduleOption // the rotation schedule chosen after the run
	// Rotation is set for a master-key rotation: what it will do, in order.
	Rotation *RotationPreview
	// Checks are read-only preflight findings made while building the
	// preview (the rotation flow has no backend screen to show them on).
	Checks []steps.Check
}

// RotationPreview is what a master-key rotation will do, shown before
// anything changes: the new generation does not exist yet.
type RotationPreview struct {
	Backend string // the key backend, e.g. "aws"
	// Current is the generation TiKV uses now (its master-key), Next the one
	// the rotation makes master-key, both as the operator reads them.
	Current, Next string
	// Continuing is set when the plan already names a previous-master-key:
	// an interrupted rotation goes on with the generations it made.
	Continuing bool
	// Steps is what happens, in order (new generation, pass 1, pass 2, revocation).
	Steps []string
	// Revoke is set when the old generation is revoked at the end, after the
	// operator confirms it on the dashboard (incident, or --retire-old).
	Revoke   bool
	Incident bool
}

// NodeDiff is the unified diff of one node's tikv.toml.
type NodeDiff struct {
	StoreID uint64
	Host    string
	Path    string
	Unified string
}

// StoreEvidence is what verification found on one store.
type StoreEvidence struct {
	StoreID     uint64
	Address     string
	Method      string // running data-encryption-method
	MasterKey   string
	KeyDict     string // key.dict metadata method, "" when absent
	Initialized bool   // tikv_encryption_is_initialized
	FileNum     int64  // tikv_encryption_file_num
	DataKeys    int64  // tikv_encryption_data_key_storage_total
	LogLines    []string
	Encrypted   int // data files found encrypted on disk
	Plaintext   int // data files still plaintext (compaction rewrites them)
	OK          bool
	Problems    []string
}

// Coverage is the share of data files already encrypted, 0..1.
func (e StoreEvidence) Coverage() float64 {
	total := e.Encrypted + e.Plaintext
	if total == 0 {
		return 0
	}
	return float64(e.Encrypted) / float64(total)
}

// ScheduleOption is one way to keep the master key rotating.
type ScheduleOption struct {
	ID        string // e.g. "systemd", "cron", "cronjob", "aws-auto"
	Title     string
	Period    string // e.g. "365d"
	Artefact  string // path of the file to install, or "" for KMS-native
	Install   string // how to install it
	KMSNative bool
	Notes     string
}

// ReportFiles says where the report went.
type ReportFiles struct {
	JSON          string
	HTML          string
	Bundle        string
	VerifyCommand string
	// Summary is the run's end in a few facts, computed by the engine
	// (steps.Session.Summary, as the headless output prints it), laid out
	// on the Report screen; nil when the driver has none.
	Summary *steps.RunSummary
}

// Unfinished is a run the journal shows was not finished.
type Unfinished struct {
	Run      string
	Kind     string
	Started  time.Time
	LastStep string
	Done     int // stores the run verified on its target
	Total    int
	// Unverified are stores the run restarted and never verified: they run
	// its new config unproven, or are still starting with it.
	Unverified []uint64
	Evicted    []uint64 // stores still under an evict-leader scheduler of the run
	Preview    PlanPreview
}
