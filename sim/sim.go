package sim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/netport"
	"github.com/tikv-ear/tikv-ear/sim/clock"
	"github.com/tikv-ear/tikv-ear/sim/host"
	"github.com/tikv-ear/tikv-ear/sim/node"
	"github.com/tikv-ear/tikv-ear/sim/pd"
)

// Defaults of Options (also the defaults of `tikv-ear sim up`).
const (
	DefaultStores  = 6
	DefaultZones   = 3
	DefaultRegions = 600
	DefaultSpeed   = 10
	DefaultVersion = "8.5.2"
	// ClusterName is the TiUP cluster name the sim registers under tiup/storage/cluster/clusters.
	ClusterName = "tikv-ear-sim"
	// User is the login user of every simulated host (TiUP's default global.user, spec.go GlobalOptions).
	User = "tidb"
)

// Options configures a simulated cluster. Zero values take the defaults above.
type Options struct {
	Stores, Zones, Regions int
	Speed                  float64  // sim seconds per wall second
	Dir                    string   // where hosts, env files and keys go; "" means a temp dir removed by Close
	Versions               []string // one for all nodes, or one per node; default "8.5.2"
	Layout                 string   // host.LayoutTiUP (default) or host.LayoutSystemd
	KMSEndpoint            string   // optional KMS endpoint (e.g. local-kms), recorded in sim.env
	// GCPKMSEndpoint stands in for name resolution of TiKV's hard-coded Cloud KMS
	// endpoint on the stores (e.g. an in-process fake's URL + "/v1/"); "" keeps it.
	GCPKMSEndpoint string
	// AzureAuthorityHost and CloudCAFile do the same for Azure: the Entra authority
	// the stores sign in at, and a PEM bundle they trust for cloud KMS calls.
	AzureAuthorityHost, CloudCAFile string
	// PDServer is the path of a real pd-server: the sim starts PDMembers of it
	// (1 or 3) instead of the in-process sim/pd, and every node is its gRPC
	// client (sim/realpd). PDConfig is extra TOML for every member.
	PDServer  string
	PDMembers int
	PDConfig  string
}

func (o Options) withDefaults() (Options, error) {
	if o.Stores <= 0 {
		o.Stores = DefaultStores
	}
	if o.Zones <= 0 {
		o.Zones = DefaultZones
	}
	o.Zones = min(o.Zones, o.Stores)
	if o.Regions <= 0 {
		o.Regions = DefaultRegions
	}
	if o.Speed <= 0 {
		o.Speed = DefaultSpeed
	}
	if o.PDMembers == 0 {
		o.PDMembers = 1
	}
	if o.PDMembers != 1 && o.PDMembers != 3 {
		return o, fmt.Errorf("%d PD members asked for: use 1 or 3", o.PDMembers)
	}
	if o.Layout == "" {
		o.Layout = host.LayoutTiUP
	}
	if o.Layout != host.LayoutTiUP && o.Layout != host.LayoutSystemd {
		return o, fmt.Errorf("unknown layout %q: use %q or %q", o.Layout, host.LayoutTiUP, host.LayoutSystemd)
	}
	switch len(o.Versions) {
	case 0:
		o.Versions = []string{DefaultVersion}
	case 1, o.Stores:
	default:
		return o, fmt.Errorf("got %d versions for %d stores: give one version for all or one per store", len(o.Versions), o.Stores)
	}
	return o, nil
}

// Node is one simulated TiKV with its host.
type Node struct {
	Index      int    // 1-based
	Name       string // "tikv-1": the Host alias in ssh_config
	StoreID    uint64
	Version    string
	Zone       string
	Port       int // main port; the unit is tikv-<Port>.service
	StatusPort int
	Paths      host.Paths
	Host       *host.Host
	Proc       *node.Node

	fault *startFault
}

// Addr is the node's main address.
func (n *Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// StatusAddr is the node's status address.
func (n *Node) StatusAddr() string { return "127.0.0.1:" + strconv.Itoa(n.StatusPort) }

// Cluster is a running simulated cluster.
type Cluster struct {
	opt     Options
	clk     *clock.Clock
	pd      *pd.Cluster // nil with a real PD
	real    *realPD     // nil with the in-process PD
	pdURLs  []string
	nodes   []*Node
	control string
	env     Env
	tempDir bool

	cancel context.CancelFunc
	srv    *http.Server
	once   sync.Once
}

// Start builds and starts a cluster: PD (with zone and host labels), one host
// per node (SSH server, layout, systemd unit) and the nodes, each started
// through its systemd unit; it returns once PD shows every store Up. ctx bounds
// the startup only; the cluster runs until Close.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opt: opt, clk: clock.New(opt.Speed)}
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "tikv-ear-sim-")
		if err != nil {
			return nil, fmt.Errorf("creating sim dir: %w", err)
		}
		c.opt.Dir, c.tempDir = d, true
	} else if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating sim dir %s: %w", opt.Dir, err)
	}
	if abs, err := filepath.Abs(c.opt.Dir); err == nil {
		c.opt.Dir = abs
	}
	life, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if err := c.build(life); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.waitAllUp(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) build(life context.Context) error {
	opt := c.opt
	key, err := host.NewOperatorKey()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the control server: %w", err)
	}
	c.control = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(ln) //nolint:errcheck // returns when Close shuts the server

	storeIDs := make([]uint64, opt.Stores)
	for i := range storeIDs {
		storeIDs[i] = uint64(i + 1)
	}
	if opt.PDServer != "" {
		if storeIDs, err = c.startRealPD(life); err != nil {
			return err
		}
	}
	// The nodes' ports are picked once the real PD members listen: a port a
	// member holds is not free, while ports picked before could be taken by
	// a member next (netport.Free releases what it found).
	ports, err := netport.Free(2 * opt.Stores)
	if err != nil {
		return err
	}
	specs := make([]pd.StoreSpec, opt.Stores)
	for i := range opt.Stores {
		n := &Node{
			Index: i + 1, Name: fmt.Sprintf("tikv-%d", i+1), StoreID: storeIDs[i],
			Version: opt.Versions[min(i, len(opt.Versions)-1)],
			Zone:    fmt.Sprintf("z%d", i%opt.Zones+1),
			Port:    ports[2*i], StatusPort: ports[2*i+1],
			fault: &startFault{},
		}
		hostName := fmt.Sprintf("host-%d", i+1)
		h, err := host.New(host.Config{
			Name: hostName, Root: filepath.Join(opt.Dir, hostName), User: User,
			AuthorizedKey: key.Signer.PublicKey(), ControlURL: c.control + "/host/" + hostName, Clock: c.clk,
			TikvCtl: c.TikvCtl,
		})
		if err != nil {
			return err
		}
		mux.Handle("/host/"+hostName+"/", http.StripPrefix("/host/"+hostName, h.Handler()))
		n.Host = h
		n.Paths = h.PathsFor(opt.Layout, n.Port)
		specs[i] = pd.StoreSpec{
			ID: n.StoreID, Address: n.Addr(), StatusAddress: n.StatusAddr(), PeerAddress: n.Addr(),
			DeployPath: filepath.Join(n.Paths.DeployDir, "bin"),
			Labels:     []pd.Label{{Key: "zone", Value: n.Zone}, {Key: "host", Value: hostName}},
		}
		c.nodes = append(c.nodes, n)
	}
	var storePD node.PD
	if c.real != nil {
		if err := c.bootstrapRealPD(life, specs); err != nil {
			return err
		}
		c.pdURLs, storePD = c.real.members.ClientURLs(), c.real.stores
	} else {
		c.pd = pd.New(pd.Config{ClusterID: newClusterID(c.clk.Now()), Regions: opt.Regions, Version: opt.Versions[0]}, c.clk, specs)
		go c.pd.Run(life)
		c.pdURLs, err = c.pd.Serve(life)
		if err != nil {
			return err
		}
		storePD = c.pd
	}
	pdAddrs := make([]string, len(c.pdURLs))
	for i, u := range c.pdURLs {
		pdAddrs[i] = strings.TrimPrefix(u, "http://")
	}
	for _, n := range c.nodes {
		paths, err := n.Host.LayOut(opt.Layout, host.Instance{
			Port: n.Port, StatusPort: n.StatusPort, PD: pdAddrs,
			Labels: map[string]string{"zone": n.Zone, "host": n.Host.Name()},
		})
		if err != nil {
			return err
		}
		n.Paths = paths
		n.Proc = node.New(node.Spec{
			StoreID: n.StoreID, Version: n.Version, Addr: n.Addr(), StatusAddr: n.StatusAddr(),
			ConfigPath: paths.ConfigPath, DataDir: paths.DataDir, LogFile: paths.LogFile,
			RaftEngine: raftEngineDefault(n.Version), GCPKMSEndpoint: opt.GCPKMSEndpoint,
			AzureAuthorityHost: opt.AzureAuthorityHost, CloudCAFile: opt.CloudCAFile,
		}, c.clk, storePD)
		n.Host.AddUnit(host.UnitSpec{
			Name: paths.UnitName, UnitFile: paths.UnitFile, Listen: []string{n.Addr(), n.StatusAddr()},
			Service: &service{proc: n.Proc, fault: n.fault},
		})
		if err := n.Host.Serve(life); err != nil {
			return err
		}
	}
	mux.HandleFunc("POST /fault", c.handleFault)
	mux.HandleFunc("GET /health", c.handleHealth)
	mux.HandleFunc("GET /stores", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(c.Stores())
	})
	if err := c.writeFiles(key); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := n.Host.StartUnit(n.Paths.UnitName); err != nil {
			return err
		}
	}
	return nil
}

// raftEngineDefault reports whether Raft Engine is on by default: since v6.1.0
// (tikv/tikv raft-engine.enable default true from 6.1; sim/node Spec.RaftEngine).
func raftEngineDefault(version string) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return true
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(parts[1])
	return major > 6 || major == 6 && minor >= 1
}

// waitAllUp polls PD until every store is Up and every node runs; with a
// real PD, until its regions are settled too (RegionsUnsettled).
func (c *Cluster) waitAllUp(ctx context.Context) error {
	poll := 10 * time.Millisecond
	if c.real != nil {
		poll = 100 * time.Millisecond // a look is eight HTTP reads of a real server
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	deadline := time.NewTimer(c.clk.Wall(10*time.Minute) + 30*time.Second)
	defer deadline.Stop()
	for {
		snap := c.storeStates()
		up := 0
		for _, s := range snap {
			if s.StateName == pd.StateUp && s.Alive {
				up++
			}
		}
		// PD starts every store Up; the processes themselves must be serving too.
		running := 0
		for _, n := range c.nodes {
			if n.Proc.Running() {
				running++
			}
		}
		why := ""
		if up != len(c.nodes) || running != len(c.nodes) {
			why = fmt.Sprintf("PD shows %d of %d stores Up and %d of %d nodes run", up, len(c.nodes), running, len(c.nodes))
		} else {
			why = c.RegionsUnsettled()
		}
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the simulated stores to come up: %w (%s)", ctx.Err(), why)
		case <-deadline.C:
			return fmt.Errorf("the simulated cluster did not settle: %s%s; see the tikv.log files under %s", why, c.stuckNodes(), c.opt.Dir)
		case <-t.C:
		}
	}
}

// stuckNodes says, for the first nodes that do not run, what their unit and
// the last line of their log show (the sim's temp dir is gone by the time a
// test's failure is read).
func (c *Cluster) stuckNodes() string {
	var out []string
	for _, n := range c.nodes {
		if n.Proc.Running() || len(out) == 2 {
			continue
		}
		unit := "unit unknown"
		if st, err := n.Host.UnitStatus(n.Paths.UnitName); err == nil {
			unit = fmt.Sprintf("unit %s/%s, %d starts, %d failures, last error %q", st.State, st.Sub, st.Starts, st.Failures, st.LastErr)
		}
		last := "no log"
		if b, err := os.ReadFile(n.Paths.LogFile); err == nil {
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			last = "log: " + lines[len(lines)-1]
		}
		out = append(out, fmt.Sprintf("node %d: %s; %s", n.Index, unit, last))
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, "; ") + ")"
}

// Close stops every node, host and server, and removes a temp dir made by Start.
func (c *Cluster) Close() {
	c.once.Do(func() {
		for _, n := range c.nodes {
			n.Host.Close()
		}
		c.cancel()
		if c.srv != nil {
			c.srv.Close()
		}
		if c.real != nil {
			c.real.close()
		}
		if c.tempDir {
			os.RemoveAll(c.opt.Dir)
		}
	})
}

// Options returns the effective options (defaults filled, Dir absolute).
func (c *Cluster) Options() Options { return c.opt }

// Clock returns the sim clock.
func (c *Cluster) Clock() *clock.Clock { return c.clk }

// PD returns the simulated PD, nil when the sim runs a real pd-server
// (RealPD, RealStores).
func (c *Cluster) PD() *pd.Cluster { return c.pd }

// PDURLs returns the PD members' base URLs (http://127.0.0.1:port).
func (c *Cluster) PDURLs() []string { return append([]string(nil), c.pdURLs...) }

// Nodes returns the nodes in store-id order.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// Hosts returns the hosts in node order.
func (c *Cluster) Hosts() []*host.Host {
	out := make([]*host.Host, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Host
	}
	return out
}

// ControlURL returns the control server's base URL (POST /fault, GET /stores, GET /health).
func (c *Cluster) ControlURL() string { return c.control }

// Env returns the paths of the env files written by Start.
func (c *Cluster) Env() Env { return c.env }

// StoreRow is one line of the store table.
type StoreRow struct {
	StoreID   uint64 `json:"store_id"`
	Node      string `json:"node"`
	Address   string `json:"address"`
	Zone      string `json:"zone"`
	Version   string `json:"version"`
	State     string `json:"state"`
	Leaders   int    `json:"leaders"`
	Regions   int    `json:"regions"`
	Unit      string `json:"unit"`
	UnitState string `json:"unit_state"`
	SSHPort   int    `json:"ssh_port"`
}

// Stores returns the store table: PD's view joined with the hosts' units.
func (c *Cluster) Stores() []StoreRow {
	byID := map[uint64]pd.StoreState{}
	for _, s := range c.storeStates() {
		byID[s.ID] = s
	}
	rows := make([]StoreRow, 0, len(c.nodes))
	for _, n := range c.nodes {
		s := byID[n.StoreID]
		st, _ := n.Host.UnitStatus(n.Paths.UnitName)
		rows = append(rows, StoreRow{
			StoreID: n.StoreID, Node: n.Name, Address: n.Addr(), Zone: n.Zone, Version: n.Version,
			State: s.StateName, Leaders: s.Leaders, Regions: s.Regions,
			Unit: n.Paths.UnitName, UnitState: st.State, SSHPort: n.Host.Port(),
		})
	}
	return rows
}

// service is the systemd-managed process of a node: the node plus the sim's
// persistent start-failure fault.
type service struct {
	proc  *node.Node
	fault *startFault
}

func (s *service) Start(ctx context.Context) error {
	if fatal := s.fault.take(); fatal != "" {
		s.proc.FailNextStart(fatal)
	}
	return s.proc.Start(ctx)
}
func (s *service) Stop()         { s.proc.Stop() }
func (s *service) Running() bool { return s.proc.Running() }

// startFault makes starts fail with a FATAL message: every start while on, or only the next one.
type startFault struct {
	mu    sync.Mutex
	fatal string
	once  bool
}

func (f *startFault) set(fatal string, once bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatal, f.once = fatal, once
}

func (f *startFault) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	fatal := f.fatal
	if f.once {
		f.fatal = ""
	}
	return fatal
}

// Fault kinds accepted by Inject and by POST /fault.
const (
	FaultStartFailure   = "start-failure"   // starts fail with Message at FATAL (Once: only the next start)
	FaultSlowStart      = "slow-start"      // starts take Duration of sim time
	FaultSSHRefuse      = "ssh-refuse"      // the host's SSH server resets new connections
	FaultSSHDrop        = "ssh-drop"        // the next Count sessions run, then drop without exit status
	FaultSSHLatency     = "ssh-latency"     // every SSH session waits Duration of wall time first
	FaultDiskFull       = "disk-full"       // writes under Message (default: the data dir) fail with ENOSPC
	FaultEvictionStuck  = "eviction-stuck"  // PD's evict-leader scheduler moves no leaders off the store
	FaultPDUnavailable  = "pd-unavailable"  // PD answers 503
	FaultPDNoLeader     = "pd-no-leader"    // PD has no leader
	FaultKMSUnreachable = "kms-unreachable" // every KMS call of the node fails
)

// FaultKinds lists every fault kind.
func FaultKinds() []string {
	return []string{FaultStartFailure, FaultSlowStart, FaultSSHRefuse, FaultSSHDrop, FaultSSHLatency,
		FaultDiskFull, FaultEvictionStuck, FaultPDUnavailable, FaultPDNoLeader, FaultKMSUnreachable}
}

// DefaultStartFailure is the FATAL text of a start-failure fault without a message.
// It is the sim's own text, not a TiKV message.
const DefaultStartFailure = "simulated fault: tikv-server exited during startup"

// Fault is one fault to switch on or off.
type Fault struct {
	Kind     string        `json:"kind"`
	Node     int           `json:"node,omitempty"` // 1-based node index; 0 = every node (node and SSH faults)
	Off      bool          `json:"off,omitempty"`
	Message  string        `json:"message,omitempty"`  // start-failure FATAL text; disk-full path prefix
	Duration time.Duration `json:"duration,omitempty"` // slow-start (sim time), ssh-latency (wall time)
	Count    int           `json:"count,omitempty"`    // ssh-drop sessions (default 1)
	Once     bool          `json:"once,omitempty"`     // start-failure: only the next start
}

// Inject switches a fault on or off.
func (c *Cluster) Inject(f Fault) error {
	targets, err := c.targets(f.Node)
	if err != nil {
		return err
	}
	switch f.Kind {
	case FaultPDUnavailable, FaultPDNoLeader:
		if c.real != nil {
			return fmt.Errorf("fault %s is for the in-process PD: with a real pd-server, stop or kill its members (RealPD)", f.Kind)
		}
		if f.Kind == FaultPDUnavailable {
			c.pd.SetUnavailable(!f.Off)
		} else {
			c.pd.SetNoLeader(!f.Off)
		}
		return nil
	}
	for _, n := range targets {
		switch f.Kind {
		case FaultStartFailure:
			msg := f.Message
			if msg == "" {
				msg = DefaultStartFailure
			}
			if f.Off {
				msg = ""
			}
			n.fault.set(msg, f.Once)
		case FaultSlowStart:
			d := f.Duration
			if f.Off {
				d = 0
			}
			n.Proc.SetSlowStart(d)
		case FaultSSHRefuse:
			n.Host.SetRefuse(!f.Off)
		case FaultSSHDrop:
			count := max(f.Count, 1)
			if f.Off {
				count = 0
			}
			n.Host.DropNext(count)
		case FaultSSHLatency:
			d := f.Duration
			if f.Off {
				d = 0
			}
			n.Host.SetLatency(d)
		case FaultDiskFull:
			prefix := f.Message
			if prefix == "" {
				prefix = n.Paths.DataDir
			}
			if f.Off {
				prefix = ""
			}
			n.Proc.SetDiskFull(prefix)
		case FaultEvictionStuck:
			if c.real != nil {
				c.real.stores.SetRefuseTransferLeader(n.StoreID, !f.Off)
			} else {
				c.pd.SetEvictionStuck(n.StoreID, !f.Off)
			}
		case FaultKMSUnreachable:
			n.Proc.SetKMSUnreachable(!f.Off)
		default:
			return fmt.Errorf("unknown fault kind %q: use one of %s", f.Kind, strings.Join(FaultKinds(), ", "))
		}
	}
	return nil
}

func (c *Cluster) targets(index int) ([]*Node, error) {
	if index == 0 {
		return c.nodes, nil
	}
	if index < 0 || index > len(c.nodes) {
		return nil, fmt.Errorf("no node %d: the sim has nodes 1 to %d", index, len(c.nodes))
	}
	return c.nodes[index-1 : index], nil
}

func (c *Cluster) handleFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		http.Error(w, "decoding fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := c.Inject(f); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// PostFault sends a fault to a running sim's control server (what `tikv-ear sim fault` does).
func PostFault(ctx context.Context, controlURL string, f Fault) error {
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	u, err := url.JoinPath(controlURL, "fault")
	if err != nil {
		return fmt.Errorf("control url %q: %w", controlURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("posting fault to %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New(strings.TrimSpace(string(msg)))
	}
	return nil
}

// newClusterID makes a cluster id the way PD does at bootstrap: the unix time in
// the high 32 bits and random low bits: clusterID := (ts << 32) + uint64(rand.Uint32())
// (tikv/pd server/util.go initOrGetClusterID; pkg/utils/etcdutil InitOrGetClusterID in newer PD).
func newClusterID(now time.Time) uint64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return uint64(now.Unix())<<32 | uint64(binary.BigEndian.Uint32(b[:]))
}
