package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/steps"
)

// ApplyCmd executes a plan: prepare keys, stage, canary, batches, finalize, report.
type ApplyCmd struct {
	Plan    string `arg:"" type:"existingfile" help:"plan.toml written by 'tikv-ear plan'."`
	Yes     bool   `name:"yes" short:"y" help:"Do not ask for confirmation (required without a terminal)."`
	Resume  bool   `name:"resume" help:"Continue an interrupted run from the cluster's real state."`
	Abort   bool   `name:"abort" help:"Stop an interrupted run safely: remove its evict-leader schedulers and close the journal."`
	Journal string `name:"journal" type:"path" help:"Journal file (default: <plan>.journal beside the plan)."`
	Output  string `name:"output" enum:"text,json" default:"text" help:"text (progress on stderr) or json (NDJSON events on stdout)."`
	Verbose bool   `name:"verbose" short:"v" help:"Also print node log lines and metric samples."`
	// BreakLock takes over the run lease of a run that died (never a live one).
	BreakLock bool `name:"break-lock" help:"Take over the run lease of a run that is gone (asks for confirmation; a live run is never broken)."`
	// Stores restricts the run to a subset of the cluster's stores.
	Stores []uint64 `name:"stores" sep:"," placeholder:"ID,..." help:"Run on these store ids only (a plan that leaves out an Up store is refused without it; the report says partial: N of M)."`
}

// planConnect returns the connection flags recorded in a plan.
func planConnect(p *steps.Plan) ConnectFlags {
	f := ConnectFlags{PD: p.Cluster.PD, PDCA: p.Cluster.CA, PDCert: p.Cluster.Cert, PDKey: p.Cluster.Key,
		Meta: p.Cluster.MetaYAML, SSHConfig: p.Cluster.SSHConfig, SSHUser: p.Cluster.SSHUser, Sudo: p.Cluster.Sudo,
		Timeout: 10 * time.Second, Concurrency: 20}
	if p.Cluster.KnownHosts != "" {
		f.KnownHosts = []string{p.Cluster.KnownHosts}
	}
	if p.Cluster.Identity != "" {
		f.Identity = []string{p.Cluster.Identity}
	}
	return f
}

// openPlan loads the plan and connects to the cluster it names, refusing another cluster.
func openPlan(ctx context.Context, path string) (*steps.Plan, *Session, error) {
	p, err := steps.LoadPlan(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := planConnect(p).Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	if p.Cluster.ClusterID != 0 && s.ClusterID != p.Cluster.ClusterID {
		s.Close()
		return nil, nil, Failf("re-create the plan against this cluster with 'tikv-ear plan'", "%s was made for PD cluster %d, but %s is cluster %d", path, p.Cluster.ClusterID, strings.Join(p.Cluster.PD, ","), s.ClusterID)
	}
	return p, s, nil
}

func journalPath(plan, flag string) string {
	if flag != "" {
		return flag
	}
	return plan + ".journal"
}

// Run executes the plan.
func (c *ApplyCmd) Run(g *Globals) error {
	return runPlan(g, runOptions{Plan: c.Plan, Journal: c.Journal, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Resume: c.Resume, Abort: c.Abort, BreakLock: c.BreakLock, Stores: c.Stores, Kind: steps.KindApply})
}

// runOptions configure runPlan.
type runOptions struct {
	Plan, Journal, Output string
	Verbose, Yes          bool
	Resume, Abort         bool
	BreakLock             bool
	// Stores limits the run to these store ids (a plan that leaves out Up
	// stores is refused without it; the report then says the run was partial).
	Stores    []uint64
	Kind      string
	ReportDir string
	// Prepare edits the plan before the run and returns the key generations to
	// deliver (rotation: a new generation, the old one as previous).
	Prepare func(context.Context, *steps.Plan, kms.Backend) ([]kms.KeyRef, error)
	// Adjust changes strategy or target after preflight facts are known (incident mode).
	Adjust func(*steps.Plan)
	// Persist saves the plan once the run may start (after the second
	// preflight), so a refused rotation leaves plan.toml as it was.
	Persist func(*steps.Plan) error
	// After runs once every store is verified, before the report is built
	// (rotation: the second pass and retirement); its events join the timeline.
	After func(context.Context, *steps.Plan, *Engine, *steps.Result) error
}

// runPlan is apply, rotate, disable and change-method: one engine, one report.
func runPlan(g *Globals, o runOptions) error {
	ctx := g.Ctx
	planPath, journalFlag, output, verbose, yes, resume, abort, kind, prepare := o.Plan, o.Journal, o.Output, o.Verbose, o.Yes, o.Resume, o.Abort, o.Kind, o.Prepare
	p, s, err := openPlan(ctx, planPath)
	if err != nil {
		return err
	}
	defer s.Close()
	jpath := journalPath(planPath, journalFlag)
	recs, err := steps.ReadJournal(jpath)
	if err != nil {
		return err
	}
	last, hasLast := steps.LastRun(recs)
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		return Usagef("fix [target.key] in "+planPath, "key backend: %v", err)
	}
	eng := NewEngine(s, p, backend)
	// One run per cluster: the lease is taken before anything is read for the
	// run and released on every exit path (steps/lease).
	lreq := leaseRequest{Kind: kind, Plan: planPath, BreakLock: o.BreakLock, Yes: yes}
	if hasLast && !last.Finished && (resume || abort) {
		lreq.Last = &last
	}
	held, leaseCtx, releaseLease, err := takeLease(ctx, g, s, p, eng.PD, lreq)
	if err != nil {
		return err
	}
	defer releaseLease()
	ctx = leaseCtx
	if hasLast && !last.Finished {
		switch {
		case abort:
			return abortRun(ctx, g, p, eng, jpath, last)
		case !resume:
			return Failf(fmt.Sprintf("run 'tikv-ear %s %s --resume' to continue, or '--abort' to stop safely", kind, planPath),
				"%s records an unfinished %s run (%s)", jpath, last.Kind, last.Run)
		}
		// Resume: what the crashed run left in PD (schedulers, a raised
		// leader-schedule-limit) is cleaned first; the runner re-reads every
		// store's real state and skips finished ones.
		if _, err := removeEvicted(ctx, eng.PD, last); err != nil {
			return err
		}
	} else if abort || resume {
		return Usagef("", "%s records no unfinished run to %s", jpath, map[bool]string{true: "abort", false: "resume"}[abort])
	}
	refs := []kms.KeyRef{p.Target.MasterKey}
	if p.Target.PreviousMasterKey != nil {
		refs = append(refs, *p.Target.PreviousMasterKey)
	}
	if o.ReportDir != "" {
		p.Report.Dir = o.ReportDir
	}
	if o.Adjust != nil {
		o.Adjust(p)
		eng = NewEngine(s, p, backend)
	}
	// The plan must be the cluster's, node by node, before the first change.
	binding, err := bindPlan(ctx, eng, p, o.Stores)
	if err != nil {
		return err
	}
	if binding.Partial {
		eng = NewEngine(s, p, backend)
		fmt.Fprintf(g.IO.Err, "tikv-ear: %s\n", binding.Summary())
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: preflight of %d stores\n", len(p.Nodes))
	if err := preflight(ctx, g, s, p, eng, backend); err != nil {
		return err
	}
	if prepare != nil && !resume {
		// Only a healthy cluster gets a new key generation; then the rotation's
		// own gates (previous-master-key, KMS→KMS) are checked before any restart.
		if refs, err = prepare(ctx, p, backend); err != nil {
			return err
		}
		eng = NewEngine(s, p, backend)
		if err := preflight(ctx, g, s, p, eng, backend); err != nil {
			return fmt.Errorf("%w (no host changed; the new key generation prepared in %s stays unused and %s is unchanged)", err, backend.Name(), planPath)
		}
		if o.Persist != nil {
			if err := o.Persist(p); err != nil {
				return err
			}
		}
	}
	regions, err := eng.PD.Regions(ctx)
	if err != nil {
		regions = nil
	}
	batches := steps.PlanBatches(p.Nodes, regions, p.Strategy.Canary, p.Strategy.Batching)
	if !yes {
		if err := confirm(g, fmt.Sprintf("%s: %d stores of cluster %d in %d batches (%s). Type 'yes' to start", kind, len(p.Nodes), p.Cluster.ClusterID, len(batches.Batches), batches.Strategy)); err != nil {
			return err
		}
	}
	journal, err := steps.OpenJournal(jpath)
	if err != nil {
		return err
	}
	defer journal.Close()
	var sink steps.Sink = &steps.LineSink{W: g.IO.Err, Verbose: verbose}
	if output == "json" {
		sink = &steps.JSONSink{W: g.IO.Out}
	}
	floor := &steps.FloorObserver{}
	runner := eng.Runner(p, kind, refs, journal, steps.Fanout{sink, floor}, steps.PolicyDecider{})
	runner.RunID = held.Holder().Run
	runner.LimitOriginal = leaseLimit(held, eng.PD)
	res, runErr := runner.Run(ctx, batches)
	if runErr == nil {
		// How close the run came to what the cluster itself allows (steps/floor.go).
		sink.Emit(steps.Event{Kind: steps.Info, Step: steps.StepRun, Time: time.Now(), Message: floor.Summary(batches, res, res.Finished.Sub(res.Started))})
	}
	if runErr == nil && o.After != nil {
		runErr = o.After(ctx, p, eng, res)
		res.Err = runErr
	}
	if p.Cluster.MetaYAML != "" && (runErr != nil || binding.Partial) {
		// Every other exit path: server_configs.tikv is cluster-wide, so only
		// the stores whose tikv.toml changed get their own config in meta.yaml
		// (or a warning with the command that does it).
		syncChangedStores(context.WithoutCancel(ctx), g, p, eng, changedStores(res))
	} else if runErr == nil && p.Cluster.MetaYAML != "" {
		// The plan may have moved on (rotation's second pass drops previous-master-key).
		if err := syncTiUPMeta(p.Cluster.MetaYAML, NewEngine(s, p, backend).Desired); err != nil {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %v (tiup cluster reload would revert the encryption keys)\n", err)
		} else {
			fmt.Fprintf(g.IO.Err, "tikv-ear: wrote the encryption keys into %s server_configs.tikv (backup kept)\n", p.Cluster.MetaYAML)
			if err := clearInstanceEncryption(p.Cluster.MetaYAML, p.Nodes); err != nil {
				fmt.Fprintf(g.IO.Err, "tikv-ear: warning: removing per-store encryption keys an earlier run left in %s: %v (they would override server_configs.tikv at the next reload)\n", p.Cluster.MetaYAML, err)
			}
		}
	}
	if runErr == nil {
		pruneBackups(context.WithoutCancel(ctx), g, p, eng)
	}
	rep := BuildReport(context.WithoutCancel(ctx), report.Kind(kind), p, res, eng, refs)
	markPartial(rep, binding)
	files, generated, err := WriteReport(context.WithoutCancel(ctx), p, rep, res.Run)
	if err != nil {
		fmt.Fprintf(g.IO.Err, "tikv-ear: error: writing the signed report: %v\n", err)
	} else {
		if generated != "" {
			fmt.Fprintf(g.IO.Err, "tikv-ear: generated the report signing key %s (publish its pub.pem to your auditors)\n", generated)
		}
		fmt.Fprintf(g.IO.Err, "tikv-ear: signed report: %s (html: %s)\ntikv-ear: verify it: tikv-ear report verify %s --key %s --bundle %s\n", files.Report, files.HTML, files.Report, files.PublicKey, files.Bundle)
	}
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			return runErr
		}
		return &Error{Msg: runErr.Error(), Hints: []string{fmt.Sprintf("every evict-leader scheduler was removed; fix the cause, then run 'tikv-ear %s %s' again: stores already on the target are verified and skipped", kind, planPath)}, Code: ExitFailure, Err: runErr}
	}
	return nil
}

// preflight gathers facts and refuses the run on any blocking finding; nothing changes.
func preflight(ctx context.Context, g *Globals, s *Session, p *steps.Plan, eng *Engine, backend kms.Backend) error {
	facts := steps.GatherFacts(ctx, p, eng.PD, eng.Nodes, s.Flags.Concurrency)
	facts.Desired = &eng.Desired
	for _, c := range backend.Preflight(ctx) {
		facts.KeyChecks = append(facts.KeyChecks, keyCheck(c, 0))
	}
	if blocking := steps.Blocking(steps.RunPreflight(facts)); len(blocking) > 0 {
		printChecks(g.IO.Err, blocking)
		return &Error{Msg: fmt.Sprintf("preflight failed with %d blocking finding(s); nothing changed", len(blocking)), Hints: []string{blocking[0].Fix}, Code: ExitFailure}
	}
	return nil
}

// abortRun removes the schedulers an interrupted run left and closes its journal.
func abortRun(ctx context.Context, g *Globals, p *steps.Plan, eng *Engine, jpath string, last steps.RunState) error {
	removed, err := removeEvicted(ctx, eng.PD, last)
	if err != nil {
		return err
	}
	restored := restoreUnrestarted(ctx, g, eng, last)
	var changed []uint64
	for id := range swappedStores(last) {
		if !slices.Contains(restored, id) {
			changed = append(changed, id)
		}
	}
	syncChangedStores(ctx, g, p, eng, changed)
	if err := closeAbortedRun(jpath, last); err != nil {
		return err
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: aborted run %s: removed %d evict-leader scheduler(s); every store keeps a config whose key is on its host\n", last.Run, removed)
	return nil
}

// confirm asks the operator to type yes; without a terminal it refuses (exit 2).
func confirm(g *Globals, question string) error {
	if !g.IO.Interactive() {
		return Usagef("pass --yes to run without a terminal", "confirmation needed and no terminal to ask on")
	}
	fmt.Fprintf(g.IO.Err, "%s: ", question)
	line, err := bufio.NewReader(g.IO.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != "yes" {
		return &Error{Msg: "not confirmed; nothing changed", Code: ExitAborted}
	}
	return nil
}

// syncTiUPMeta writes the encryption keys into meta.yaml server_configs.tikv
// (backup kept) so 'tiup cluster reload' renders them instead of reverting them.
func syncTiUPMeta(path string, enc tikv.Encryption) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	kv := encryptionKV(enc)
	out, err := inventory.SetServerConfigTiKV(data, kv)
	if err != nil {
		return fmt.Errorf("editing %s: %w", path, err)
	}
	backup := path + ssh.BackupSuffix + time.Now().UTC().Format("20060102T150405Z")
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		return fmt.Errorf("backing up %s: %w", path, err)
	}
	tmp := path + ".tikv-ear.tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
