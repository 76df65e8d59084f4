package cli

import (
	"fmt"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/steps"
)

// DeliverCmd re-pushes the key files TiKV needs (file and Vault backends) to
// every host, e.g. after a reboot emptied a tmpfs key directory: TiKV will not
// start until its key file is back. KMS backends need nothing delivered.
type DeliverCmd struct {
	Plan  string   `arg:"" type:"existingfile" help:"plan.toml of the cluster."`
	Store []uint64 `name:"store" help:"Only these store ids (default: every store)."`
}

// Run delivers the planned generations.
func (c *DeliverCmd) Run(g *Globals) error {
	p, s, err := openPlan(g.Ctx, c.Plan)
	if err != nil {
		return err
	}
	defer s.Close()
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		return Usagef("fix [target.key] in "+c.Plan, "key backend: %v", err)
	}
	eng := NewEngine(s, p, backend)
	if eng.Desired.MasterKey.Type == tikv.MasterKeyFile { // a sealed Vault or an expired token: say so before any host
		for _, c := range backend.Preflight(g.Ctx) {
			if kc := keyCheck(c, 0); kc.Status == steps.Fail {
				return Failf(kc.Fix, "key backend preflight: %s; nothing delivered", kc.Message)
			}
		}
	}
	refs := []kms.KeyRef{p.Target.MasterKey}
	if p.Target.PreviousMasterKey != nil {
		refs = append(refs, *p.Target.PreviousMasterKey)
	}
	keys := &steps.BackendKeys{B: backend, Refs: refs, Hosts: eng.KeyHosts}
	delivered := 0
	for _, n := range p.Nodes {
		if len(c.Store) > 0 && !contains(c.Store, n.StoreID) {
			continue
		}
		if err := keys.Stage(g.Ctx, n); err != nil {
			return fmt.Errorf("delivering to store %d (%s): %w", n.StoreID, n.Host, err)
		}
		delivered++
		if eng.Desired.MasterKey.Type != tikv.MasterKeyFile {
			fmt.Fprintf(g.IO.Err, "tikv-ear: store %d (%s): nothing to deliver: TiKV fetches its %s key from the KMS itself\n", n.StoreID, n.Host, backend.Name())
			continue
		}
		fmt.Fprintf(g.IO.Err, "tikv-ear: store %d (%s): key %s delivered\n", n.StoreID, n.Host, keyLabel(p.Target.MasterKey, false))
	}
	if delivered == 0 {
		return Usagef("store ids are listed by 'tikv-ear status'", "no store of the plan matches --store %v", c.Store)
	}
	return nil
}

func contains(ids []uint64, id uint64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// ChangeMethodCmd switches the data encryption method: TiKV rotates to a new
// data key of the new method at start and old files keep theirs until compaction.
type ChangeMethodCmd struct {
	Plan      string `arg:"" type:"existingfile" help:"plan.toml of the cluster (updated with the new method)."`
	To        string `name:"to" required:"" enum:"aes128-ctr,aes192-ctr,aes256-ctr,sm4-ctr" help:"The new method: ${enum}."`
	Yes       bool   `name:"yes" short:"y" help:"Do not ask for confirmation."`
	Resume    bool   `name:"resume" help:"Continue an interrupted run."`
	Abort     bool   `name:"abort" help:"Stop an interrupted run safely."`
	BreakLock bool   `name:"break-lock" help:"Take over the run lease of a run that is gone (asks for confirmation; a live run is never broken)."`
	Output    string `name:"output" enum:"text,json" default:"text" help:"text or json."`
	Verbose   bool   `name:"verbose" short:"v" help:"Also print node log lines and metric samples."`
}

// Run changes the method through the engine.
func (c *ChangeMethodCmd) Run(g *Globals) error {
	return runPlan(g, runOptions{Plan: c.Plan, Output: c.Output, Verbose: c.Verbose, Yes: c.Yes, Resume: c.Resume, Abort: c.Abort, BreakLock: c.BreakLock,
		Kind: steps.KindChangeMethod,
		Adjust: func(p *steps.Plan) {
			if p.Target.Method != c.To {
				p.Target.Method = c.To
				if err := savePlan(c.Plan, p); err != nil {
					fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %v\n", err)
				}
			}
		}})
}
