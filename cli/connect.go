package cli

import (
	"context"
	"path/filepath"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// ConnectFlags say how to reach a cluster: PD, the node inventory and SSH.
// Every command that talks to a cluster embeds them. They carry the fields of
// steps.ConnectOptions, so Options converts them directly.
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
	Sim         string        `name:"sim" type:"path" placeholder:"DIR" env:"TIKV_EAR_SIM" help:"Use the simulated cluster started by 'tikv-ear sim up --sim DIR'."`
	Timeout     time.Duration `name:"timeout" default:"10s" help:"Timeout of each PD and status-port request."`
	Concurrency int           `name:"concurrency" default:"20" help:"Hosts inspected at once."`
}

// Session is a connected cluster (steps.Cluster).
type Session = steps.Cluster

// Options returns the engine's connect options, a simulated cluster's env
// file applied first.
func (f ConnectFlags) Options() (steps.ConnectOptions, error) {
	if f.Sim != "" {
		env, err := sim.ReadEnv(f.Sim)
		if err != nil {
			return steps.ConnectOptions{}, Usagef("start one with 'tikv-ear sim up --sim "+f.Sim+"'", "reading the simulated cluster in %s: %v", f.Sim, err)
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
		f.Sim = env.Dir
	}
	return steps.ConnectOptions(f), nil
}

// Connect reads PD, builds the inventory and prepares (lazy) SSH.
func (f ConnectFlags) Connect(ctx context.Context) (*Session, error) {
	o, err := f.Options()
	if err != nil {
		return nil, err
	}
	return o.Connect(ctx)
}

// planConnect returns the connection flags recorded in a plan.
func planConnect(p *steps.Plan) ConnectFlags { return ConnectFlags(steps.PlanConnect(p)) }
