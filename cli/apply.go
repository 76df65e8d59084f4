package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tikv-ear/tikv-ear/steps"
)

// ApplyCmd executes a plan: prepare keys, stage, canary, batches, finalize, report.
type ApplyCmd struct {
	Plan        string `arg:"" type:"existingfile" help:"plan.toml written by 'tikv-ear plan'."`
	Yes         bool   `name:"yes" short:"y" help:"Do not ask for confirmation (required without a terminal)."`
	ResumeFlags `embed:""`
	Journal     string `name:"journal" type:"path" help:"Journal file (default: <plan>.journal beside the plan)."`
	EventFlags  `embed:""`
	// Stores restricts the run to a subset of the cluster's stores.
	Stores []uint64 `name:"stores" sep:"," placeholder:"ID,..." help:"Run on these store ids only (a plan that leaves out an Up store is refused without it; the report says partial: N of M)."`
}

// openPlan loads the plan and connects to the cluster it names, refusing another cluster.
func openPlan(ctx context.Context, path string) (*steps.Plan, *Session, error) {
	s, err := steps.OpenPlan(ctx, steps.OpenOptions{PlanPath: path})
	if err != nil {
		return nil, nil, err
	}
	return s.Plan, s.Cluster, nil
}

// Run executes the plan.
func (c *ApplyCmd) Run(g *Globals) error {
	return runPlan(g, runFlags{Plan: c.Plan, Journal: c.Journal, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Abort: c.Abort},
		steps.RunOptions{Kind: steps.KindApply, Resume: c.Resume, BreakLock: c.BreakLock, Stores: c.Stores})
}

// ResumeFlags go on with, or stop, an interrupted run: every command that
// runs the engine embeds them.
type ResumeFlags struct {
	Resume bool `name:"resume" help:"Continue an interrupted run from the cluster's real state."`
	Abort  bool `name:"abort" help:"Stop an interrupted run safely: remove its evict-leader schedulers and close the journal."`
	// BreakLock takes over the run lease of a run that died (never a live one).
	BreakLock bool `name:"break-lock" help:"Take over the run lease of a run that is gone (asks for confirmation; a live run is never broken)."`
}

// EventFlags say how a run's events are shown: every command that runs the
// engine embeds them.
type EventFlags struct {
	Output  string `name:"output" enum:"text,json" default:"text" help:"text (progress on stderr) or json (NDJSON events on stdout)."`
	Verbose bool   `name:"verbose" short:"v" help:"Also print node log lines and metric samples."`
}

// runFlags are the flags of the commands that run the engine.
type runFlags struct {
	Plan, Journal, Output string
	Verbose, Yes, Abort   bool
	// Retire is rotate's --retire-old: in a --yes run, the consent to revoke
	// the old generation (--yes alone keeps it).
	Retire bool
}

// sink renders the session's events: lines on stderr, or NDJSON on stdout.
func (f runFlags) sink(g *Globals) steps.Sink {
	if f.Output == "json" {
		return &steps.JSONSink{W: g.IO.Out}
	}
	return &steps.LineSink{W: g.IO.Err, Verbose: f.Verbose}
}

// runPlan is apply, rotate, disable and change-method: it opens a
// steps.Session, aborts or runs it, writes the signed report and maps the
// outcome to an exit code.
func runPlan(g *Globals, f runFlags, o steps.RunOptions) error {
	ctx := g.Ctx
	s, err := steps.OpenPlan(ctx, steps.OpenOptions{PlanPath: f.Plan, Journal: f.Journal, Events: f.sink(g), Decider: cliDecider{g: g, yes: f.Yes, retire: f.Retire}})
	if err != nil {
		return err
	}
	defer s.Close()
	if !f.Yes {
		o.Confirm = func(_ context.Context, question string) error { return confirm(g, question) }
	}
	if f.Abort {
		_, _, err := s.Abort(ctx, o)
		return err
	}
	res, runErr := s.Run(ctx, o)
	var pe *steps.PreflightError
	if errors.As(runErr, &pe) {
		printChecks(g.IO.Err, pe.Blocking)
	}
	if res != nil {
		files, generated, err := s.WriteReport(context.WithoutCancel(ctx), nil)
		if err != nil {
			fmt.Fprintf(g.IO.Err, "tikv-ear: error: %v\n", err)
		} else {
			if generated != "" {
				fmt.Fprintf(g.IO.Err, "tikv-ear: generated the report signing key %s (publish its pub.pem to your auditors)\n", generated)
			}
			fmt.Fprintf(g.IO.Err, "tikv-ear: signed report: %s (html: %s)\ntikv-ear: verify it: tikv-ear report verify %s --key %s --bundle %s\n", files.Report, files.HTML, files.Report, files.PublicKey, files.Bundle)
		}
	}
	return runErr
}

// cliDecider answers the runner's decisions by the plan's policies and asks
// the operator before the old master key is revoked (decideRetire).
type cliDecider struct {
	g           *Globals
	yes, retire bool
}

// Decide implements steps.Decider.
func (d cliDecider) Decide(ctx context.Context, dec steps.Decision) (string, string, error) {
	if dec.ID != steps.DecisionRetireOld {
		return steps.PolicyDecider{}.Decide(ctx, dec)
	}
	return decideRetire(d.g, dec, d.yes, d.retire)
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
