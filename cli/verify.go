package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/verdict"
	"github.com/tikv-ear/tikv-ear/steps"
)

// VerifyCmd proves, store by store, that encryption is on and working: the
// running config, the log lines, the metrics, key.dict metadata, file.dict and
// the on-disk coverage, and the key file's mode. It exits non-zero when any
// store falls short.
type VerifyCmd struct {
	ConnectFlags `embed:""`
	PlanFile     string        `name:"plan" type:"existingfile" help:"plan.toml: also check that each store runs the plan's method and master key (connection flags come from the plan)."`
	Method       string        `name:"method" help:"Method every store must run (default: any cipher; the plan's when --plan is given)."`
	Watch        bool          `name:"watch" help:"Repeat until interrupted, showing on-disk coverage grow as compaction rewrites old files."`
	Interval     time.Duration `name:"interval" default:"10s" help:"Time between --watch rounds."`
	Output       string        `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`
}

// VerifyResult is the --output json document of verify (steps.VerifyResult).
type VerifyResult = steps.VerifyResult

// StoreVerification is one store's verdict and evidence (steps.StoreVerification).
type StoreVerification = steps.StoreVerification

// Run verifies once, or in rounds with --watch.
func (c *VerifyCmd) Run(g *Globals) error {
	flags := c.ConnectFlags
	want := c.Method
	if c.PlanFile != "" {
		p, _, err := openPlan(g.Ctx, c.PlanFile)
		if err != nil {
			return err
		}
		flags = planConnect(p)
		if want == "" {
			want = p.Target.Method
		}
	}
	s, err := flags.Connect(g.Ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	for round := 0; ; round++ {
		res, err := steps.VerifyCluster(g.Ctx, s, want)
		if err != nil {
			return err
		}
		if c.Output == "json" {
			if err := writeJSON(g.IO.Out, res); err != nil {
				return err
			}
		} else {
			printVerify(g.IO.Out, res, round)
		}
		if !c.Watch {
			switch res.Verdict.Value {
			case verdict.Proven:
				return nil
			case verdict.Failing:
				return &Error{Msg: "verification failed: some stores are not encrypted as required", Hints: []string{"see the problems above; 'tikv-ear status' shows each store's state"}, Code: ExitFailure}
			}
			return &Error{Msg: "verification incomplete: some evidence could not be read, so encryption is not proven", Hints: []string{"see the unknowns above; fix access to the sources they name and run verify again"}, Code: ExitFailure}
		}
		if err := steps.RealSleep(g.Ctx, c.Interval); err != nil {
			return nil
		}
	}
}

// clipText shortens a log text for one line of text output (steps.ClipText).
func clipText(s string) string { return steps.ClipText(s) }

func printVerify(w io.Writer, res VerifyResult, round int) {
	if round > 0 {
		fmt.Fprintf(w, "\n— %s\n", time.Now().UTC().Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tVERDICT\tMETHOD\tKEY.DICT\tFILES ENCRYPTED\tBYTES ENCRYPTED")
	for _, s := range res.Stores {
		cell := string(s.Verdict.Value)
		files, bytes := "-", "-"
		if c := s.Coverage; c != nil {
			files = fmt.Sprintf("%.1f%% (%d/%d)", c.FilesPercent, c.Encrypted.Files, c.Encrypted.Files+c.Plaintext.Files)
			bytes = fmt.Sprintf("%.1f%%", c.BytesPercent)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.StoreID, s.Address, cell, steps.FirstNonEmpty(s.Method, "-"), steps.FirstNonEmpty(s.KeyDict, "-"), files, bytes)
	}
	tw.Flush()
	for _, s := range res.Stores {
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  store %d: ✗ %s\n", s.StoreID, p)
		}
		for _, u := range s.Unknowns {
			fmt.Fprintf(w, "  store %d: ? %s\n", s.StoreID, u)
		}
		for _, r := range s.LogRecords {
			fmt.Fprintf(w, "  store %d: ? unparsed: %s\n", s.StoreID, r)
		}
		for _, x := range s.Warnings {
			fmt.Fprintf(w, "  store %d: ! %s\n", s.StoreID, x)
		}
		if len(s.LogLines) > 0 {
			fmt.Fprintf(w, "  store %d: log: %s\n", s.StoreID, strings.Join(s.LogLines, " | "))
		}
	}
}
