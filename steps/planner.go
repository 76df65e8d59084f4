package steps

import (
	"cmp"
	"context"
	"fmt"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/report"
)

// PlanRequest is what the operator chose (flags or the wizard).
type PlanRequest struct {
	Environment    string
	Method         string
	RotationPeriod string
	Key            kms.Spec
	Strategy       Strategy
	Policies       Policies
	ReportDir      string
	ReportKey      string
	// Signer is the [report] signer (file, vault or aws; "" = file); SignerVault
	// and SignerAWS name its key for vault and aws.
	Signer      string
	SignerVault *report.VaultSignerConfig
	SignerAWS   *report.AWSSignerConfig
	Rotation    string
}

// Planned is a built plan with everything the operator reviews.
type Planned struct {
	Plan    *Plan
	Checks  []Check
	Batches BatchPlan
	Diffs   map[uint64]string
	Desired tikv.Encryption
}

// SimKeyDefaults points a file key at the sim's own directories and user:
// every sim host runs as the operator on this machine.
func SimKeyDefaults(s *Cluster, spec *kms.Spec) {
	if s.Flags.Sim == "" || spec.Backend != "file" {
		return
	}
	if spec.File == nil {
		spec.File = &filekey.Config{}
	}
	if spec.File.KeyDir == "" {
		spec.File.KeyDir = filepath.Join(s.Flags.Sim, "operator-keys")
	}
	if spec.File.HostKeyDir == "" {
		spec.File.HostKeyDir = filepath.Join(s.Flags.Sim, "tikv-keys")
	}
	if spec.File.Owner == "" {
		if u, err := user.Current(); err == nil {
			spec.File.Owner = u.Username
		}
	}
}

// reportSection is the plan's [report] as the request chose it: the file
// signer (with its key file, if any) unless vault or aws is named.
func reportSection(req PlanRequest) ReportSection {
	r := ReportSection{Dir: req.ReportDir, Signer: cmp.Or(req.Signer, report.SignerFile)}
	switch r.Signer {
	case report.SignerFile:
		r.KeyFile = req.ReportKey
	case report.SignerVault:
		r.Vault = req.SignerVault
	case report.SignerAWS:
		r.AWS = req.SignerAWS
	}
	return r
}

// BuildPlan reads the cluster, prepares the key generation in the backend (no
// host changes), runs preflight, orders the batches and renders each node's diff.
func BuildPlan(ctx context.Context, s *Cluster, req PlanRequest) (*Planned, error) {
	SimKeyDefaults(s, &req.Key)
	p := &Plan{
		Schema: PlanSchema, Environment: req.Environment,
		Cluster: ClusterSection{PD: s.Flags.PD, ClusterID: s.ClusterID, CA: s.Flags.PDCA, Cert: s.Flags.PDCert, Key: s.Flags.PDKey,
			Name: s.Flags.TiUPCluster, SSHConfig: s.Flags.SSHConfig, Sudo: s.Flags.Sudo, SSHUser: s.Flags.SSHUser},
		Target:   Target{Method: req.Method, DataKeyRotationPeriod: req.RotationPeriod, Key: req.Key},
		Strategy: req.Strategy, Policies: req.Policies,
		Report:   reportSection(req),
		Schedule: ScheduleSection{MasterKeyRotation: req.Rotation},
	}
	if s.Inventory.Meta != nil {
		p.Cluster.MetaYAML = s.Inventory.Meta.Path
	}
	if len(s.Flags.KnownHosts) > 0 {
		p.Cluster.KnownHosts = s.Flags.KnownHosts[0]
	}
	if len(s.Flags.Identity) > 0 {
		p.Cluster.Identity = s.Flags.Identity[0]
	}
	var versions []string
	for _, n := range s.Inventory.Nodes {
		p.Nodes = append(p.Nodes, NodePlanOf(n, s.Flags.SSHUser))
		versions = append(versions, n.Version)
	}
	backend, err := kms.New(req.Key)
	if err != nil {
		return nil, Usagef("see docs/backend-"+req.Key.Backend+".md", "key backend: %v", err)
	}
	var checks []Check
	blocked := false
	for _, f := range backend.Validate(kms.Environment(req.Environment), versions) {
		c := Check{ID: "key-" + f.Code, Status: severityStatus(string(f.Severity)), Message: f.Message, Fix: f.Fix}
		blocked = blocked || c.Status == Fail
		checks = append(checks, c)
	}
	if err := p.Validate("plan"); err != nil {
		return nil, err
	}
	if blocked {
		return &Planned{Plan: p, Checks: checks}, nil
	}
	for _, c := range backend.Preflight(ctx) {
		kc := KeyCheck(c, 0)
		blocked = blocked || kc.Status == Fail
		checks = append(checks, kc)
	}
	if blocked {
		// The key service itself is refused (sealed, unreachable, wrong key or
		// region, rejected credentials): preparing a key would only fail again
		// with a less helpful message, or leave a generation for a plan never written.
		return &Planned{Plan: p, Checks: checks}, nil
	}
	ref, err := backend.Prepare(ctx, kms.Purpose("current"))
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("preparing the master key in %s: %v", backend.Name(), err),
			Hints: []string{"nothing on any host changed; fix the cause above (see docs/backend-" + backend.Name() + ".md) and run 'tikv-ear plan' again"},
			Code:  ExitFailure, Err: err}
	}
	p.Target.MasterKey = ref
	eng := NewEngine(s, p, backend)
	// Per host, over SSH: the key backend's host checks beside the facts
	// preflight reads (one batch per host), each pass --concurrency hosts at once.
	hostChecks := make([][]Check, len(p.Nodes))
	var keyPass sync.WaitGroup
	keyPass.Go(func() {
		EachNode(p.Nodes, s.Flags.Concurrency, func(i int, n NodePlan) {
			for _, c := range backend.HostPreflight(ctx, eng.KeyHosts[n.StoreID]) {
				hostChecks[i] = append(hostChecks[i], KeyCheck(c, n.StoreID))
			}
		})
	})
	var regions []RegionPeers
	var regionsErr error
	keyPass.Go(func() { regions, regionsErr = eng.PD.Regions(ctx) })
	facts := GatherFacts(ctx, p, eng.PD, eng.Nodes, s.Flags.Concurrency)
	keyPass.Wait()
	for _, cs := range hostChecks {
		checks = append(checks, cs...)
	}
	facts.KeyChecks = checks
	facts.Desired = &eng.Desired
	out := &Planned{Plan: p, Checks: RunPreflight(facts), Diffs: map[uint64]string{}, Desired: eng.Desired}
	if regionsErr != nil {
		regions = nil
	}
	out.Batches = PlanBatches(p.Nodes, regions, p.Strategy.Canary, p.Strategy.Batching)
	// The diffs render the tikv.toml preflight read: one read per host, not two.
	diffs := make([]string, len(p.Nodes))
	editErrs := make([]error, len(p.Nodes))
	read := make([]bool, len(p.Nodes))
	for i, n := range p.Nodes {
		live := facts.Hosts[n.StoreID].Config
		if live == nil {
			continue
		}
		edited, err := TOMLEditor(live, eng.Desired)
		if err != nil {
			editErrs[i] = err
			continue
		}
		diffs[i], read[i] = tikvconf.UnifiedDiff(n.Host+":"+n.ConfigPath, n.Host+":"+n.ConfigPath+" (planned)", live, edited), true
	}
	for i, n := range p.Nodes {
		switch {
		case editErrs[i] != nil:
			out.Checks = append(out.Checks, Check{ID: "config-edit", StoreID: n.StoreID, Status: Fail, Message: editErrs[i].Error()})
		case read[i]:
			out.Diffs[n.StoreID] = diffs[i]
		}
	}
	return out, nil
}

func severityStatus(sev string) string {
	switch sev {
	case "error":
		return Fail
	case "warn":
		return Warn
	}
	return Pass
}

// Engine holds the engine's ports for one plan over a session.
type Engine struct {
	PD       PDClient
	Nodes    map[uint64]*SSHNode
	KeyHosts map[uint64]kms.Host
	Backend  kms.Backend
	Desired  tikv.Encryption
}

// NewEngine wires the engine's ports: PD, an SSH node and key host per store,
// and the target encryption the backend renders.
func NewEngine(s *Cluster, p *Plan, backend kms.Backend) *Engine {
	e := &Engine{PD: PDClient{C: s.PD}, Nodes: map[uint64]*SSHNode{}, KeyHosts: map[uint64]kms.Host{}, Backend: backend}
	for _, n := range p.Nodes {
		node := NewSSHNode(s.SSH, n, StatusClient(n, s.Flags.Timeout))
		e.Nodes[n.StoreID] = node
		e.KeyHosts[n.StoreID] = KeyHost{N: node.N, Label: fmt.Sprintf("store %d (%s)", n.StoreID, n.Host)}
	}
	e.Desired = tikv.Encryption{Method: p.Target.Method, DataKeyRotationPeriod: p.Target.DataKeyRotationPeriod}
	if p.Target.MasterKey.ID != "" {
		e.Desired.MasterKey = backend.MasterKey(p.Target.MasterKey)
	}
	if p.Target.PreviousMasterKey != nil {
		e.Desired.PreviousMasterKey = backend.MasterKey(*p.Target.PreviousMasterKey)
	}
	return e
}

// Runner builds the engine's runner for the plan.
func (e *Engine) Runner(p *Plan, kind string, refs []kms.KeyRef, journal *Journal, sink Sink, decider Decider) *Runner {
	nodes := map[uint64]Node{}
	for id, n := range e.Nodes {
		nodes[id] = n
	}
	return &Runner{
		Plan: p, Kind: kind, Desired: e.Desired, PD: e.PD, Nodes: nodes,
		Keys:      &BackendKeys{B: e.Backend, Refs: refs, Hosts: e.KeyHosts},
		Editor:    TOMLEditor,
		Inspector: SSHInspector{Nodes: e.Nodes},
		Journal:   journal, Events: sink, Decider: decider,
		Verify: VerifyTarget(e.Desired, kind),
		Now:    time.Now,
	}
}

// KeyCheck turns a key backend's check into a preflight check: backend-wide
// checks under id "key", per-host ones under "key-host" so they collapse by store.
func KeyCheck(c kms.Check, store uint64) Check {
	if store != 0 {
		return Check{ID: "key-host", StoreID: store, Status: string(c.Status), Message: c.Reason, Fix: c.Fix}
	}
	msg := c.Reason
	if !strings.HasPrefix(msg, c.Name) {
		msg = c.Name + ": " + msg
	}
	return Check{ID: "key", Status: string(c.Status), Message: msg, Fix: c.Fix}
}
