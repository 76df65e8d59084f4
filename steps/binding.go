package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
)

// Mismatch is one way a plan node differs from the cluster it claims to
// describe: PD's store, or what the host the node's SSH reaches serves.
type Mismatch struct {
	StoreID uint64
	Field   string // e.g. "address", "labels.zone", "unit", "data-dir", "port"
	Plan    string // what the plan says
	Cluster string // what PD or the host says
	Source  string // "PD" or the host's SSH target
}

func (m Mismatch) String() string {
	return fmt.Sprintf("store %d %s: the plan says %q, %s says %q", m.StoreID, m.Field, m.Plan, m.Source, m.Cluster)
}

// Binding is a plan checked against the cluster at apply time.
type Binding struct {
	// Nodes are the plan nodes the run covers (all, or the --stores subset).
	Nodes []NodePlan
	// Up is how many stores PD shows Up; Partial is set when the run covers fewer.
	Up      int
	Partial bool
	// Outside are the Up stores the run leaves alone.
	Outside []uint64
}

// Summary is "partial: N of M Up stores" for a partial run, "" otherwise.
func (b Binding) Summary() string {
	if !b.Partial {
		return ""
	}
	return fmt.Sprintf("partial: %d of %d Up stores (stores %v not in this run)", len(b.Nodes), b.Up, b.Outside)
}

// BindingError stops a run before its first change: the plan does not match
// the cluster, or does not cover it and no subset was named.
type BindingError struct {
	Mismatches []Mismatch
	// Missing are Up stores the plan lacks (no --stores given).
	Missing []uint64
	// NotInPlan are --stores ids the plan has no node for.
	NotInPlan []uint64
}

func (e *BindingError) Error() string {
	var parts []string
	if len(e.NotInPlan) > 0 {
		parts = append(parts, fmt.Sprintf("--stores names store(s) %v the plan has no node for", e.NotInPlan))
	}
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("the plan does not cover Up store(s) %v", e.Missing))
	}
	for _, m := range e.Mismatches {
		parts = append(parts, m.String())
	}
	return "the plan does not match the cluster; nothing changed:\n" + strings.Join(parts, "\n")
}

// Hint says how to fix it.
func (e *BindingError) Hint() string {
	if len(e.Mismatches) == 0 && len(e.NotInPlan) == 0 {
		return "re-create the plan with 'tikv-ear plan' to cover every store, or name the stores to run on with --stores (the report then says the run was partial)"
	}
	return "re-create the plan against this cluster with 'tikv-ear plan' (a plan is never edited by hand to point at other hosts)"
}

// BindPlan checks, before the first change, that every plan node the run
// covers is the store it claims to be: PD's store of that id has the node's
// address, status address and zone label, and the host the node's SSH reaches
// serves that store: its unit exists and starts TiKV with the node's
// advertise address, status address, data dir and config, and it listens on
// the node's port. A plan that leaves out an Up store is refused unless
// subset names the stores to run on. nodes maps store ids to the plan nodes'
// SSH nodes; an SSH failure is an error, not a mismatch.
func BindPlan(ctx context.Context, p *Plan, stores []Store, nodes map[uint64]*SSHNode, subset []uint64) (Binding, error) {
	var b Binding
	byID := map[uint64]Store{}
	var up []uint64
	for _, s := range stores {
		byID[s.ID] = s
		if s.StateName == "Up" {
			up = append(up, s.ID)
		}
	}
	slices.Sort(up)
	b.Up = len(up)
	berr := &BindingError{}
	if len(subset) > 0 {
		for _, id := range subset {
			n, ok := p.Node(id)
			if !ok {
				berr.NotInPlan = append(berr.NotInPlan, id)
				continue
			}
			b.Nodes = append(b.Nodes, n)
		}
	} else {
		b.Nodes = slices.Clone(p.Nodes)
	}
	for _, id := range up {
		if !slices.ContainsFunc(b.Nodes, func(n NodePlan) bool { return n.StoreID == id }) {
			b.Outside = append(b.Outside, id)
		}
	}
	if len(subset) == 0 {
		berr.Missing = b.Outside
	}
	b.Partial = len(b.Outside) > 0

	// PD's side: the store of the node's id is the store the node describes.
	// Store fields: tikv/pd server/api/store.go MetaStore (address,
	// status_address, labels), read through cluster/pd.
	for _, n := range b.Nodes {
		s, ok := byID[n.StoreID]
		if !ok {
			berr.Mismatches = append(berr.Mismatches, Mismatch{StoreID: n.StoreID, Field: "store-id", Plan: fmt.Sprint(n.StoreID), Cluster: "no such store", Source: "PD"})
			continue
		}
		if s.StateName == pd.StateTombstone {
			// Removed for good: PD buried it once it held no region (tikv/pd
			// server/cluster/cluster.go checkStore, NodeState_Removing with zero
			// region size -> BuryStoreLocked) and refuses its TiKV (pdpb
			// STORE_TOMBSTONE). A new plan leaves it out: PD's GET /stores lists
			// Up and Offline stores only (server/api/store.go NewStoreStateFilter).
			berr.Mismatches = append(berr.Mismatches, Mismatch{StoreID: n.StoreID, Field: "state", Plan: "a store to restart", Cluster: pd.StateTombstone + " (removed from the cluster; it holds no region)", Source: "PD"})
			continue
		}
		for _, c := range [][3]string{{"address", n.Address, s.Address}, {"status-address", n.StatusAddress, s.StatusAddress}, {"labels.zone", n.Zone, s.Labels["zone"]}} {
			if c[1] != c[2] {
				berr.Mismatches = append(berr.Mismatches, Mismatch{StoreID: n.StoreID, Field: c[0], Plan: c[1], Cluster: c[2], Source: "PD"})
			}
		}
	}
	// Two nodes that reach one TiKV instance (a copied entry) would restart
	// one store believing it is another.
	seen := map[string]uint64{}
	for _, n := range b.Nodes {
		k := SSHTarget(n) + "|" + n.ConfigPath
		if other, ok := seen[k]; ok {
			berr.Mismatches = append(berr.Mismatches, Mismatch{StoreID: n.StoreID, Field: "host", Plan: k, Cluster: fmt.Sprintf("also store %d's host and config", other), Source: "plan"})
		}
		seen[k] = n.StoreID
	}

	// The hosts' side, a few at a time.
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, StageConcurrency)
	for _, n := range b.Nodes {
		node, ok := nodes[n.StoreID]
		if !ok || byID[n.StoreID].StateName == pd.StateTombstone {
			continue // a Tombstone store's host serves nothing to compare
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ms, err := bindHost(ctx, n, byID[n.StoreID], node)
			mu.Lock()
			defer mu.Unlock()
			berr.Mismatches = append(berr.Mismatches, ms...)
			if err != nil {
				errs = append(errs, fmt.Errorf("store %d on %s: %w", n.StoreID, SSHTarget(n), err))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return b, fmt.Errorf("checking the plan's hosts before any change: %w", err)
	}
	slices.SortStableFunc(berr.Mismatches, func(x, y Mismatch) int { return int(x.StoreID) - int(y.StoreID) })
	if len(berr.Mismatches) > 0 || len(berr.Missing) > 0 || len(berr.NotInPlan) > 0 {
		return b, berr
	}
	return b, nil
}

// loadedPath is the unit file in `systemctl status` output: "Loaded: loaded
// (/etc/systemd/system/tikv-20160.service; enabled; preset: enabled)"
// (systemd src/systemctl/systemctl-show.c print_status_info).
var loadedPath = regexp.MustCompile(`Loaded: loaded \(([^;)]+)`)

// scriptRef is a script ExecStart runs: TiUP's units run
// "/bin/bash -c '<deploy>/scripts/run_tikv.sh'" (or the script itself in older
// templates; pingcap/tiup embed/templates/systemd/system.service.tpl).
var scriptRef = regexp.MustCompile(`(/[^\s'"]+\.sh)`)

// tikvFlag reads one tikv-server flag from a command line or TiUP's
// run_tikv.sh (pingcap/tiup embed/templates/scripts/run_tikv.sh.tpl:
// --addr, --advertise-addr, --status-addr, --advertise-status-addr,
// --data-dir, --config), in "--flag value", "--flag=value" or quoted form.
func tikvFlag(text, flag string) string {
	re := regexp.MustCompile(`--` + regexp.QuoteMeta(flag) + `[= ]+"?([^\s"\\]+)"?`)
	if m := re.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// scriptDir is the directory TiUP's run_tikv.sh changes to (cd "<deploy>").
var scriptDir = regexp.MustCompile(`(?m)^cd "?([^"\s|]+)"?`)

// bindHost compares what n's host serves with n and PD's store s.
func bindHost(ctx context.Context, n NodePlan, s Store, node *SSHNode) ([]Mismatch, error) {
	src := SSHTarget(n)
	var out []Mismatch
	bad := func(field, plan, cluster string) {
		out = append(out, Mismatch{StoreID: n.StoreID, Field: field, Plan: plan, Cluster: cluster, Source: src})
	}
	run := func(cmd string) (ssh.Result, error) { return node.N.Exec.Run(ctx, node.N.Host, cmd, nil) }

	// The port the plan restarts and waits on is served by this host.
	if _, p, err := net.SplitHostPort(n.Address); err == nil && p != strconv.Itoa(n.Port) {
		bad("port", strconv.Itoa(n.Port), "address "+n.Address)
	}
	listening, err := node.PortListening(ctx, n.Port)
	if err != nil {
		return out, err
	}
	if n.Service == "" {
		// A restart command: no unit to read, so the port is the only proof
		// that this host serves the store. Nothing listening is no proof
		// either way (the store may be down or still starting, e.g. restarted
		// by a run that was then aborted), so the binding is refused until it
		// can be read.
		if !listening {
			bad("port", strconv.Itoa(n.Port), "nothing listening (ss -ltn), and the plan names no unit to read instead: cannot tell that this host serves the store; wait until the store has started, then run again")
		}
		return out, nil
	}
	// With a unit, the unit's own flags bind the host to the store below. A
	// port not listening says only that TiKV is down or still starting (a
	// resumed run finds the store an aborted run restarted still starting):
	// not a mismatch, and the run's readiness and safety checks wait for it.
	res, err := run(ssh.Command("systemctl", "status", "--no-pager", n.Service))
	if err != nil {
		return out, err
	}
	m := loadedPath.FindStringSubmatch(string(res.Stdout))
	if m == nil {
		// systemctl status exits 4 for "no such unit" (systemctl(1) EXIT STATUS).
		bad("unit", n.Service, "no such unit")
		return out, nil
	}
	unit, ok, err := node.ReadFile(ctx, m[1])
	if err != nil || !ok {
		return out, fmt.Errorf("reading the unit file %s: %v", m[1], err)
	}
	cmdline := string(unit)
	dir := ""
	if sm := scriptRef.FindStringSubmatch(cmdline); sm != nil {
		script, ok, err := node.ReadFile(ctx, sm[1])
		if err != nil || !ok {
			return out, fmt.Errorf("reading %s (the unit's start script): %v", sm[1], err)
		}
		cmdline = string(script)
		if dm := scriptDir.FindStringSubmatch(cmdline); dm != nil {
			dir = dm[1]
		}
	}
	abs := func(p string) string {
		if p == "" || path.IsAbs(p) || dir == "" {
			return p
		}
		return path.Join(dir, p)
	}
	first := func(flags ...string) string {
		for _, f := range flags {
			if v := tikvFlag(cmdline, f); v != "" {
				return v
			}
		}
		return ""
	}
	sameAddr := func(field, served, want string) {
		if served == "" || want == "" {
			return
		}
		h, p, err := net.SplitHostPort(served)
		wh, wp, werr := net.SplitHostPort(want)
		if err != nil || werr != nil || p != wp || (h != wh && h != "0.0.0.0" && h != "::" && h != "") {
			bad(field, want, served+" (the unit's "+src+")")
		}
	}
	sameAddr("address", first("advertise-addr", "addr"), s.Address)
	sameAddr("status-address", first("advertise-status-addr", "status-addr"), s.StatusAddress)
	if d := abs(first("data-dir")); d != "" && path.Clean(d) != path.Clean(n.DataDir) {
		bad("data-dir", n.DataDir, d)
	}
	if c := abs(first("config")); c != "" && path.Clean(c) != path.Clean(n.ConfigPath) {
		bad("config-path", n.ConfigPath, c)
	}
	return out, nil
}
