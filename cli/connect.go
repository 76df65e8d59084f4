package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// ConnectFlags say how to reach a cluster: PD, the node inventory and SSH.
// Every command that talks to a cluster embeds them.
type ConnectFlags struct {
	PD          []string      `name:"pd" sep:"," env:"TIKV_EAR_PD" placeholder:"URL" help:"PD endpoints (any member), comma-separated."`
	PDCA        string        `name:"pd-ca" type:"path" help:"PD CA certificate (TiUP: tls/ca.crt)."`
	PDCert      string        `name:"pd-cert" type:"path" help:"PD client certificate (TiUP: tls/client.crt)."`
	PDKey       string        `name:"pd-key" type:"path" help:"PD client key (TiUP: tls/client.pem)."`
	TiUPCluster string        `name:"tiup-cluster" placeholder:"NAME" help:"TiUP cluster name: read ~/.tiup/storage/cluster/clusters/NAME/meta.yaml."`
	Meta        string        `name:"meta" type:"path" help:"TiUP meta.yaml to read paths and SSH ports from."`
	Inventory   string        `name:"inventory" type:"path" help:"Manual inventory TOML for clusters TiUP does not manage."`
	SSHConfig   string        `name:"ssh-config" type:"path" help:"ssh_config file (default ~/.ssh/config)."`
	KnownHosts  []string      `name:"known-hosts" type:"path" help:"known_hosts files (default ~/.ssh/known_hosts). Host keys are always checked."`
	Identity    []string      `name:"identity" short:"i" type:"path" help:"SSH private key files (ssh-agent is used too)."`
	SSHUser     string        `name:"ssh-user" help:"SSH login user when the inventory names none."`
	AcceptNew   bool          `name:"accept-new-host-keys" help:"Like OpenSSH's accept-new: record unknown host keys; changed keys are still refused."`
	Sudo        bool          `name:"sudo" help:"Run host commands through sudo -n."`
	Sim         string        `name:"sim" type:"path" placeholder:"DIR" env:"TIKV_EAR_SIM" help:"Use the simulated cluster started by 'tikv-ear sim up --dir DIR'."`
	Timeout     time.Duration `name:"timeout" default:"10s" help:"Timeout of each PD and status-port request."`
	Concurrency int           `name:"concurrency" default:"20" help:"Hosts inspected at once."`
}

// Session is a connected cluster: PD, the inventory and an SSH executor.
type Session struct {
	Flags     ConnectFlags
	PD        *pd.Client
	Stores    []pd.StoreInfo
	Inventory *inventory.Inventory
	SSH       *ssh.Client
	ClusterID uint64
	SimEnv    *sim.Env
}

// Close releases SSH connections.
func (s *Session) Close() {
	if s.SSH != nil {
		s.SSH.Close()
	}
}

// applySim fills the flags from a running sim's env file.
func (f *ConnectFlags) applySim() (*sim.Env, error) {
	if f.Sim == "" {
		return nil, nil
	}
	env, err := sim.ReadEnv(f.Sim)
	if err != nil {
		return nil, Usagef("start one with 'tikv-ear sim up --dir "+f.Sim+"'", "reading the simulated cluster in %s: %v", f.Sim, err)
	}
	if len(f.PD) == 0 {
		f.PD = env.PDURLs
	}
	if f.Meta == "" && f.Inventory == "" {
		f.Meta = env.Meta
		if env.Meta == "" {
			f.Inventory = filepath.Join(env.Dir, "inventory.toml")
		}
	}
	if f.SSHConfig == "" {
		f.SSHConfig = env.SSHConfig
	}
	if len(f.KnownHosts) == 0 {
		f.KnownHosts = []string{env.KnownHosts}
	}
	if len(f.Identity) == 0 {
		f.Identity = []string{env.Identity}
	}
	return &env, nil
}

// Connect reads PD, builds the inventory and prepares (lazy) SSH.
func (f ConnectFlags) Connect(ctx context.Context) (*Session, error) {
	env, err := f.applySim()
	if err != nil {
		return nil, err
	}
	if len(f.PD) == 0 {
		return nil, Usagef("pass --pd http://pd-host:2379 (or --sim DIR for the simulated cluster)", "no PD endpoint given")
	}
	client, err := pd.New(pd.Options{Endpoints: f.PD, TLS: pd.TLSFiles{CA: f.PDCA, Cert: f.PDCert, Key: f.PDKey}, Timeout: f.Timeout})
	if err != nil {
		return nil, fmt.Errorf("PD client: %w", err)
	}
	stores, err := client.Stores(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("reading stores from PD: %w", err)
	}
	cl, err := client.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster id from PD: %w", err)
	}
	inv, err := inventory.Build(stores, inventory.Sources{MetaPath: f.Meta, TiUPCluster: f.TiUPCluster, ManualPath: f.Inventory, PDClientURLs: f.PD})
	if err != nil {
		return nil, err
	}
	sshc, err := f.SSHClient(2 * time.Minute)
	if err != nil {
		return nil, err
	}
	return &Session{Flags: f, PD: client, Stores: stores, Inventory: inv, SSH: sshc, ClusterID: cl.Id, SimEnv: env}, nil
}

// SSHClient builds the SSH executor the flags describe: ssh_config (default
// ~/.ssh/config when present), known_hosts, identities, sudo, and a per-command
// timeout (long ones, such as a forced compaction, ask for more).
func (f ConnectFlags) SSHClient(commandTimeout time.Duration) (*ssh.Client, error) {
	if err := checkIdentities(f.Identity); err != nil {
		return nil, err
	}
	var cfg *ssh.Config
	cfgPath := f.SSHConfig
	if cfgPath == "" {
		if p, err := ssh.DefaultConfigPath(); err == nil {
			if _, err := os.Stat(p); err == nil {
				cfgPath = p
			}
		}
	}
	if cfgPath != "" {
		var err error
		if cfg, err = ssh.LoadConfig(cfgPath); err != nil {
			return nil, err
		}
	}
	return ssh.NewClient(ssh.Options{
		User: f.SSHUser, IdentityFiles: f.Identity, KnownHostsFiles: f.KnownHosts,
		AcceptNewHostKeys: f.AcceptNew, Config: cfg, Sudo: f.Sudo, CommandTimeout: commandTimeout,
	}), nil
}

// checkIdentities refuses, before any host is contacted, an identity file
// OpenSSH would refuse for its permissions (exit 2, the chmod in the hint).
func checkIdentities(files []string) error {
	for _, f := range files {
		var perm *ssh.UnprotectedKeyError
		if err := ssh.CheckIdentityFile(f); errors.As(err, &perm) {
			return &Error{Msg: err.Error(), Hints: []string{perm.Hint()}, Code: ExitUsage, Err: err}
		}
	}
	return nil
}

// NodePlan turns an inventory node into the plan's node entry.
func NodePlan(n inventory.Node, sshUser string) steps.NodePlan {
	port := n.Port
	if port == 0 {
		if _, p, err := net.SplitHostPort(n.Address); err == nil {
			port, _ = strconv.Atoi(p)
		}
	}
	user := n.SSHUser
	if user == "" {
		user = sshUser
	}
	v, _ := tikv.ParseVersion(n.Version)
	return steps.NodePlan{
		StoreID: n.StoreID, Address: n.Address, StatusAddress: n.StatusAddress, Zone: n.Labels["zone"],
		Version: n.Version, Host: n.Host, SSHPort: n.SSHPort, SSHUser: user,
		ConfigPath: n.ConfigPath, DataDir: n.DataDir, LogFile: n.LogFile,
		Service: n.ServiceName, RestartCommand: n.RestartCommand, Port: port,
		TiUPManaged: n.TiUPManaged, RaftEngine: tikv.RaftEngineDefaultOn(v),
	}
}

// StatusClient returns the status-port client of a node.
func StatusClient(n steps.NodePlan, timeout time.Duration) *tikv.StatusClient {
	base := n.StatusAddress
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &tikv.StatusClient{BaseURL: base, HTTP: httpClient(timeout)}
}
