package steps_test

import (
	"context"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvstatus"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// simConfig sizes a simulated cluster and the plan's strategy for a test.
type simConfig struct {
	Stores, Zones, Regions int
	Speed                  float64 // sim seconds per wall second
	Batching               string
	Canary                 int
	// Strategy edits the test strategy (timeouts and polls are plan settings).
	Strategy func(*steps.Strategy)
	// AWSKMS uses an AWS KMS master key on a local-kms started for the test
	// instead of the file backend.
	AWSKMS bool
}

// simEnv is a running sim with the engine's ports wired the way steps/planner.go
// wires them (PD client, SSH nodes over the sim's ssh_config and known_hosts,
// a file key backend whose key dirs live under the test's temp dir).
type simEnv struct {
	t       testing.TB
	c       *sim.Cluster
	plan    *steps.Plan
	pdc     *pd.Client
	ssh     *ssh.Client
	nodes   map[uint64]*steps.SSHNode
	hosts   map[uint64]kms.Host
	backend kms.Backend
	desired tikv.Encryption
	refs    []kms.KeyRef
	dir     string
	journal string
}

// testStrategy is the compressed clock the engine tests run on.
func testStrategy() steps.Strategy {
	s := steps.DefaultStrategy()
	s.Batching = steps.BatchZone
	s.EvictTimeout, s.EvictPoll = steps.D(3*time.Second), steps.D(20*time.Millisecond)
	s.RestartTimeout = steps.D(10 * time.Second)
	s.ReadyTimeout, s.ReadyPoll = steps.D(5*time.Second), steps.D(20*time.Millisecond)
	s.VerifyTimeout = steps.D(3 * time.Second)
	s.SettleTimeout, s.SettlePoll = steps.D(10*time.Second), steps.D(20*time.Millisecond)
	return s
}

// startSim starts a sim and builds the plan and the engine's ports.
func startSim(t testing.TB, cfg simConfig) *simEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// sim.Start picks free ports and releases them before its servers bind them,
	// so a sim started in parallel can take one (reported to the lead): retry.
	var c *sim.Cluster
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		c, err = sim.Start(ctx, sim.Options{Stores: cfg.Stores, Zones: cfg.Zones, Regions: cfg.Regions, Speed: cfg.Speed,
			Dir: filepath.Join(dir, fmt.Sprintf("sim%d", attempt))})
		if err == nil {
			break
		}
		t.Logf("starting the sim (attempt %d): %v", attempt, err)
	}
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(c.Close)
	e := &simEnv{t: t, c: c, dir: dir, journal: filepath.Join(dir, "plan.toml.journal")}
	e.pdc, err = pd.New(pd.Options{Endpoints: c.PDURLs(), Timeout: 2 * time.Second, Retries: 1, RetryDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("PD client: %v", err)
	}
	e.ssh = e.newSSH()
	t.Cleanup(func() { e.ssh.Close() })

	stores, err := e.pdc.Stores(ctx, false)
	if err != nil {
		t.Fatalf("reading stores: %v", err)
	}
	env := c.Env()
	inv, err := inventory.Build(stores, inventory.Sources{MetaPath: env.Meta, PDClientURLs: c.PDURLs()})
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	spec := kms.Spec{Backend: "file", File: &filekey.Config{
		KeyDir: filepath.Join(dir, "operator-keys"), HostKeyDir: filepath.Join(dir, "tikv-keys"), Owner: u.Username,
	}}
	if cfg.AWSKMS {
		l := kmstest.Start(t, kmstest.Options{})
		spec = kms.Spec{Backend: "aws", AWS: &awskms.Config{KeyID: l.Aliases[0], Region: l.Region, Endpoint: l.Endpoint, CredentialsFile: l.CredentialsFile}}
	}
	e.backend, err = kms.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := e.backend.Prepare(ctx, kms.Purpose("current"))
	if err != nil {
		t.Fatalf("preparing the key: %v", err)
	}
	e.refs = []kms.KeyRef{ref}
	strategy := testStrategy()
	if cfg.Batching != "" {
		strategy.Batching = cfg.Batching
	}
	strategy.Canary = cfg.Canary
	if cfg.Strategy != nil {
		cfg.Strategy(&strategy)
	}
	p := &steps.Plan{
		Schema: steps.PlanSchema, Environment: steps.EnvStaging,
		Cluster:  steps.ClusterSection{PD: c.PDURLs(), SSHConfig: env.SSHConfig, KnownHosts: env.KnownHosts, Identity: env.Identity, MetaYAML: env.Meta},
		Target:   steps.Target{Method: tikv.MethodAES256CTR, DataKeyRotationPeriod: "7d", Key: spec, MasterKey: ref},
		Strategy: strategy, Policies: steps.DefaultPolicies(),
		Report: steps.ReportSection{Dir: filepath.Join(dir, "reports"), Signer: "file"},
	}
	for _, n := range inv.Nodes {
		p.Nodes = append(p.Nodes, nodePlan(n))
	}
	if err := p.Validate("plan.toml"); err != nil {
		t.Fatalf("plan: %v", err)
	}
	e.plan = p
	e.wireNodes()
	e.desired = tikv.Encryption{Method: p.Target.Method, DataKeyRotationPeriod: p.Target.DataKeyRotationPeriod, MasterKey: e.backend.MasterKey(ref)}
	return e
}

// newSSH returns an SSH client over the sim's ssh_config, identity and known_hosts.
func (e *simEnv) newSSH() *ssh.Client {
	env := e.c.Env()
	cfg, err := ssh.LoadConfig(env.SSHConfig)
	if err != nil {
		e.t.Fatalf("ssh_config: %v", err)
	}
	return ssh.NewClient(ssh.Options{IdentityFiles: []string{env.Identity}, KnownHostsFiles: []string{env.KnownHosts},
		Config: cfg, NoAgent: true, DialTimeout: 2 * time.Second, CommandTimeout: 30 * time.Second})
}

// wireNodes builds an SSH node and key host per store over e.ssh (as cli.NewEngine does).
func (e *simEnv) wireNodes() {
	e.nodes, e.hosts = map[uint64]*steps.SSHNode{}, map[uint64]kms.Host{}
	for _, n := range e.plan.Nodes {
		status := &tikvstatus.StatusClient{BaseURL: "http://" + n.StatusAddress, HTTP: httpClient()}
		node := steps.NewSSHNode(e.ssh, n, status)
		e.nodes[n.StoreID] = node
		e.hosts[n.StoreID] = steps.KeyHost{N: node.N, Label: fmt.Sprintf("store %d (%s)", n.StoreID, n.Host)}
	}
}

// nodePlan mirrors cli.NodePlan (steps may not import cli).
func nodePlan(n inventory.Node) steps.NodePlan {
	port := n.Port
	if port == 0 {
		if _, p, err := net.SplitHostPort(n.Address); err == nil {
			port, _ = strconv.Atoi(p)
		}
	}
	v, _ := tikv.ParseVersion(n.Version)
	return steps.NodePlan{
		StoreID: n.StoreID, Address: n.Address, StatusAddress: n.StatusAddress, Zone: n.Labels["zone"],
		Version: n.Version, Host: n.Host, SSHPort: n.SSHPort, SSHUser: n.SSHUser,
		ConfigPath: n.ConfigPath, DataDir: n.DataDir, LogFile: n.LogFile,
		Service: n.ServiceName, RestartCommand: n.RestartCommand, Port: port,
		TiUPManaged: n.TiUPManaged, RaftEngine: tikv.RaftEngineDefaultOn(v),
	}
}

// runner builds a runner over the env's ports, as cli.Engine.Runner does.
func (e *simEnv) runner(j *steps.Journal, sink steps.Sink) *steps.Runner {
	nodes := map[uint64]steps.Node{}
	for id, n := range e.nodes {
		nodes[id] = n
	}
	return &steps.Runner{
		Plan: e.plan, Kind: steps.KindApply, Desired: e.desired, PD: steps.PDClient{C: e.pdc}, Nodes: nodes,
		Keys:      &steps.BackendKeys{B: e.backend, Refs: e.refs, Hosts: e.hosts},
		Editor:    steps.TOMLEditor,
		Inspector: steps.SSHInspector{Nodes: e.nodes},
		Journal:   j, Events: sink,
		Verify:         steps.VerifyTarget(e.desired, steps.KindApply),
		Now:            time.Now,
		CleanupTimeout: 10 * time.Second,
	}
}

// batches orders the plan's stores from PD's regions, as apply does.
func (e *simEnv) batches(ctx context.Context) steps.BatchPlan {
	regions, err := steps.PDClient{C: e.pdc}.Regions(ctx)
	if err != nil {
		e.t.Fatalf("reading regions: %v", err)
	}
	return steps.PlanBatches(e.plan.Nodes, regions, e.plan.Strategy.Canary, e.plan.Strategy.Batching)
}

// openJournal opens the env's journal, closed at cleanup.
func (e *simEnv) openJournal() *steps.Journal {
	j, err := steps.OpenJournal(e.journal)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { j.Close() })
	return j
}

// run runs a fresh runner over the journal and returns its result.
func (e *simEnv) run(ctx context.Context, sink steps.Sink) (*steps.Result, error) {
	r := e.runner(e.openJournal(), sink)
	return r.Run(ctx, e.batches(ctx))
}

// resume does what 'apply --resume' does: remove the schedulers the journal says
// the unfinished run left, then run a new runner over the same journal.
func (e *simEnv) resume(ctx context.Context) (*steps.Result, error) {
	e.t.Helper()
	recs, err := steps.ReadJournal(e.journal)
	if err != nil {
		e.t.Fatalf("reading the journal: %v", err)
	}
	last, ok := steps.LastRun(recs)
	if !ok {
		e.t.Fatal("the journal records no run")
	}
	for id := range last.Evicted {
		if err := e.pdc.RemoveEvictLeader(ctx, id); err != nil {
			e.t.Fatalf("removing the scheduler of store %d: %v", id, err)
		}
	}
	return e.run(ctx, nil)
}

// resumeToTheEnd checks that every store boots (after a fault was
// cleared, at when), resumes the run and checks that the resumed run
// verified every store and kept the cluster safe. It returns the resumed
// run's result.
func (e *simEnv) resumeToTheEnd(ctx context.Context, when string) *steps.Result {
	e.t.Helper()
	e.assertBootable(when)
	res, err := e.resume(ctx)
	if err != nil {
		e.t.Fatalf("resumed run: %v", err)
	}
	e.assertAllVerified(res)
	e.assertSafe(ctx, "after the resumed run")
	return res
}

// assertSafe checks the invariants every exit must keep: no region lost its
// quorum, no acknowledged write was lost, and no evict-leader scheduler is left
// (in the sim's model and through PD's API).
func (e *simEnv) assertSafe(ctx context.Context, when string) {
	e.t.Helper()
	if losses := e.c.PD().QuorumLosses(); len(losses) > 0 {
		e.t.Errorf("%s: %d quorum losses, first: region %d with %d voters alive", when, len(losses), losses[0].RegionID, losses[0].AliveVoters)
	}
	if acked, lost := e.c.PD().LedgerCheck(); lost > 0 {
		e.t.Errorf("%s: %d of %d acknowledged writes lost", when, lost, acked)
	}
	if ids := e.c.PD().EvictSchedulerStores(); len(ids) > 0 {
		e.t.Errorf("%s: the sim's evict-leader scheduler still covers stores %v", when, ids)
	}
	if ids, err := e.pdc.EvictLeaderStores(ctx); err != nil || len(ids) > 0 {
		e.t.Errorf("%s: PD API evict-leader stores %v (err %v)", when, ids, err)
	}
}

// assertBootable waits for every node to run; a node that does not (its unit
// is stuck in a slow or failing start) is restarted through its unit and must
// then run.
func (e *simEnv) assertBootable(when string) {
	e.t.Helper()
	wait := func(n *sim.Node, d time.Duration) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if n.Proc.Running() {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return n.Proc.Running()
	}
	// Long enough for systemd's RestartSec=15s (sim time) plus a start.
	grace := e.c.Clock().Wall(40*time.Second) + time.Second
	for _, n := range e.c.Nodes() {
		if wait(n, grace) {
			continue
		}
		e.t.Logf("%s: store %d is not running; restarting its unit", when, n.StoreID)
		if err := n.Host.StopUnit(n.Paths.UnitName); err != nil {
			e.t.Errorf("%s: stopping store %d: %v", when, n.StoreID, err)
		}
		if err := n.Host.StartUnit(n.Paths.UnitName); err != nil {
			e.t.Errorf("%s: starting store %d: %v", when, n.StoreID, err)
		}
		if !wait(n, 10*time.Second) {
			st, _ := n.Host.UnitStatus(n.Paths.UnitName)
			e.t.Errorf("%s: store %d does not boot: unit %s/%s, last error %q", when, n.StoreID, st.State, st.Sub, st.LastErr)
		}
	}
}

// assertAllVerified checks that every store of the plan ends on the target:
// either verified after its restart or skipped as already on target (and verified).
func (e *simEnv) assertAllVerified(res *steps.Result) {
	e.t.Helper()
	if len(res.Stores) != len(e.plan.Nodes) {
		e.t.Fatalf("result has %d stores, want %d", len(res.Stores), len(e.plan.Nodes))
	}
	for _, sr := range res.Stores {
		if sr.Failed != "" {
			e.t.Errorf("store %d failed: %s", sr.StoreID, sr.Failed)
		}
		if !sr.State.RunningOK || !steps.SameEncryption(sr.After, e.desired) {
			e.t.Errorf("store %d is not verified on the target: running %+v", sr.StoreID, sr.After)
		}
	}
}

// journalFinished reports whether the journal's last run recorded its end.
func (e *simEnv) journalFinished() bool {
	recs, err := steps.ReadJournal(e.journal)
	if err != nil {
		e.t.Fatalf("reading the journal: %v", err)
	}
	last, ok := steps.LastRun(recs)
	return ok && last.Finished
}

// recorder keeps every event for assertions.
type recorder struct {
	mu     sync.Mutex
	events []steps.Event
}

func (r *recorder) Emit(e steps.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) find(kind steps.EventKind, step string) []steps.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []steps.Event
	for _, e := range r.events {
		if e.Kind == kind && (step == "" || e.Step == step) {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		if e.Kind == steps.MetricSample || e.Kind == steps.StepProgress {
			continue
		}
		fmt.Fprintf(&b, "%s %s store=%d batch=%d %s %s\n", e.Kind, e.Step, e.StoreID, e.Batch, e.Message, e.Error)
	}
	return b.String()
}

// skippedStores returns the stores a result skipped as already on target.
func skippedStores(res *steps.Result) []uint64 {
	var out []uint64
	for _, sr := range res.Stores {
		if sr.Skipped {
			out = append(out, sr.StoreID)
		}
	}
	slices.Sort(out)
	return out
}
