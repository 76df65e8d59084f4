package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/steps"
)

// KeyFlags choose the key backend. Everything a backend takes can also come
// from a TOML file with a [key] table (--key-config); secrets only ever by path.
type KeyFlags struct {
	Backend        string `name:"backend" enum:"file,aws,vault,gcp,azure" default:"file" help:"Master-key backend: file (dev/staging only), aws, vault, gcp, azure."`
	KeyConfig      string `name:"key-config" type:"path" help:"TOML file with a [key] table (kms.Spec) for every backend setting."`
	KeyDir         string `name:"key-dir" type:"path" help:"file: private directory on this machine that keeps generated keys."`
	HostKeyDir     string `name:"host-key-dir" help:"file, vault: directory on the TiKV hosts for key files (tmpfs; default /run/tikv-keys)."`
	KeyOwner       string `name:"key-owner" help:"file, vault: owner of key files on the hosts (the TiKV user)."`
	AWSKeyID       string `name:"aws-key-id" help:"aws: CMK key id, ARN or alias/NAME."`
	AWSRegion      string `name:"aws-region" help:"aws: KMS region."`
	AWSEndpoint    string `name:"aws-endpoint" help:"aws: KMS endpoint (e.g. a VPC endpoint), rendered for TiKV too."`
	AWSCredsFile   string `name:"aws-credentials-file" type:"path" help:"aws: shared-credentials file for this tool (default chain otherwise)."`
	VaultCluster   string `name:"vault-cluster" help:"vault: cluster name in the default KEK and KV paths."`
	VaultAddr      string `name:"vault-addr" help:"vault: address (default VAULT_ADDR)."`
	VaultTokenFile string `name:"vault-token-file" type:"path" help:"vault: file holding the token (default VAULT_TOKEN)."`
}

// Spec builds the kms.Spec from the flags.
func (k KeyFlags) Spec() (kms.Spec, error) {
	var spec kms.Spec
	if k.KeyConfig != "" {
		data, err := os.ReadFile(k.KeyConfig)
		if err != nil {
			return spec, Usagef("", "reading --key-config: %v", err)
		}
		var wrap struct {
			Key kms.Spec `toml:"key"`
		}
		dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
		if err := dec.Decode(&wrap); err != nil {
			var de *toml.DecodeError
			if errors.As(err, &de) {
				row, col := de.Position()
				return spec, Usagef("see docs/backend-*.md for the [key] table", "%s:%d:%d: %v", k.KeyConfig, row, col, err)
			}
			return spec, Usagef("see docs/backend-*.md for the [key] table", "%s: %v", k.KeyConfig, err)
		}
		return wrap.Key, nil
	}
	spec.Backend = k.Backend
	switch k.Backend {
	case "file":
		spec.File = &filekey.Config{KeyDir: k.KeyDir, HostKeyDir: k.HostKeyDir, Owner: k.KeyOwner}
	case "aws":
		if k.AWSKeyID == "" {
			return spec, Usagef("e.g. --aws-key-id alias/tikv-master --aws-region us-west-2", "--backend aws needs --aws-key-id")
		}
		spec.AWS = &awskms.Config{KeyID: k.AWSKeyID, Region: k.AWSRegion, Endpoint: k.AWSEndpoint, CredentialsFile: k.AWSCredsFile}
	case "vault":
		spec.Vault = &vault.Config{Cluster: k.VaultCluster, Address: k.VaultAddr, TokenFile: k.VaultTokenFile, HostKeyDir: k.HostKeyDir, Owner: k.KeyOwner}
	default:
		return spec, Usagef("write the [key."+k.Backend+"] table in a file and pass --key-config (see docs/backend-"+k.Backend+".md)", "--backend %s takes its settings from --key-config", k.Backend)
	}
	return spec, nil
}

// StrategyFlags set batching, timeouts and policies.
type StrategyFlags struct {
	Batching        string        `name:"batching" enum:"serial,zone" default:"zone" help:"serial, or zone (a whole zone at once where PD's regions prove it safe)."`
	Canary          int           `name:"canary" default:"1" help:"Stores restarted alone first."`
	EvictTimeout    time.Duration `name:"evict-timeout" default:"10m" help:"Leader eviction timeout."`
	ReadyTimeout    time.Duration `name:"ready-timeout" default:"5m" help:"Time for a restarted store to be ready."`
	Poll            time.Duration `name:"poll" default:"2s" help:"Poll interval for eviction, readiness and settling."`
	SettleTimeout   time.Duration `name:"settle-timeout" default:"10m" help:"Time for leaders and regions to settle between batches."`
	RaiseLimit      bool          `name:"raise-leader-schedule-limit" default:"true" negatable:"" help:"Raise PD's leader-schedule-limit by 32 (at most 64) during the run so leaders return faster; restored on every exit path."`
	OnEvictTimeout  string        `name:"on-evict-timeout" enum:"wait,skip-eviction,abort" default:"abort" help:"Policy when eviction times out: wait (another timeout), skip-eviction (restart anyway) or abort."`
	OnVerifyFailure string        `name:"on-verify-failure" enum:"abort,rollback" default:"rollback" help:"Policy when a store fails verification: rollback (restore its config) or abort."`
}

// Strategy converts the flags.
func (f StrategyFlags) Strategy() (steps.Strategy, steps.Policies) {
	s := steps.DefaultStrategy()
	s.Batching, s.Canary = f.Batching, f.Canary
	s.RaiseLeaderScheduleLimit = f.RaiseLimit
	s.EvictTimeout, s.ReadyTimeout, s.SettleTimeout = steps.D(f.EvictTimeout), steps.D(f.ReadyTimeout), steps.D(f.SettleTimeout)
	s.EvictPoll, s.ReadyPoll, s.SettlePoll = steps.D(f.Poll), steps.D(max(f.Poll/2, 10*time.Millisecond)), steps.D(f.Poll)
	return s, steps.Policies{OnEvictTimeout: f.OnEvictTimeout, OnVerifyFailure: f.OnVerifyFailure}
}

// PlanCmd builds plan.toml: it reads the cluster, prepares the key generation,
// runs preflight, prints the batches and each node's diff. No host changes.
type PlanCmd struct {
	ConnectFlags   `embed:""`
	KeyFlags       `embed:""`
	StrategyFlags  `embed:""`
	Environment    string `name:"env" enum:"production,staging,dev" default:"production" help:"production, staging or dev (a file key is refused for production)."`
	Method         string `name:"method" enum:"aes128-ctr,aes192-ctr,aes256-ctr,sm4-ctr" default:"aes256-ctr" help:"Data encryption method: ${enum}."`
	RotationPeriod string `name:"data-key-rotation-period" default:"7d" help:"TiKV's data-key rotation period (d, h, m, s)."`
	ReportDir      string `name:"report-dir" default:"tikv-ear-reports" help:"Where apply writes the signed report."`
	ReportKey      string `name:"report-key" type:"path" help:"Report signing key (tikv-ear keygen); generated beside the report when empty."`
	Out            string `name:"out-file" default:"plan.toml" type:"path" help:"Plan file to write."`
	OutOld         string `name:"out" hidden:"" type:"path" help:"Deprecated spelling of --out-file."`
	Output         string `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`
}

// Run builds and writes the plan.
func (c *PlanCmd) Run(g *Globals) error {
	deprecatedFlag(g, "--out", "--out-file", c.OutOld, &c.Out)
	spec, err := c.KeyFlags.Spec()
	if err != nil {
		return err
	}
	s, err := c.ConnectFlags.Connect(g.Ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	strategy, policies := c.StrategyFlags.Strategy()
	fmt.Fprintf(g.IO.Err, "tikv-ear: reading %d stores and running preflight (nothing on any host changes)\n", len(s.Inventory.Nodes))
	planned, err := steps.BuildPlan(g.Ctx, s, steps.PlanRequest{
		Environment: c.Environment, Method: c.Method, RotationPeriod: c.RotationPeriod, Key: spec,
		Strategy: strategy, Policies: policies, ReportDir: c.ReportDir, ReportKey: c.ReportKey, Rotation: "365d",
	})
	if err != nil {
		return err
	}
	if c.Output == "json" {
		if err := writeJSON(g.IO.Out, planned); err != nil {
			return err
		}
	} else {
		printPlanned(g.IO.Out, planned)
	}
	if blocking := steps.Blocking(planned.Checks); len(blocking) > 0 {
		return &Error{Msg: fmt.Sprintf("preflight failed: %d blocking finding(s); %s was not written", len(blocking), c.Out),
			Hints: []string{blocking[0].Fix}, Code: ExitFailure}
	}
	data, err := planned.Plan.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Out, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", c.Out, err)
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: wrote %s; nothing on any host changed. next: tikv-ear apply %s\n", c.Out, c.Out)
	return nil
}

func printChecks(w io.Writer, checks []steps.Check) {
	// One line per check id and verdict: per-store repeats collapse into a store list.
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, g := range steps.GroupChecks(checks) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(g.Check.Status), g.Check.ID, g.Message())
		if g.Check.Fix != "" && g.Check.Status != steps.Pass {
			fmt.Fprintf(tw, "  \t\t  fix: %s\n", g.Check.Fix)
		}
	}
	tw.Flush()
}

func printPlanned(w io.Writer, pl *steps.Planned) {
	p := pl.Plan
	fmt.Fprintf(w, "Plan for cluster %d (%s): %s with a %s master key, environment %s\n\n", p.Cluster.ClusterID, strings.Join(p.Cluster.PD, ","), p.Target.Method, p.Target.Key.Backend, p.Environment)
	fmt.Fprintln(w, "Preflight:")
	printChecks(w, pl.Checks)
	if len(pl.Batches.Batches) > 0 {
		fmt.Fprintf(w, "\nBatches (%s):\n  %s\n", pl.Batches.Strategy, pl.Batches.Reason)
		for _, b := range pl.Batches.Batches {
			kind := ""
			if b.Canary {
				kind = " canary"
			}
			ahead := ""
			if b.EvictAhead {
				ahead = fmt.Sprintf(" (evicts while batch %d restarts)", b.Index-1)
			}
			fmt.Fprintf(w, "  %d.%s zone %s: stores %v%s\n", b.Index, kind, b.Zone, b.Stores, ahead)
		}
	}
	for _, n := range p.Nodes {
		if d := pl.Diffs[n.StoreID]; d != "" {
			fmt.Fprintf(w, "\nstore %d (%s):\n%s", n.StoreID, n.Address, d)
		}
	}
}
