package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/steps"
)

// exposeConsequence is what the operator types back before the master key is
// switched to plaintext, which TiKV allows but which marks every data key exposed.
const exposeConsequence = "expose every data key"

// compactCFs are the kv column families a forced compaction covers, in the
// order of tikv-encryption.md §2.4 (tikv-ctl -c, cmd/tikv-ctl/src/cmd.rs Compact).
var compactCFs = []string{"default", "lock", "write"}

// compactCost is what a forced bottommost compaction costs (tikv-encryption.md §2.4; docs/disable.md).
const compactCost = "a forced bottommost compaction reads and rewrites every SST of the column family on the store: " +
	"heavy disk I/O and CPU for the whole run, extra disk space while old and new files coexist, and higher latency " +
	"for foreground traffic. Run it off-peak, one store at a time. Raft Engine files are not part of it (-d kv)."

// upStreak is how many polls in a row PD must show a compacted store Up
// before the next store starts.
const upStreak = 3

// DisableCmd is the only safe way back (reference tikv-encryption.md §2.5): the
// method goes to plaintext while the master key stays configured, because
// existing encrypted files still need their data keys. New files are written in
// plaintext and compaction rewrites the old ones; 'verify --watch' shows the
// encrypted count shrink, and --compact forces it store by store. The master
// key may be removed only when no encrypted file is left.
type DisableCmd struct {
	Plan            string        `arg:"" type:"existingfile" help:"plan.toml of the cluster."`
	Yes             bool          `name:"yes" short:"y" help:"Do not ask for confirmation (with --compact: compact every store without asking)."`
	Compact         bool          `name:"compact" help:"After step one, run the forced compaction over SSH on each store's host, one store at a time, asking before each store (all at once with --yes)."`
	TikvCtl         string        `name:"tikv-ctl" default:"tikv-ctl" placeholder:"PATH" help:"tikv-ctl on the store hosts, for --compact."`
	CompactTimeout  time.Duration `name:"compact-timeout" default:"12h" help:"Longest one tikv-ctl compaction command may run, for --compact."`
	RemoveMasterKey bool          `name:"remove-master-key" help:"Second step, once no encrypted file is left: switch the master key to plaintext (TiKV marks every data key exposed)."`
	Confirm         string        `name:"confirm" placeholder:"TEXT" help:"For --remove-master-key without a terminal: the consequence typed back, exactly \"expose every data key\" (--yes alone is not enough)."`
	Resume          bool          `name:"resume" help:"Continue an interrupted run."`
	Abort           bool          `name:"abort" help:"Stop an interrupted run safely."`
	BreakLock       bool          `name:"break-lock" help:"Take over the run lease of a run that is gone (asks for confirmation; a live run is never broken)."`
	Output          string        `name:"output" enum:"text,json" default:"text" help:"text or json."`
	Verbose         bool          `name:"verbose" short:"v" help:"Also print node log lines and metric samples."`
}

// Run disables encryption (step one, optionally followed by the forced
// compaction) or removes the master key (step two).
func (c *DisableCmd) Run(g *Globals) error {
	opts := runOptions{Plan: c.Plan, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Resume: c.Resume, Abort: c.Abort, BreakLock: c.BreakLock, Kind: steps.KindDisable}
	if c.Compact && c.RemoveMasterKey {
		return Usagef("compact first ('tikv-ear disable "+c.Plan+" --compact'), then remove the master key in a second run", "--compact and --remove-master-key are separate steps")
	}
	if !c.RemoveMasterKey {
		if c.Compact && !c.Yes && !g.IO.Interactive() {
			return Usagef("pass --yes to compact every store without asking", "--compact asks before each store and there is no terminal to ask on")
		}
		opts.Adjust = func(p *steps.Plan) {
			if p.Target.Method != tikv.MethodPlaintext {
				p.Target.Method = tikv.MethodPlaintext
				if err := savePlan(c.Plan, p); err != nil {
					fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %v\n", err)
				}
			}
		}
		if err := runPlan(g, opts); err != nil {
			return err
		}
		if c.Abort {
			return nil
		}
		p, err := steps.LoadPlan(c.Plan)
		if err != nil {
			return err
		}
		if !c.Compact {
			printCompaction(g.IO.Err, c.Plan, p.Nodes, c.TikvCtl)
			return nil
		}
		return c.compact(g, p)
	}
	return c.removeMasterKey(g, opts)
}

// removeMasterKey is step two: refused while any encrypted file is left, and
// only with the consequence typed back.
func (c *DisableCmd) removeMasterKey(g *Globals, opts runOptions) error {
	left, err := encryptedLeft(g.Ctx, c.Plan)
	if err != nil {
		return err
	}
	if total := sumLeft(left); total > 0 {
		return &Error{Msg: fmt.Sprintf("%d encrypted file(s) are still on the stores (%s): removing the master key now would make them unreadable", total, describeLeft(left)),
			Hints: []string{fmt.Sprintf("wait for compaction (watch with 'tikv-ear verify --plan %s --watch'), or force it: 'tikv-ear disable %s --compact' (see docs/disable.md for the cost)", c.Plan, c.Plan)},
			Code:  ExitFailure}
	}
	typed := c.Confirm
	if typed == "" {
		if !g.IO.Interactive() {
			return Usagef(fmt.Sprintf("pass --confirm %q, or run it in a terminal", exposeConsequence), "removing the master key needs the consequence typed back (--yes is not enough)")
		}
		fmt.Fprintf(g.IO.Err, "TiKV will rewrite key.dict without encryption and mark every data key exposed.\nType %q to continue: ", exposeConsequence)
		line, _ := bufio.NewReader(g.IO.In).ReadString('\n')
		typed = strings.TrimSpace(line)
	}
	if typed != exposeConsequence {
		return &Error{Msg: "the consequence was not typed back; nothing changed", Hints: []string{fmt.Sprintf("type exactly %q", exposeConsequence)}, Code: ExitAborted}
	}
	opts.Yes = true
	var previous kms.KeyRef
	opts.Prepare = func(_ context.Context, p *steps.Plan, _ kms.Backend) ([]kms.KeyRef, error) {
		previous = p.Target.MasterKey
		p.Target.Method = tikv.MethodPlaintext
		p.Target.PreviousMasterKey = &previous
		p.Target.MasterKey = kms.KeyRef{}
		return []kms.KeyRef{previous}, nil
	}
	opts.After = func(_ context.Context, p *steps.Plan, _ *Engine, _ *steps.Result) error {
		return savePlan(c.Plan, p)
	}
	return runPlan(g, opts)
}

// compactCommand is the tikv-ctl command line that force-compacts one column
// family of the store at addr (tikv-encryption.md §2.4).
func compactCommand(tikvCtl, addr, cf string) []string {
	return []string{tikvCtl, "--host", addr, "compact", "-d", "kv", "-c", cf, "--bottommost", "force"}
}

// sortedNodes returns the plan's nodes in store-id order.
func sortedNodes(nodes []steps.NodePlan) []steps.NodePlan {
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b steps.NodePlan) int { return cmp.Compare(a.StoreID, b.StoreID) })
	return out
}

// printCompaction tells the operator how to force the rewrite of the files
// still encrypted, and what it costs; nothing runs.
func printCompaction(w io.Writer, planPath string, nodes []steps.NodePlan, tikvCtl string) {
	fmt.Fprintln(w, "tikv-ear: new files are written in plaintext; files already encrypted stay encrypted (and need the master key) until compaction rewrites them.")
	fmt.Fprintln(w, "tikv-ear: to rewrite them now, run a forced compaction on each store's host, one store at a time:")
	for _, n := range sortedNodes(nodes) {
		fmt.Fprintf(w, "  # store %d on %s\n", n.StoreID, firstNonEmpty(n.Host, n.Address))
		for _, cf := range compactCFs {
			fmt.Fprintf(w, "  %s\n", ssh.Command(compactCommand(tikvCtl, n.Address, cf)...))
		}
	}
	fmt.Fprintf(w, "tikv-ear: cost: %s\n", compactCost)
	fmt.Fprintf(w, "tikv-ear: to have tikv-ear run them store by store over SSH: tikv-ear disable %s --compact\n", planPath)
	fmt.Fprintf(w, "tikv-ear: once 'tikv-ear verify --plan %s' shows 0 encrypted files on every store, the master key may go: tikv-ear disable %s --remove-master-key\n", planPath, planPath)
}

// compact runs the forced compaction store by store over SSH on each store's
// host, asking first unless --yes, and waits for each store to stay Up in PD
// before the next one; then it shows the encrypted files left per store.
func (c *DisableCmd) compact(g *Globals, p *steps.Plan) error {
	ctx := g.Ctx
	_, s, err := openPlan(ctx, c.Plan)
	if err != nil {
		return err
	}
	defer s.Close()
	sshc, err := s.Flags.SSHClient(c.CompactTimeout)
	if err != nil {
		return err
	}
	defer sshc.Close()
	inv := map[uint64]inventory.Node{}
	for _, n := range s.Inventory.Nodes {
		inv[n.StoreID] = n
	}
	poll, timeout := max(p.Strategy.ReadyPoll.Duration, 50*time.Millisecond), max(p.Strategy.ReadyTimeout.Duration, time.Second)
	nodes := sortedNodes(p.Nodes)
	stdin := bufio.NewReader(g.IO.In)
	fmt.Fprintf(g.IO.Err, "tikv-ear: cost: %s\n", compactCost)
	for i, n := range nodes {
		host, ok := inv[n.StoreID]
		if !ok {
			return Failf("check the inventory ('tikv-ear status'), then run 'tikv-ear disable "+c.Plan+" --compact' again", "store %d (%s) is not in the cluster's inventory", n.StoreID, n.Address)
		}
		if err := waitStoreUp(ctx, s.PD, n.StoreID, 1, poll, timeout); err != nil {
			return c.compactStopped(err, nodes[i:])
		}
		if !c.Yes {
			answer, err := askStore(g, stdin, n)
			if err != nil {
				return err
			}
			switch answer {
			case "skip":
				fmt.Fprintf(g.IO.Err, "tikv-ear: store %d: skipped\n", n.StoreID)
				continue
			case "yes":
			default:
				return &Error{Msg: fmt.Sprintf("compaction stopped before store %d", n.StoreID), Hints: []string{"run the remaining commands yourself, or 'tikv-ear disable " + c.Plan + " --compact' again"}, Code: ExitAborted}
			}
		}
		target := gather.SSHTarget(host, s.Flags.SSHUser)
		start := time.Now()
		for _, cf := range compactCFs {
			cmd := ssh.Command(compactCommand(c.TikvCtl, n.Address, cf)...)
			fmt.Fprintf(g.IO.Err, "tikv-ear: store %d: %s (on %s)\n", n.StoreID, cmd, target)
			res, err := sshc.Run(ctx, target, cmd, nil)
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit status %d: %s", res.ExitCode, strings.TrimSpace(string(res.Stderr)))
			}
			if err != nil {
				return c.compactStopped(fmt.Errorf("store %d: %s: %w", n.StoreID, cmd, err), nodes[i:])
			}
		}
		fmt.Fprintf(g.IO.Err, "tikv-ear: store %d: compacted in %s; waiting for it to stay Up in PD\n", n.StoreID, time.Since(start).Round(time.Millisecond))
		if err := waitStoreUp(ctx, s.PD, n.StoreID, upStreak, poll, timeout); err != nil {
			return c.compactStopped(err, nodes[i+1:])
		}
	}
	left, err := encryptedLeft(ctx, c.Plan)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		if err := writeJSON(g.IO.Out, map[string]any{"encrypted_left": left}); err != nil {
			return err
		}
	} else {
		printLeft(g.IO.Out, left)
	}
	if total := sumLeft(left); total > 0 {
		fmt.Fprintf(g.IO.Err, "tikv-ear: %d encrypted file(s) left (Raft Engine files are not compacted: they go as Raft Engine purges old logs); watch: tikv-ear verify --plan %s --watch\n", total, c.Plan)
	} else {
		fmt.Fprintf(g.IO.Err, "tikv-ear: no encrypted file left; the master key may go: tikv-ear disable %s --remove-master-key\n", c.Plan)
	}
	return nil
}

// askStore asks before compacting one store: "yes", "skip", or anything else to stop.
func askStore(g *Globals, r *bufio.Reader, n steps.NodePlan) (string, error) {
	fmt.Fprintf(g.IO.Err, "Compact store %d (%s) now? Type 'yes' to run, 'skip' to leave it, anything else stops: ", n.StoreID, n.Address)
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// compactStopped is the error of a compaction that stopped early: the cause
// and the commands of the stores not done yet.
func (c *DisableCmd) compactStopped(cause error, rest []steps.NodePlan) error {
	var cmds []string
	for _, n := range rest {
		for _, cf := range compactCFs {
			cmds = append(cmds, ssh.Command(compactCommand(c.TikvCtl, n.Address, cf)...))
		}
	}
	hint := "fix the cause, then run 'tikv-ear disable " + c.Plan + " --compact' again (a store compacted twice only costs time)"
	if len(cmds) > 0 {
		hint += "; not yet compacted: " + strings.Join(cmds, "; ")
	}
	return &Error{Msg: fmt.Sprintf("compaction stopped: %v", cause), Hints: []string{hint}, Code: ExitFailure, Err: cause}
}

// waitStoreUp polls PD until the store is Up in streak polls in a row.
func waitStoreUp(ctx context.Context, c *pd.Client, id uint64, streak int, poll, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen, last := 0, "unknown"
	for {
		st, err := c.Store(ctx, id)
		switch {
		case err != nil:
			seen, last = 0, err.Error()
		case st.Store.StateName == pd.StateUp:
			seen++
		default:
			seen, last = 0, st.Store.StateName
		}
		if seen >= streak {
			return nil
		}
		if err := steps.RealSleep(ctx, poll); err != nil {
			return fmt.Errorf("store %d did not stay Up in PD within %s (last seen: %s)", id, timeout, last)
		}
	}
}

// storeLeft is how many encrypted files one store still holds.
type storeLeft struct {
	StoreID   uint64 `json:"store_id"`
	Address   string `json:"address"`
	Encrypted int    `json:"encrypted_files"` // the larger count: never guess in the unsafe direction
	FileDict  int    `json:"file_dict"`       // file.dict entries with a cipher method
	OnDisk    int    `json:"on_disk"`         // files the on-disk proof finds encrypted
}

// encryptedLeft counts encrypted files on every store: file.dict entries with a
// cipher method and files the on-disk proof finds encrypted.
func encryptedLeft(ctx context.Context, planPath string) ([]storeLeft, error) {
	_, s, err := openPlan(ctx, planPath)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rep, err := gather.Gather(ctx, gather.Sources{PD: s.PD, ClusterID: s.ClusterID, Stores: s.Stores, Nodes: s.Inventory.Nodes,
		SSH: s.SSH, SSHUser: s.Flags.SSHUser, HTTP: httpClient(s.Flags.Timeout)}, gather.Options{Concurrency: s.Flags.Concurrency})
	if err != nil {
		return nil, err
	}
	var out []storeLeft
	for _, st := range rep.Stores {
		if st.FileDict == nil || st.Coverage == nil {
			return nil, Failf("fix access to the store, then try again", "store %d: cannot prove how many encrypted files are left", st.StoreID)
		}
		l := storeLeft{StoreID: st.StoreID, Address: st.Address, OnDisk: st.Coverage.Encrypted.Files}
		for m, n := range st.FileDict.Methods {
			if m != tikv.MethodPlaintext { // "unknown" counts as encrypted
				l.FileDict += n
			}
		}
		l.Encrypted = max(l.FileDict, l.OnDisk)
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b storeLeft) int { return cmp.Compare(a.StoreID, b.StoreID) })
	return out, nil
}

func sumLeft(left []storeLeft) int {
	total := 0
	for _, l := range left {
		total += l.Encrypted
	}
	return total
}

// describeLeft names the stores that still hold encrypted files: "store 1: 3, store 2: 1".
func describeLeft(left []storeLeft) string {
	var parts []string
	for _, l := range left {
		if l.Encrypted > 0 {
			parts = append(parts, fmt.Sprintf("store %d: %d", l.StoreID, l.Encrypted))
		}
	}
	return strings.Join(parts, ", ")
}

// printLeft prints the encrypted-file count per store.
func printLeft(w io.Writer, left []storeLeft) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tENCRYPTED FILES\tFILE.DICT\tON DISK")
	for _, l := range left {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\n", l.StoreID, l.Address, l.Encrypted, l.FileDict, l.OnDisk)
	}
	tw.Flush()
}
