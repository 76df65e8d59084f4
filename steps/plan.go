package steps

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
)

// PlanSchema is the version of the plan.toml schema this build reads and writes (docs/plan.md).
const PlanSchema = 1

// Environments a plan can target. A file master key is refused for production.
const (
	EnvProduction = "production"
	EnvStaging    = "staging"
	EnvDev        = "dev"
)

// Batching strategies.
const (
	BatchSerial = "serial"
	BatchZone   = "zone"
)

// Policies for decisions the runner meets.
const (
	OnEvictWait         = "wait"
	OnEvictSkipEviction = "skip-eviction"
	OnEvictAbort        = "abort"
	OnVerifyAbort       = "abort"
	OnVerifyRollback    = "rollback"
)

// Duration is a time.Duration that reads and writes as a Go duration string in TOML ("90s", "2m").
type Duration struct{ time.Duration }

// MarshalText renders the duration as "1m30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (use e.g. \"90s\", \"5m\")", string(b))
	}
	d.Duration = v
	return nil
}

// D builds a Duration.
func D(d time.Duration) Duration { return Duration{d} }

// Plan is everything a rollout needs, written to plan.toml by `tikv-ear plan`
// and read by `apply`, `rotate`, `disable` and the wizard.
type Plan struct {
	Schema      int             `toml:"schema" comment:"plan.toml schema version"`
	Environment string          `toml:"environment" comment:"production | staging | dev (a file master key is refused for production)"`
	Cluster     ClusterSection  `toml:"cluster"`
	Target      Target          `toml:"target"`
	Strategy    Strategy        `toml:"strategy"`
	Policies    Policies        `toml:"policies"`
	Report      ReportSection   `toml:"report"`
	Schedule    ScheduleSection `toml:"schedule"`
	Nodes       []NodePlan      `toml:"nodes"`
}

// ClusterSection says how to reach the cluster.
type ClusterSection struct {
	PD         []string `toml:"pd" comment:"PD endpoints; any member works"`
	ClusterID  uint64   `toml:"cluster-id,omitempty" comment:"PD cluster id, checked before every run"`
	Name       string   `toml:"name,omitempty" comment:"TiUP cluster name, when TiUP-managed"`
	MetaYAML   string   `toml:"meta-yaml,omitempty" comment:"TiUP meta.yaml kept in sync with the encryption keys"`
	CA         string   `toml:"ca,omitempty"`
	Cert       string   `toml:"cert,omitempty"`
	Key        string   `toml:"key,omitempty"`
	SSHConfig  string   `toml:"ssh-config,omitempty" comment:"ssh_config file (Host, HostName, Port, User, IdentityFile, UserKnownHostsFile)"`
	KnownHosts string   `toml:"known-hosts,omitempty"`
	Identity   string   `toml:"identity,omitempty" comment:"private key file for SSH (ssh-agent is used when empty)"`
	SSHUser    string   `toml:"ssh-user,omitempty"`
	Sudo       bool     `toml:"sudo,omitempty"`
	TiKVUser   string   `toml:"tikv-user,omitempty" comment:"owner of key files on the TiKV hosts"`
}

// Target is the encryption state the rollout reaches.
type Target struct {
	Method                string `toml:"method" comment:"aes128-ctr | aes192-ctr | aes256-ctr | sm4-ctr | plaintext"`
	DataKeyRotationPeriod string `toml:"data-key-rotation-period" comment:"TiKV's own data-key rotation (ReadableDuration, e.g. 7d)"`
	// Key is the key backend and its settings (secrets only as file paths).
	Key kms.Spec `toml:"key"`
	// MasterKey is the key generation TiKV's master-key names (never the key itself).
	MasterKey kms.KeyRef `toml:"master-key"`
	// PreviousMasterKey is set during a master-key rotation: TiKV falls back to it
	// to re-encrypt key.dict with the new key.
	PreviousMasterKey *kms.KeyRef `toml:"previous-master-key,omitempty"`
}

// Strategy sets batching, canaries, timeouts and poll intervals.
type Strategy struct {
	Canary         int      `toml:"canary" comment:"stores restarted alone, first"`
	Batching       string   `toml:"batching" comment:"serial | zone (zone only where PD's regions prove it safe)"`
	EvictTimeout   Duration `toml:"evict-timeout"`
	EvictPoll      Duration `toml:"evict-poll"`
	RestartTimeout Duration `toml:"restart-timeout"`
	ReadyTimeout   Duration `toml:"ready-timeout"`
	ReadyPoll      Duration `toml:"ready-poll"`
	VerifyTimeout  Duration `toml:"verify-timeout"`
	SettleTimeout  Duration `toml:"settle-timeout"`
	SettlePoll     Duration `toml:"settle-poll"`
	// LeaderReturn is the share of pre-restart leaders that must be back before the next batch (TiUP: 2/3).
	LeaderReturnPercent int `toml:"leader-return-percent"`
	// RaiseLeaderScheduleLimit raises PD's leader-schedule-limit by 32 (at most 64)
	// for the run, as TiUP's increaseScheduleLimit means to, so leaders move back
	// faster; the original value is journaled and restored on every exit path.
	RaiseLeaderScheduleLimit bool `toml:"raise-leader-schedule-limit"`
}

// Policies decide what headless runs do where the wizard would ask.
type Policies struct {
	OnEvictTimeout  string `toml:"on-evict-timeout" comment:"wait | skip-eviction | abort"`
	OnVerifyFailure string `toml:"on-verify-failure" comment:"abort | rollback"`
}

// ReportSection says where and how the signed report is written.
type ReportSection struct {
	Dir     string `toml:"dir"`
	Signer  string `toml:"signer" comment:"file | vault | aws"`
	KeyFile string `toml:"key-file,omitempty" comment:"signing key (tikv-ear keygen)"`
	// Vault is the transit key that signs when signer = "vault".
	Vault *report.VaultSignerConfig `toml:"vault,omitempty"`
	// AWS is the KMS key that signs when signer = "aws".
	AWS *report.AWSSignerConfig `toml:"aws,omitempty"`
}

// ScheduleSection is the key-rotation policy and how scheduled rotations run
// (tikv-ear schedule install; docs/plan.md).
type ScheduleSection struct {
	MasterKeyRotation string `toml:"master-key-rotation" comment:"master-key rotation period in whole days, e.g. 365d"`
	// SigningKeyRotation is the report signing key's period (NIST SP 800-57 Pt1: 1–3 years); default 730d.
	SigningKeyRotation string `toml:"signing-key-rotation,omitempty" comment:"report signing-key period in whole days (default 730d)"`
	// Runner is the scheduler the rotation was installed with: systemd, cron or kubernetes ("" = manual).
	Runner string `toml:"runner,omitempty" comment:"systemd | cron | kubernetes (set by 'tikv-ear schedule install'; empty = manual)"`
	// ReportDir is where scheduled rotations write their signed reports (default: [report] dir).
	ReportDir string `toml:"report-dir,omitempty" comment:"signed reports of scheduled rotations (default: [report] dir)"`
}

// NodePlan is one TiKV store and how to reach it.
type NodePlan struct {
	StoreID        uint64 `toml:"store-id"`
	Address        string `toml:"address"`
	StatusAddress  string `toml:"status-address"`
	Zone           string `toml:"zone,omitempty"`
	Version        string `toml:"version"`
	Host           string `toml:"host" comment:"ssh target (a Host of the ssh_config, or an address)"`
	SSHPort        int    `toml:"ssh-port,omitempty"`
	SSHUser        string `toml:"ssh-user,omitempty"`
	ConfigPath     string `toml:"config-path"`
	DataDir        string `toml:"data-dir"`
	LogFile        string `toml:"log-file"`
	Service        string `toml:"service,omitempty"`
	RestartCommand string `toml:"restart-command,omitempty"`
	Port           int    `toml:"port"`
	TiUPManaged    bool   `toml:"tiup-managed"`
	RaftEngine     bool   `toml:"raft-engine"`
}

// DefaultStrategy returns production-safe defaults (TiUP: --transfer-timeout 600s, --wait-timeout 120s).
func DefaultStrategy() Strategy {
	return Strategy{
		Canary: 1, Batching: BatchSerial,
		EvictTimeout: D(10 * time.Minute), EvictPoll: D(2 * time.Second),
		RestartTimeout: D(2 * time.Minute),
		ReadyTimeout:   D(5 * time.Minute), ReadyPoll: D(time.Second),
		VerifyTimeout: D(2 * time.Minute),
		SettleTimeout: D(10 * time.Minute), SettlePoll: D(2 * time.Second),
		LeaderReturnPercent: 66, RaiseLeaderScheduleLimit: true,
	}
}

// DefaultPolicies returns the safe defaults: wait on eviction timeout would block
// unattended runs forever, so headless default is abort; verification failures roll back.
func DefaultPolicies() Policies {
	return Policies{OnEvictTimeout: OnEvictAbort, OnVerifyFailure: OnVerifyRollback}
}

// PlanError is a problem in plan.toml, with where and how to fix it.
type PlanError struct {
	File string
	Key  string
	Msg  string
	Fix  string
}

func (e *PlanError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Hint returns the fix.
func (e *PlanError) Hint() string { return e.Fix }

// LoadPlan reads and validates plan.toml.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &PlanError{File: path, Msg: fmt.Sprintf("cannot read the plan: %v", err), Fix: "create one with 'tikv-ear plan'"}
	}
	return ParsePlan(path, data)
}

// ParsePlan decodes and validates plan bytes; path is only used in errors.
func ParsePlan(path string, data []byte) (*Plan, error) {
	var p Plan
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, unknownKeys(path, sm)
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, &PlanError{File: fmt.Sprintf("%s:%d:%d", path, row, col), Msg: de.Error(), Fix: "fix the TOML syntax at that line"}
		}
		return nil, &PlanError{File: path, Msg: err.Error()}
	}
	if err := p.Validate(path); err != nil {
		return nil, err
	}
	return &p, nil
}

// unknownKeys names every key of the plan the schema does not know, with its
// line, e.g. "unknown key cluster.pd-endpoint (line 4)".
func unknownKeys(path string, sm *toml.StrictMissingError) *PlanError {
	var names []string
	first := ""
	for _, de := range sm.Errors {
		k := strings.Join(de.Key(), ".")
		row, _ := de.Position()
		names = append(names, fmt.Sprintf("%s (line %d)", k, row))
		if first == "" {
			first = k
		}
	}
	word := "key"
	if len(names) > 1 {
		word = "keys"
	}
	return &PlanError{File: path, Key: first, Msg: fmt.Sprintf("unknown %s %s", word, strings.Join(names, ", ")),
		Fix: "remove or rename the unknown key (docs/plan.md lists every key)"}
}

// Validate checks the plan for values that would be unsafe or that TiKV rejects.
func (p *Plan) Validate(path string) error {
	bad := func(key, msg, fix string) error { return &PlanError{File: path, Key: key, Msg: msg, Fix: fix} }
	if p.Schema != PlanSchema {
		return bad("schema", fmt.Sprintf("schema %d is not supported (this tikv-ear reads %d)", p.Schema, PlanSchema), "re-create the plan with this version's 'tikv-ear plan'")
	}
	if !slices.Contains([]string{EnvProduction, EnvStaging, EnvDev}, p.Environment) {
		return bad("environment", fmt.Sprintf("%q is not an environment", p.Environment), "use production, staging or dev")
	}
	if len(p.Cluster.PD) == 0 {
		return bad("cluster.pd", "no PD endpoint", "set cluster.pd = [\"http://pd-host:2379\"]")
	}
	if !slices.Contains(tikv.Methods(), p.Target.Method) {
		return bad("target.method", fmt.Sprintf("%q is not a TiKV data-encryption-method", p.Target.Method), "use one of "+strings.Join(tikv.Methods(), ", "))
	}
	if p.Target.Key.Backend == "file" && p.Environment == EnvProduction {
		return bad("target.key.backend", "a file master key is refused for a production plan: the key would rest on the TiKV hosts with no custodian, rotation record or revocation",
			"use a KMS backend (aws, gcp, azure) or vault, or set environment = \"staging\" for a non-production cluster")
	}
	if !slices.Contains([]string{"file", "aws", "gcp", "azure", "vault"}, p.Target.Key.Backend) {
		return bad("target.key.backend", fmt.Sprintf("%q is not a key backend", p.Target.Key.Backend), "use file, aws, gcp, azure or vault")
	}
	if p.Target.MasterKey.ID == "" && p.Target.MasterKey.Backend != "" {
		return bad("target.master-key.id", "the key generation has no id", "re-create the plan with 'tikv-ear plan'")
	}
	if err := p.Report.validate(bad); err != nil {
		return err
	}
	if !slices.Contains([]string{BatchSerial, BatchZone}, p.Strategy.Batching) {
		return bad("strategy.batching", fmt.Sprintf("%q is not a batching strategy", p.Strategy.Batching), "use serial or zone")
	}
	if p.Strategy.Canary < 0 {
		return bad("strategy.canary", "must not be negative", "use 0 or more")
	}
	for key, d := range map[string]Duration{
		"strategy.evict-timeout": p.Strategy.EvictTimeout, "strategy.evict-poll": p.Strategy.EvictPoll,
		"strategy.ready-timeout": p.Strategy.ReadyTimeout, "strategy.ready-poll": p.Strategy.ReadyPoll,
		"strategy.settle-timeout": p.Strategy.SettleTimeout, "strategy.settle-poll": p.Strategy.SettlePoll,
		"strategy.verify-timeout": p.Strategy.VerifyTimeout, "strategy.restart-timeout": p.Strategy.RestartTimeout,
	} {
		if d.Duration <= 0 {
			return bad(key, "must be a positive duration", "e.g. \"2s\" for polls, \"10m\" for timeouts")
		}
	}
	if !slices.Contains([]string{OnEvictWait, OnEvictSkipEviction, OnEvictAbort}, p.Policies.OnEvictTimeout) {
		return bad("policies.on-evict-timeout", fmt.Sprintf("%q is not a policy", p.Policies.OnEvictTimeout), "use wait, skip-eviction or abort")
	}
	if !slices.Contains([]string{OnVerifyAbort, OnVerifyRollback}, p.Policies.OnVerifyFailure) {
		return bad("policies.on-verify-failure", fmt.Sprintf("%q is not a policy", p.Policies.OnVerifyFailure), "use abort or rollback")
	}
	if len(p.Nodes) == 0 {
		return bad("nodes", "no TiKV node", "build the plan with 'tikv-ear plan', which reads the stores from PD")
	}
	seen := map[uint64]bool{}
	for i, n := range p.Nodes {
		key := fmt.Sprintf("nodes[%d]", i)
		if n.StoreID == 0 || seen[n.StoreID] {
			return bad(key+".store-id", "missing or duplicate store id", "each node needs the PD store id it runs")
		}
		seen[n.StoreID] = true
		if n.ConfigPath == "" || n.Host == "" {
			return bad(key, "needs host and config-path", "re-create the plan, or add them from your inventory")
		}
		if n.Service == "" && n.RestartCommand == "" {
			return bad(key, "needs service or restart-command", "TiUP deployments use tikv-<port>.service")
		}
	}
	return nil
}

// Encode renders the plan as TOML with comments.
func (p *Plan) Encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# tikv-ear plan — see docs/plan.md. Nothing on any host changes until 'tikv-ear apply'.\n")
	enc := toml.NewEncoder(&buf).SetIndentTables(true)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encoding plan: %w", err)
	}
	return buf.Bytes(), nil
}

// Digest is the sha256 of the encoded plan, recorded in the journal and the report.
func (p *Plan) Digest() string {
	b, err := p.Encode()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Node returns the node with the store id.
func (p *Plan) Node(id uint64) (NodePlan, bool) {
	for _, n := range p.Nodes {
		if n.StoreID == id {
			return n, true
		}
	}
	return NodePlan{}, false
}
