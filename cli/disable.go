package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/steps"
)

// exposeConsequence is what the operator types back before the master key is
// switched to plaintext, which TiKV allows but which marks every data key exposed.
const exposeConsequence = "expose every data key"

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
	ResumeFlags     `embed:""`
	EventFlags      `embed:""`
}

// Run disables encryption (step one, optionally followed by the forced
// compaction) or removes the master key (step two).
func (c *DisableCmd) Run(g *Globals) error {
	f := runFlags{Plan: c.Plan, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Abort: c.Abort}
	o := steps.RunOptions{Kind: steps.KindDisable, Resume: c.Resume, BreakLock: c.BreakLock}
	if c.Compact && c.RemoveMasterKey {
		return Usagef("compact first ('tikv-ear disable "+c.Plan+" --compact'), then remove the master key in a second run", "--compact and --remove-master-key are separate steps")
	}
	if !c.RemoveMasterKey {
		if c.Compact && !c.Yes && !g.IO.Interactive() {
			return Usagef("pass --yes to compact every store without asking", "--compact asks before each store and there is no terminal to ask on")
		}
		if err := runPlan(g, f, o); err != nil {
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
		return c.compact(g)
	}
	return c.removeMasterKey(g, f, o)
}

// removeMasterKey is step two: refused while any encrypted file is left, and
// only with the consequence typed back.
func (c *DisableCmd) removeMasterKey(g *Globals, f runFlags, o steps.RunOptions) error {
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
	f.Yes = true
	o.RemoveMasterKey = true
	return runPlan(g, f, o)
}

// printCompaction tells the operator how to force the rewrite of the files
// still encrypted, and what it costs; nothing runs.
func printCompaction(w io.Writer, planPath string, nodes []steps.NodePlan, tikvCtl string) {
	fmt.Fprintln(w, "tikv-ear: new files are written in plaintext; files already encrypted stay encrypted (and need the master key) until compaction rewrites them.")
	fmt.Fprintln(w, "tikv-ear: to rewrite them now, run a forced compaction on each store's host, one store at a time:")
	for _, n := range steps.SortedNodes(nodes) {
		fmt.Fprintf(w, "  # store %d on %s\n", n.StoreID, steps.FirstNonEmpty(n.Host, n.Address))
		for _, cf := range steps.CompactCFs() {
			fmt.Fprintf(w, "  %s\n", ssh.Command(steps.CompactCommand(tikvCtl, n.Address, cf)...))
		}
	}
	fmt.Fprintf(w, "tikv-ear: cost: %s\n", steps.CompactCost)
	fmt.Fprintf(w, "tikv-ear: to have tikv-ear run them store by store over SSH: tikv-ear disable %s --compact\n", planPath)
	fmt.Fprintf(w, "tikv-ear: once 'tikv-ear verify --plan %s' shows 0 encrypted files on every store, the master key may go: tikv-ear disable %s --remove-master-key\n", planPath, planPath)
}

// compact runs the forced compaction store by store (steps.Session.Compact),
// asking first unless --yes; then it shows the encrypted files left per store.
func (c *DisableCmd) compact(g *Globals) error {
	ctx := g.Ctx
	s, err := steps.OpenPlan(ctx, steps.OpenOptions{PlanPath: c.Plan, Events: &steps.LineSink{W: g.IO.Err}})
	if err != nil {
		return err
	}
	defer s.Close()
	o := steps.CompactOptions{TikvCtl: c.TikvCtl, CommandTimeout: c.CompactTimeout}
	if !c.Yes {
		stdin := bufio.NewReader(g.IO.In)
		o.Ask = func(_ context.Context, n steps.NodePlan) (string, error) { return askStore(g, stdin, n) }
	}
	var stopped *steps.CompactStopped
	var declined *steps.CompactDeclined
	switch err := s.Compact(ctx, o); {
	case errors.As(err, &declined):
		return &Error{Msg: declined.Error(), Hints: []string{"run the remaining commands yourself, or 'tikv-ear disable " + c.Plan + " --compact' again"}, Code: ExitAborted}
	case errors.As(err, &stopped):
		return c.compactStopped(stopped)
	case err != nil:
		return err
	}
	left, err := steps.EncryptedLeft(ctx, s.Cluster)
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
func (c *DisableCmd) compactStopped(e *steps.CompactStopped) error {
	var cmds []string
	for _, n := range e.Rest {
		for _, cf := range steps.CompactCFs() {
			cmds = append(cmds, ssh.Command(steps.CompactCommand(c.TikvCtl, n.Address, cf)...))
		}
	}
	hint := "fix the cause, then run 'tikv-ear disable " + c.Plan + " --compact' again (a store compacted twice only costs time)"
	if len(cmds) > 0 {
		hint += "; not yet compacted: " + strings.Join(cmds, "; ")
	}
	return &Error{Msg: e.Error(), Hints: []string{hint}, Code: ExitFailure, Err: e.Cause}
}

// encryptedLeft counts the encrypted files left on the stores of the plan's cluster.
func encryptedLeft(ctx context.Context, planPath string) ([]steps.StoreLeft, error) {
	_, s, err := openPlan(ctx, planPath)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return steps.EncryptedLeft(ctx, s)
}

func sumLeft(left []steps.StoreLeft) int {
	total := 0
	for _, l := range left {
		total += l.Encrypted
	}
	return total
}

// describeLeft names the stores that still hold encrypted files: "store 1: 3, store 2: 1".
func describeLeft(left []steps.StoreLeft) string {
	var parts []string
	for _, l := range left {
		if l.Encrypted > 0 {
			parts = append(parts, fmt.Sprintf("store %d: %d", l.StoreID, l.Encrypted))
		}
	}
	return strings.Join(parts, ", ")
}

// printLeft prints the encrypted-file count per store.
func printLeft(w io.Writer, left []steps.StoreLeft) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tENCRYPTED FILES\tFILE.DICT\tON DISK")
	for _, l := range left {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\n", l.StoreID, l.Address, l.Encrypted, l.FileDict, l.OnDisk)
	}
	tw.Flush()
}
