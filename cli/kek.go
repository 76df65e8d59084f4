package cli

import (
	"fmt"
	"time"

	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/steps"
)

// KEKCmd manages the lifecycle of the Vault transit key (the KEK) that wraps
// the TiKV master key of a vault plan. TiKV never sees the KEK: it reads the
// unwrapped file key, so none of these commands touches a TiKV host
// (kms-and-evidence.md §2.2). Also reachable as 'tikv-ear schedule kek'.
type KEKCmd struct {
	Rotate     KEKRotateCmd     `cmd:"" help:"Rotate the transit KEK and rewrap the stored master key under its new version (no TiKV host is touched)."`
	MinVersion KEKMinVersionCmd `cmd:"" name:"min-version" help:"Raise the KEK's min_decryption_version to the oldest version a live KV version of the record still needs."`
	AutoRotate KEKAutoRotateCmd `cmd:"" name:"auto-rotate" help:"Set the KEK's transit auto_rotate_period (at least 1h; 0 disables)."`
}

// kekPlan loads a vault plan and its backend and runs the KEK preflight
// (health, auth, every capability the KEK commands need); nothing changes
// when it fails.
func kekPlan(g *Globals, path string) (*steps.Plan, *vault.Backend, error) {
	p, err := steps.LoadPlan(path)
	if err != nil {
		return nil, nil, err
	}
	if p.Target.Key.Backend != core.BackendVault || p.Target.Key.Vault == nil {
		return nil, nil, Usagef("the KEK commands manage Vault's transit key; for AWS KMS see 'tikv-ear schedule show "+path+"'",
			"%s uses the %q key backend, not vault", path, p.Target.Key.Backend)
	}
	b, err := vault.New(*p.Target.Key.Vault)
	if err != nil {
		return nil, nil, Usagef("fix [target.key.vault] in "+path, "key backend: %v", err)
	}
	for _, c := range b.PreflightKEK(g.Ctx) {
		if c.Status == core.StatusFail {
			return nil, nil, Failf(c.Fix, "vault preflight: %s: %s; nothing changed", c.Name, c.Reason)
		}
	}
	return p, b, nil
}

// KEKRotateCmd rotates the KEK and rewraps the current generation.
type KEKRotateCmd struct {
	Plan       string `arg:"" type:"existingfile" help:"plan.toml of a vault cluster (its master-key reference is updated to the rewrapped KV version)."`
	RewrapOnly bool   `name:"rewrap-only" help:"Do not rotate: only rewrap under the KEK's latest version (after transit's auto-rotation)."`
	Output     string `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`
}

// KEKRotation is the `kek rotate --output json` document.
type KEKRotation struct {
	KEK         string `json:"kek"`
	KEKVersion  string `json:"kek_version"`
	Generation  int    `json:"generation"`
	KVVersion   string `json:"kv_version"`
	Fingerprint string `json:"fingerprint"`
	PlanUpdated bool   `json:"plan_updated"`
}

// Run rotates the transit key, rewraps the newest generation into a new KV
// version (transit/rewrap never returns plaintext) and points the plan at it
// when the plan's master key is that generation.
func (c *KEKRotateCmd) Run(g *Globals) error {
	p, b, err := kekPlan(g, c.Plan)
	if err != nil {
		return err
	}
	rotate := b.RotateKEK
	if c.RewrapOnly {
		rotate = b.Rewrap
	}
	ref, err := rotate(g.Ctx)
	if err != nil {
		return err
	}
	out := KEKRotation{KEK: b.KEKPath(), KEKVersion: ref.Attrs["transit_key_version"], Generation: ref.Generation, KVVersion: ref.Version, Fingerprint: ref.Fingerprint}
	if p.Target.MasterKey.Generation == ref.Generation && p.Target.MasterKey.Fingerprint == ref.Fingerprint {
		p.Target.MasterKey = ref
		if err := savePlan(c.Plan, p); err != nil {
			return fmt.Errorf("the KEK was rotated and generation %d rewrapped into KV version %s, but %w: set [target.master-key] version = %q by hand", ref.Generation, ref.Version, err, ref.Version)
		}
		out.PlanUpdated = true
	}
	if c.Output == "json" {
		return writeJSON(g.IO.Out, out)
	}
	verb := "rotated " + out.KEK + " to"
	if c.RewrapOnly {
		verb = out.KEK + " is at"
	}
	fmt.Fprintf(g.IO.Out, "%s version %s; key generation %d (%s) is wrapped in KV version %s; TiKV is untouched\n",
		verb, out.KEKVersion, out.Generation, out.Fingerprint, out.KVVersion)
	if !out.PlanUpdated {
		fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s names generation %d, not the rewrapped generation %d: its reference was left as it is\n", c.Plan, p.Target.MasterKey.Generation, ref.Generation)
	}
	return nil
}

// KEKMinVersionCmd raises the KEK's min_decryption_version.
type KEKMinVersionCmd struct {
	Plan              string `arg:"" type:"existingfile" help:"plan.toml of a vault cluster."`
	DestroySuperseded bool   `name:"destroy-superseded" help:"First KV-destroy the older wrappings 'kek rotate' left of each generation (the newest version of each and the plan's own stay), so the minimum can rise."`
	Output            string `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`
}

// Run sets min_decryption_version to the oldest KEK version any live KV
// version of the record still needs, so older KEK versions decrypt nothing
// (PCI DSS 3.7.5). --destroy-superseded first drops the older wrappings that
// KEK rotations left; retiring old generations lets it rise further.
func (c *KEKMinVersionCmd) Run(g *Globals) error {
	p, b, err := kekPlan(g, c.Plan)
	if err != nil {
		return err
	}
	var destroyed []int
	if c.DestroySuperseded {
		keep := []core.KeyRef{p.Target.MasterKey}
		if p.Target.PreviousMasterKey != nil {
			keep = append(keep, *p.Target.PreviousMasterKey)
		}
		if destroyed, err = b.DestroySuperseded(g.Ctx, keep); err != nil {
			return err
		}
	}
	m, err := b.RaiseMinDecryptionVersion(g.Ctx)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(g.IO.Out, map[string]any{"kek": b.KEKPath(), "min_decryption_version": m, "destroyed_kv_versions": destroyed})
	}
	if len(destroyed) > 0 {
		fmt.Fprintf(g.IO.Out, "destroyed superseded KV versions %v of the record (older wrappings of the same keys)\n", destroyed)
	}
	fmt.Fprintf(g.IO.Out, "min_decryption_version of %s is %d: the oldest KEK version a live KV version of the record still needs\n", b.KEKPath(), m)
	return nil
}

// KEKAutoRotateCmd sets the KEK's auto_rotate_period.
type KEKAutoRotateCmd struct {
	Plan   string `arg:"" type:"existingfile" help:"plan.toml of a vault cluster."`
	Period string `name:"period" required:"" help:"Go duration of at least 1h (e.g. 2160h for 90 days), or 0 to disable."`
}

// Run validates the period (transit's minimum is 1h) and sets it.
func (c *KEKAutoRotateCmd) Run(g *Globals) error {
	if c.Period != "0" {
		if d, err := time.ParseDuration(c.Period); err != nil || d < time.Hour {
			return Usagef("use e.g. --period 2160h (90 days), or --period 0 to disable", "--period %q is not a duration of at least 1h (transit's minimum)", c.Period)
		}
	}
	_, b, err := kekPlan(g, c.Plan)
	if err != nil {
		return err
	}
	if err := b.SetAutoRotate(g.Ctx, c.Period); err != nil {
		return err
	}
	if c.Period == "0" {
		fmt.Fprintf(g.IO.Out, "auto-rotation of %s is off\n", b.KEKPath())
		return nil
	}
	fmt.Fprintf(g.IO.Out, "%s rotates itself every %s; run 'tikv-ear kek rotate --rewrap-only %s' after each rotation to rewrap the stored key\n", b.KEKPath(), c.Period, c.Plan)
	return nil
}
