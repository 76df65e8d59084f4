package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/ui/storetable"
)

// SimCmd runs the embedded simulated cluster and injects faults into it.
type SimCmd struct {
	Up    SimUpCmd    `cmd:"" help:"Run a simulated TiKV cluster (PD, stores, SSH hosts) until interrupted."`
	Fault SimFaultCmd `cmd:"" help:"Switch a fault on or off in a running simulated cluster."`
}

// SimUpCmd is `tikv-ear sim up`.
type SimUpCmd struct {
	Stores      int      `default:"6" help:"Number of TiKV stores (one host each)."`
	Zones       int      `default:"3" help:"Number of zones; stores get zone=z1..zN round robin."`
	Regions     int      `default:"600" help:"Number of regions PD places."`
	Speed       float64  `default:"10" help:"Sim seconds per wall second."`
	Dir         string   `name:"sim" default:"tikv-ear-sim" type:"path" help:"Directory for hosts, keys and sim.env (what --sim names in every other command)."`
	DirOld      string   `name:"dir" hidden:"" type:"path" help:"Deprecated spelling of --sim."`
	Versions    []string `default:"8.5.2" sep:"," help:"TiKV version for all stores, or one per store (comma-separated)."`
	Layout      string   `default:"tiup" enum:"tiup,systemd" help:"Host layout: TiUP tree with meta.yaml, or a hand-made systemd deployment."`
	KMSEndpoint string   `name:"kms-endpoint" help:"KMS endpoint the stores may use (e.g. a local-kms URL), recorded in sim.env."`
	CloudKMS    string   `name:"cloud-kms" enum:",gcp,azure" default:"" help:"Also run an in-process cloud KMS the stores reach offline (gcp or azure) and write <dir>/key-<vendor>.toml for plan --key-config."`
	PDServer    string   `name:"pd-server" type:"path" help:"Run this real pd-server instead of the in-process PD; the stores join it over gRPC (README: Real parts)."`
	PDMembers   int      `name:"pd-members" default:"1" help:"Real PD members to run with --pd-server: 1 or 3."`
}

// Run starts the sim, prints how to reach it and waits for an interrupt.
func (c *SimUpCmd) Run(g *Globals) error {
	deprecatedFlag(g, "--dir", "--sim", c.DirOld, &c.Dir)
	if c.Stores < 1 {
		return Usagef("give --stores 1 or more", "--stores %d: a cluster needs at least one store", c.Stores)
	}
	if c.Speed <= 0 {
		return Usagef("give a positive --speed, e.g. --speed 10", "--speed %v: the sim clock must run forward", c.Speed)
	}
	if len(c.Versions) != 1 && len(c.Versions) != c.Stores {
		return Usagef("give one version for all stores or exactly one per store",
			"--versions has %d entries for %d stores", len(c.Versions), c.Stores)
	}
	if c.PDMembers != 0 && c.PDMembers != 1 && c.PDMembers != 3 {
		return Usagef("give --pd-members 1 or 3", "--pd-members %d: PD runs 1 or 3 members here", c.PDMembers)
	}
	if c.PDMembers > 1 && c.PDServer == "" {
		return Usagef("add --pd-server PATH to run real PD members", "--pd-members %d needs --pd-server", c.PDMembers)
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: starting %d simulated stores in %s\n", c.Stores, c.Dir)
	opts := sim.Options{
		Stores: c.Stores, Zones: c.Zones, Regions: c.Regions, Speed: c.Speed, Dir: c.Dir,
		Versions: c.Versions, Layout: c.Layout, KMSEndpoint: c.KMSEndpoint,
		PDServer: c.PDServer, PDMembers: c.PDMembers,
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return Failf("check that "+c.Dir+" is writable", "creating %s: %v", c.Dir, err)
	}
	cloud, err := startSimCloud(c.CloudKMS, c.Dir, &opts)
	if err != nil {
		return Failf("check that "+c.Dir+" is writable and free ports exist on 127.0.0.1", "starting the %s KMS fake: %v", c.CloudKMS, err)
	}
	if cloud != nil {
		defer cloud.close()
	}
	cl, err := sim.Start(g.Ctx, opts)
	if err != nil {
		return Failf("check that "+c.Dir+" is writable and free ports exist on 127.0.0.1", "starting the simulated cluster: %v", err)
	}
	defer cl.Close()
	printSimSummary(g, cl)
	if cloud != nil {
		fmt.Fprintf(g.IO.Out, "key config: %s\n", cloud.keyConfig)
		fmt.Fprintf(g.IO.Err, "tikv-ear: hint: tikv-ear plan --sim %s --key-config %s --env staging --out-file plan.toml\n", c.Dir, cloud.keyConfig)
	}
	<-g.Ctx.Done()
	fmt.Fprintln(g.IO.Err, "tikv-ear: stopping the simulated cluster")
	return nil
}

// storeRows converts the sim's store table for package storetable.
func storeRows(cl *sim.Cluster) []storetable.Row {
	var rows []storetable.Row
	for _, r := range cl.Stores() {
		rows = append(rows, storetable.Row{
			StoreID: r.StoreID, Node: r.Node, Address: r.Address, Zone: r.Zone, Version: r.Version,
			State: r.State, Leaders: r.Leaders, Regions: r.Regions, Unit: r.Unit, UnitState: r.UnitState, SSHPort: r.SSHPort,
		})
	}
	return rows
}

// printSimSummary prints the store table and the env on stdout, and how to use them on stderr.
func printSimSummary(g *Globals, cl *sim.Cluster) {
	e := cl.Env()
	fmt.Fprint(g.IO.Out, storetable.Plain(storeRows(cl)))
	fmt.Fprintf(g.IO.Out, "\nenv file:   %s\n", e.File())
	fmt.Fprintf(g.IO.Out, "pd:         %s\n", strings.Join(e.PDURLs, ","))
	fmt.Fprintf(g.IO.Out, "ssh config: %s\n", e.SSHConfig)
	if e.Meta != "" {
		fmt.Fprintf(g.IO.Out, "meta.yaml:  %s\n", e.Meta)
	}
	fmt.Fprintf(g.IO.Out, "control:    %s\n", e.Control)
	first := cl.Nodes()[0]
	fmt.Fprintf(g.IO.Err, "tikv-ear: hint: ssh -F %s %s systemctl status %s\n", e.SSHConfig, first.Name, first.Paths.UnitName)
	fmt.Fprintf(g.IO.Err, "tikv-ear: hint: tikv-ear sim fault --sim %s ssh-refuse --node 1\n", e.Dir)
	fmt.Fprintln(g.IO.Err, "tikv-ear: running; press Ctrl-C to stop")
}

// SimFaultCmd is `tikv-ear sim fault`.
type SimFaultCmd struct {
	Dir      string        `name:"sim" default:"tikv-ear-sim" type:"path" help:"Directory of the running sim (where sim.env is)."`
	DirOld   string        `name:"dir" hidden:"" type:"path" help:"Deprecated spelling of --sim."`
	Kind     string        `arg:"" enum:"start-failure,slow-start,ssh-refuse,ssh-drop,ssh-latency,disk-full,eviction-stuck,pd-unavailable,pd-no-leader,kms-unreachable" help:"Fault: ${enum}."`
	Node     int           `help:"1-based node index; 0 means every node."`
	Off      bool          `help:"Switch the fault off."`
	Message  string        `help:"start-failure: FATAL text; disk-full: path prefix that fills up."`
	Duration time.Duration `help:"slow-start: sim duration; ssh-latency: wall duration per session."`
	Count    int           `help:"ssh-drop: number of sessions to drop (default 1)."`
	Once     bool          `help:"start-failure: fail only the next start."`
}

// Run posts the fault to the sim's control server.
func (c *SimFaultCmd) Run(g *Globals) error {
	deprecatedFlag(g, "--dir", "--sim", c.DirOld, &c.Dir)
	if c.Node < 0 {
		return Usagef("use --node 1 for the first node, or 0 for all", "--node %d is not a node index", c.Node)
	}
	if (c.Kind == sim.FaultSlowStart || c.Kind == sim.FaultSSHLatency) && !c.Off && c.Duration <= 0 {
		return Usagef("e.g. --duration 2m", "%s needs --duration", c.Kind)
	}
	e, err := sim.ReadEnv(c.Dir)
	if err != nil {
		return Failf("start it with 'tikv-ear sim up --sim "+c.Dir+"', or pass the --sim it uses", "%v", err)
	}
	f := sim.Fault{Kind: c.Kind, Node: c.Node, Off: c.Off, Message: c.Message, Duration: c.Duration, Count: c.Count, Once: c.Once}
	if err := sim.PostFault(g.Ctx, e.Control, f); err != nil {
		return Failf("is 'tikv-ear sim up --sim "+c.Dir+"' still running?", "injecting %s: %v", c.Kind, err)
	}
	state := "on"
	if c.Off {
		state = "off"
	}
	target := "every node"
	if c.Node > 0 {
		target = fmt.Sprintf("node %d", c.Node)
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: %s %s for %s\n", c.Kind, state, target)
	return nil
}
