package cli

import (
	"github.com/tikv-ear/tikv-ear/steps"
)

// DeliverCmd re-pushes the key files TiKV needs (file and Vault backends) to
// every host, e.g. after a reboot emptied a tmpfs key directory: TiKV will not
// start until its key file is back. KMS backends need nothing delivered.
type DeliverCmd struct {
	Plan   string   `arg:"" type:"existingfile" help:"plan.toml of the cluster."`
	Store  []uint64 `name:"store" help:"Only these store ids (default: every store)."`
	Output string   `name:"output" short:"o" enum:"text,json" default:"text" help:"text (lines on stderr), or json (one event per line on stdout)."`
}

// Run delivers the planned generations.
func (c *DeliverCmd) Run(g *Globals) error {
	s, err := steps.OpenPlan(g.Ctx, steps.OpenOptions{PlanPath: c.Plan, Events: runFlags{Output: c.Output}.sink(g)})
	if err != nil {
		return err
	}
	defer s.Close()
	delivered, err := s.Deliver(g.Ctx, c.Store)
	if err != nil {
		return err
	}
	if delivered == 0 {
		return Usagef("store ids are listed by 'tikv-ear status'", "no store of the plan matches --store %v", c.Store)
	}
	return nil
}

// ChangeMethodCmd switches the data encryption method: TiKV rotates to a new
// data key of the new method at start and old files keep theirs until compaction.
type ChangeMethodCmd struct {
	Plan        string `arg:"" type:"existingfile" help:"plan.toml of the cluster (updated with the new method)."`
	To          string `name:"to" required:"" enum:"aes128-ctr,aes192-ctr,aes256-ctr,sm4-ctr" help:"The new method: ${enum}."`
	Yes         bool   `name:"yes" short:"y" help:"Do not ask for confirmation."`
	ResumeFlags `embed:""`
	EventFlags  `embed:""`
}

// Run changes the method through the engine.
func (c *ChangeMethodCmd) Run(g *Globals) error {
	return runPlan(g, runFlags{Plan: c.Plan, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Abort: c.Abort},
		steps.RunOptions{Kind: steps.KindChangeMethod, Resume: c.Resume, BreakLock: c.BreakLock, Method: c.To})
}
