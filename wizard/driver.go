// Package wizard is the wizard's driver: ui.Driver over the engine. It turns
// the operator's answers into connect options, plan requests and
// steps.Session runs, and the engine's results into the screens' models. It
// holds no rollout logic: every run goes through steps.Session, the same code
// path 'tikv-ear apply' and 'tikv-ear rotate' take. It never draws (package ui
// does) and never reads flags (package cli does).
package wizard

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// Config is what the wizard's driver needs besides the operator's answers.
type Config struct {
	// Base holds connection settings the Connect screen does not ask for
	// (a simulated cluster's env, PD TLS files, timeouts); the screen's
	// answers override it.
	Base steps.ConnectOptions
	// PlanPath is where the plan is saved; the journal is PlanPath + ".journal".
	PlanPath  string
	ReportDir string
	ReportKey string
	Strategy  steps.Strategy
	Policies  steps.Policies
	// Rotation is the master-key rotation period written into the plan ("365d").
	Rotation string
	// AWS pre-fills the AWS backend (the demo's local-kms) and offers it first; nil for none.
	AWS *awskms.Config
	// Vault pre-fills the Vault backend (the demo when VAULT_ADDR or BAO_ADDR
	// names a server) and offers it first; nil for none.
	Vault *vault.Config
	// GCP and Azure pre-fill those backends (the demo's in-process key
	// services, as 'tikv-ear sim up --cloud-kms' runs them); nil for none.
	GCP   *gcpkms.Config
	Azure *azurekms.Config
	// Journal overrides the journal path (default PlanPath + ".journal").
	Journal string
	// Incident and Retire shape a rotation (tikv-ear rotate --incident,
	// --retire-old): incident tightens the strategy, and both revoke the old
	// generation at the end once the operator confirms it on the dashboard.
	Incident, Retire bool
}

// Driver is ui.Driver over the real engine: the same session, planner,
// runner, journal and report writer as 'tikv-ear plan' and 'tikv-ear apply'.
type Driver struct {
	cfg Config

	mu        sync.Mutex
	sess      *steps.Cluster // the last Discover's session
	sessKey   string
	planned   *steps.Planned // the last Preflight/BuildPlan, reused while the choices stay the same
	plannedBy string
	saved     string         // the path the plan was last saved to
	run       *steps.Session // the last Apply's session: Verify, WriteReport and LeaderCounts read it
	mbps      map[string]ui.Throughput
	report    *ui.ReportFiles // the last report written
}

var (
	_ ui.Driver        = (*Driver)(nil)
	_ ui.LeaderCounter = (*Driver)(nil)
)

// New returns a driver; zero fields of cfg take the defaults of 'tikv-ear plan'.
func New(cfg Config) *Driver {
	if cfg.PlanPath == "" {
		cfg.PlanPath = "plan.toml"
	}
	if cfg.ReportDir == "" {
		cfg.ReportDir = "tikv-ear-reports"
	}
	if cfg.Strategy.Batching == "" {
		cfg.Strategy = steps.DefaultStrategy()
	}
	if cfg.Policies.OnEvictTimeout == "" {
		cfg.Policies = steps.DefaultPolicies()
	}
	if cfg.Rotation == "" {
		cfg.Rotation = "365d"
	}
	if cfg.Base.Timeout == 0 {
		cfg.Base.Timeout = 10 * time.Second
	}
	if cfg.Base.Concurrency == 0 {
		cfg.Base.Concurrency = 20
	}
	return &Driver{cfg: cfg}
}

// Close releases the SSH connections the driver holds.
func (d *Driver) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != nil {
		d.sess.Close()
		d.sess = nil
	}
	if d.run != nil {
		d.run.Close()
		d.run = nil
	}
}

func (d *Driver) journalPath() string { return steps.JournalPathOf(d.planPath(), d.cfg.Journal) }

func (d *Driver) planPath() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.saved != "" {
		return d.saved
	}
	return d.cfg.PlanPath
}

// connectFlags lays the Connect screen's answers over the base flags.
func (d *Driver) connectFlags(in ui.ConnectInput) steps.ConnectOptions {
	f := d.cfg.Base
	if len(in.PD) > 0 {
		f.PD = slices.Clone(in.PD)
	}
	if in.TiUPName != "" {
		f.TiUPCluster = in.TiUPName
	}
	if in.SSHUser != "" {
		f.SSHUser = in.SSHUser
	}
	if in.Identity != "" {
		f.Identity = []string{in.Identity}
	}
	if in.KnownHosts != "" {
		f.KnownHosts = []string{in.KnownHosts}
	}
	if in.SSHConfig != "" {
		f.SSHConfig = in.SSHConfig
	}
	return f
}

func connectKey(in ui.ConnectInput) string {
	return fmt.Sprintf("%q", []string{strings.Join(in.PD, ","), in.TiUPName, in.SSHUser, in.Identity, in.KnownHosts, in.SSHConfig})
}

// session returns a session for in, reusing the last one for the same input.
func (d *Driver) session(ctx context.Context, in ui.ConnectInput) (*steps.Cluster, error) {
	d.mu.Lock()
	if d.sess != nil && d.sessKey == connectKey(in) {
		s := d.sess
		d.mu.Unlock()
		return s, nil
	}
	d.mu.Unlock()
	s, err := d.connectFlags(in).Connect(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != nil {
		d.sess.Close()
	}
	d.sess, d.sessKey, d.planned = s, connectKey(in), nil
	return s, nil
}

// Discover implements ui.Driver: PD's stores joined with the inventory, each
// store's running encryption, and the findings that block a rollout.
func (d *Driver) Discover(ctx context.Context, in ui.ConnectInput) (ui.Discovery, error) {
	d.mu.Lock()
	if d.sess != nil && d.sessKey == connectKey(in) { // "discover again" reads fresh
		d.sess.Close()
		d.sess = nil
	}
	d.mu.Unlock()
	s, err := d.session(ctx, in)
	if err != nil {
		return ui.Discovery{}, err
	}
	disc := ui.Discovery{ClusterID: s.ClusterID, ClusterName: clusterName(s), PD: s.Flags.PD}
	counts := map[uint64][2]int{}
	for _, st := range s.Stores {
		counts[st.Store.Id] = [2]int{st.Status.LeaderCount, st.Status.RegionCount}
	}
	rows := make([]ui.StoreRow, len(s.Inventory.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.Inventory.Nodes {
		np := steps.NodePlanOf(n, s.Flags.SSHUser)
		rows[i] = ui.StoreRow{ID: n.StoreID, Address: n.Address, Host: n.Host, Zone: n.Labels["zone"], Version: n.Version,
			State: n.StateName, Leaders: counts[n.StoreID][0], Regions: counts[n.StoreID][1], Encryption: "?"}
		if n.StatusAddress == "" || n.StateName != "Up" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := steps.StatusClient(np, s.Flags.Timeout).Config(ctx)
			if err != nil {
				return
			}
			rows[i].Encryption, rows[i].MasterKey = enc.EffectiveMethod(), masterKeyLabel(enc.MasterKey)
		}()
	}
	wg.Wait()
	disc.Stores = rows
	disc.Findings = d.findings(ctx, s)
	return disc, nil
}

// findings are the quick checks that block a rollout before any choice: stores
// not Up, an evict-leader scheduler already present, an unfinished run in the journal.
func (d *Driver) findings(ctx context.Context, s *steps.Cluster) []steps.Check {
	stores := make([]steps.Store, len(s.Inventory.Nodes))
	for i, n := range s.Inventory.Nodes {
		stores[i] = steps.Store{ID: n.StoreID, Address: n.Address, StateName: n.StateName}
	}
	out := []steps.Check{steps.StoresUpCheck(stores)}
	pdc := steps.PDClient{C: s.PD}
	switch ev, err := pdc.EvictLeaderStores(ctx); {
	case err != nil:
		out = append(out, steps.Check{ID: "no-evict-scheduler", Status: steps.Warn, Message: "cannot list PD's schedulers: " + err.Error()})
	case len(ev) > 0:
		out = append(out, steps.Check{ID: "no-evict-scheduler", Status: steps.Fail,
			Message: "an evict-leader scheduler already covers store(s) " + joinIDs(ev) + " (a failed earlier run?)",
			Fix:     "if it is tikv-ear's, restart the wizard and clean up the unfinished run; otherwise remove it with pd-ctl scheduler remove evict-leader-scheduler-<id>"})
	default:
		out = append(out, steps.Check{ID: "no-evict-scheduler", Status: steps.Pass, Message: "no evict-leader scheduler present"})
	}
	jpath := d.journalPath()
	switch recs, err := steps.ReadJournal(jpath); {
	case err != nil:
		out = append(out, steps.Check{ID: "journal", Status: steps.Fail, Message: err.Error(), Fix: "move " + jpath + " aside after reading it"})
	default:
		if last, ok := steps.LastRun(recs); ok && !last.Finished {
			out = append(out, steps.Check{ID: "journal", Status: steps.Fail,
				Message: fmt.Sprintf("%s records an unfinished %s run (%s)", jpath, last.Kind, last.Run),
				Fix:     "restart the wizard to resume or clean it up, or run 'tikv-ear apply " + d.planPath() + " --resume' (or --abort)"})
		}
	}
	return out
}

func joinIDs(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}

// clusterName is the TiUP cluster name when the inventory came from one.
func clusterName(s *steps.Cluster) string {
	if s.Flags.TiUPCluster != "" {
		return s.Flags.TiUPCluster
	}
	if s.Inventory.Meta != nil {
		dir := filepath.Dir(s.Inventory.Meta.Path)
		if filepath.Base(filepath.Dir(dir)) == "clusters" { // <tiup>/storage/cluster/clusters/<name>/meta.yaml
			return filepath.Base(dir)
		}
	}
	return ""
}

func masterKeyLabel(k tikv.MasterKey) string {
	switch k.EffectiveType() {
	case tikv.MasterKeyFile:
		return "file"
	case tikv.MasterKeyKMS:
		v := k.Vendor
		if v == "" {
			v = tikv.VendorAWS // vendor "" means AWS (components/encryption/export/src/lib.rs)
		}
		return "kms (" + v + ")"
	}
	return ""
}

// DemoStrategy is the production strategy with timeouts and polls suited to
// the sim's fast clock, batching by zone where PD's regions prove it safe.
func DemoStrategy() steps.Strategy {
	s := steps.DefaultStrategy()
	s.Batching = steps.BatchZone
	s.EvictTimeout, s.EvictPoll = steps.D(45*time.Second), steps.D(200*time.Millisecond)
	s.RestartTimeout = steps.D(30 * time.Second)
	s.ReadyTimeout, s.ReadyPoll = steps.D(45*time.Second), steps.D(200*time.Millisecond)
	s.VerifyTimeout = steps.D(30 * time.Second)
	s.SettleTimeout, s.SettlePoll = steps.D(45*time.Second), steps.D(200*time.Millisecond)
	return s
}
