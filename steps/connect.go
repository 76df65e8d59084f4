package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvstatus"
)

// ConnectOptions say how to reach a cluster: PD, the node inventory and SSH.
// cli.ConnectFlags carries the same fields with their flags; a face converts
// it (a simulated cluster's env file already applied) and calls Connect.
type ConnectOptions struct {
	PD          []string      // PD endpoints (any member)
	PDCA        string        // PD CA certificate (TiUP: tls/ca.crt)
	PDCert      string        // PD client certificate (TiUP: tls/client.crt)
	PDKey       string        // PD client key (TiUP: tls/client.pem)
	TiUPCluster string        // TiUP cluster name: ~/.tiup/storage/cluster/clusters/NAME/meta.yaml
	Meta        string        // TiUP meta.yaml to read paths and SSH ports from
	Inventory   string        // manual inventory TOML for clusters TiUP does not manage
	SSHConfig   string        // ssh_config file (default ~/.ssh/config)
	KnownHosts  []string      // known_hosts files; host keys are always checked
	Identity    []string      // SSH private key files (ssh-agent is used too)
	SSHUser     string        // SSH login user when the inventory names none
	AcceptNew   bool          // OpenSSH's accept-new for unknown host keys
	Sudo        bool          // run host commands through sudo -n
	Sim         string        // the simulated cluster's directory these were filled from (file keys default into it); "" for a real cluster
	Timeout     time.Duration // timeout of each PD and status-port request
	Concurrency int           // hosts inspected at once
}

// Cluster is a connected cluster: PD, the inventory and an SSH executor.
type Cluster struct {
	Flags     ConnectOptions
	PD        *pd.Client
	Stores    []pd.StoreInfo
	Inventory *inventory.Inventory
	SSH       *ssh.Client
	ClusterID uint64
}

// Close releases SSH connections.
func (s *Cluster) Close() {
	if s.SSH != nil {
		s.SSH.Close()
	}
}

// Connect reads PD, builds the inventory and prepares (lazy) SSH.
func (f ConnectOptions) Connect(ctx context.Context) (*Cluster, error) {
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
	return &Cluster{Flags: f, PD: client, Stores: stores, Inventory: inv, SSH: sshc, ClusterID: cl.Id}, nil
}

// SSHClient builds the SSH executor the flags describe: ssh_config (default
// ~/.ssh/config when present), known_hosts, identities, sudo, and a per-command
// timeout (long ones, such as a forced compaction, ask for more).
func (f ConnectOptions) SSHClient(commandTimeout time.Duration) (*ssh.Client, error) {
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

// NodePlanOf turns an inventory node into the plan's node entry.
func NodePlanOf(n inventory.Node, sshUser string) NodePlan {
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
	return NodePlan{
		StoreID: n.StoreID, Address: n.Address, StatusAddress: n.StatusAddress, Zone: n.Labels["zone"],
		Version: n.Version, Host: n.Host, SSHPort: n.SSHPort, SSHUser: user,
		ConfigPath: n.ConfigPath, DataDir: n.DataDir, LogFile: n.LogFile,
		Service: n.ServiceName, RestartCommand: n.RestartCommand, Port: port,
		TiUPManaged: n.TiUPManaged, RaftEngine: tikv.RaftEngineDefaultOn(v),
	}
}

// StatusClient returns the status-port client of a node.
func StatusClient(n NodePlan, timeout time.Duration) *tikvstatus.StatusClient {
	base := n.StatusAddress
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &tikvstatus.StatusClient{BaseURL: base, HTTP: HTTPClient(timeout)}
}

// HTTPClient is the client for TiKV status ports.
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout}
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
