package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/steps"
)

// exposeConsequence is what the operator types back before the master key is
// switched to plaintext, which TiKV allows but which marks every data key exposed.
const exposeConsequence = "expose every data key"

// DisableCmd is the only safe way back (reference tikv-encryption.md §2.5): the
// method goes to plaintext while the master key stays configured, because
// existing encrypted files still need their data keys. New files are written in
// plaintext and compaction rewrites the old ones; 'verify --watch' shows the
// encrypted count shrink. The master key may be removed only when no encrypted
// file is left.
type DisableCmd struct {
	Plan            string `arg:"" type:"existingfile" help:"plan.toml of the cluster."`
	Yes             bool   `name:"yes" short:"y" help:"Do not ask for confirmation."`
	RemoveMasterKey bool   `name:"remove-master-key" help:"Second step, once no encrypted file is left: switch the master key to plaintext (TiKV marks every data key exposed)."`
	Confirm         string `name:"confirm" placeholder:"TEXT" help:"For --remove-master-key without a terminal: the consequence typed back, exactly \"expose every data key\" (--yes alone is not enough)."`
	Resume          bool   `name:"resume" help:"Continue an interrupted run."`
	Abort           bool   `name:"abort" help:"Stop an interrupted run safely."`
	Output          string `name:"output" enum:"text,json" default:"text" help:"text or json."`
	Verbose         bool   `name:"verbose" short:"v" help:"Also print node log lines and metric samples."`
}

// Run disables encryption (step one) or removes the master key (step two).
func (c *DisableCmd) Run(g *Globals) error {
	opts := runOptions{Plan: c.Plan, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Resume: c.Resume, Abort: c.Abort, Kind: steps.KindDisable}
	if !c.RemoveMasterKey {
		opts.Adjust = func(p *steps.Plan) {
			if p.Target.Method != tikv.MethodPlaintext {
				p.Target.Method = tikv.MethodPlaintext
				if err := savePlan(c.Plan, p); err != nil {
					fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %v\n", err)
				}
			}
		}
		return runPlan(g, opts)
	}
	left, err := encryptedLeft(g.Ctx, c.Plan)
	if err != nil {
		return err
	}
	if left > 0 {
		return &Error{Msg: fmt.Sprintf("%d encrypted file(s) are still on the stores: removing the master key now would make them unreadable", left),
			Hints: []string{"wait for compaction (watch with 'tikv-ear verify --watch'), or force it per store: tikv-ctl --host <store> compact -d kv -c default --bottommost force (see docs/disable.md for the cost)"},
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

// encryptedLeft counts encrypted files on every store: file.dict entries with a
// cipher method and files the on-disk proof finds encrypted, whichever is larger.
func encryptedLeft(ctx context.Context, planPath string) (int, error) {
	_, s, err := openPlan(ctx, planPath)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	rep, err := gather.Gather(ctx, gather.Sources{PD: s.PD, ClusterID: s.ClusterID, Stores: s.Stores, Nodes: s.Inventory.Nodes,
		SSH: s.SSH, SSHUser: s.Flags.SSHUser, HTTP: httpClient(s.Flags.Timeout)}, gather.Options{Concurrency: s.Flags.Concurrency})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, st := range rep.Stores {
		if st.FileDict == nil || st.Coverage == nil {
			return 0, Failf("fix access to the store, then try again", "store %d: cannot prove how many encrypted files are left", st.StoreID)
		}
		dict := 0
		for m, n := range st.FileDict.Methods {
			if m != tikv.MethodPlaintext { // "unknown" counts as encrypted: never guess in the unsafe direction
				dict += n
			}
		}
		total += max(dict, st.Coverage.Encrypted.Files)
	}
	return total, nil
}
