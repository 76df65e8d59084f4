package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/kmsdemo"
	"github.com/tikv-ear/tikv-ear/kms/localkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/wizard"
)

// DemoCmd starts an embedded simulated cluster and walks the wizard on it.
type DemoCmd struct {
	Speed      float64 `default:"30" help:"Sim seconds per wall second (a whole 6-store rollout then takes about 15s)."`
	Dir        string  `type:"path" help:"Directory for the demo's plan, journal, schedule files and signed report (default: a new temp dir, kept afterwards)."`
	Accessible bool    `name:"accessible" help:"Ask with plain line-by-line prompts for screen readers (also when ACCESSIBLE is set)."`
	NoKMS      bool    `name:"no-kms" help:"Offer a file key even when local-kms is on PATH."`
}

// demoHints say how to run the same job without a terminal.
func demoHints() []string {
	return []string{
		"the demo is the interactive wizard; without a terminal run the same job headless:",
		"  tikv-ear sim up --sim tikv-ear-sim    (leave it running)",
		"  tikv-ear plan --sim tikv-ear-sim --env staging --out-file plan.toml",
		"  tikv-ear apply plan.toml --yes",
	}
}

// Run starts a 6-store, 3-zone sim in a temp dir and runs the wizard on it,
// pre-pointed at the sim (environment staging, a file key, or AWS KMS through
// local-kms when it is on PATH). Without a terminal it refuses (exit 2).
func (c *DemoCmd) Run(g *Globals) error {
	if c.Speed <= 0 {
		return Usagef("give a positive --speed, e.g. --speed 30", "--speed %v: the sim clock must run forward", c.Speed)
	}
	if !g.IO.Interactive() {
		return &Error{Msg: "tikv-ear demo needs a terminal on stdin and stderr", Hints: demoHints(), Code: ExitUsage}
	}
	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tikv-ear-demo-")
		if err != nil {
			return fmt.Errorf("creating the demo directory: %w", err)
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	var awsCfg *awskms.Config
	if bin, err := localkms.Binary(); err == nil && !c.NoKMS {
		lk, err := startLocalKMS(g.Ctx, bin, filepath.Join(dir, "local-kms"))
		if err != nil {
			return Failf("pass --no-kms to use a file key instead", "starting local-kms: %v", err)
		}
		defer lk.Stop()
		// create-keys: local-kms answers CreateKey, so the demo's incident
		// rotation moves TiKV to a new CMK (kms.Spec.NextKeyProblem).
		awsCfg = &awskms.Config{KeyID: lk.Aliases[0], Region: lk.Region, Endpoint: lk.Endpoint, CredentialsFile: lk.CredentialsFile, CreateKeys: true}
	}
	vaultCfg := demoVault(g)
	fmt.Fprintf(g.IO.Err, "tikv-ear: starting a simulated cluster: 6 stores in 3 zones, clock ×%g\n", c.Speed)
	opts := sim.Options{Stores: 6, Zones: 3, Speed: c.Speed}
	if awsCfg != nil {
		opts.KMSEndpoint = awsCfg.Endpoint
	}
	// The offline GCP and Azure key services (as sim up --cloud-kms runs them),
	// so every backend's form reaches a verified report here too.
	var gcpCfg *gcpkms.Config
	var azureCfg *azurekms.Config
	if gc, err := kmsdemo.StartGCP(dir); err != nil {
		fmt.Fprintf(g.IO.Err, "tikv-ear: the offline GCP key service did not start, GCP is offered without it: %v\n", err)
	} else {
		defer gc.Close()
		simCloudOptions(gc, &opts)
		gcpCfg = gc.Spec.GCP
	}
	if ac, err := kmsdemo.StartAzure(dir); err != nil {
		fmt.Fprintf(g.IO.Err, "tikv-ear: the offline Azure key service did not start, Azure is offered without it: %v\n", err)
	} else {
		defer ac.Close()
		simCloudOptions(ac, &opts)
		azureCfg = ac.Spec.Azure
	}
	cl, err := sim.Start(g.Ctx, opts)
	if err != nil {
		return Failf("check that the temp dir is writable and free ports exist on 127.0.0.1", "starting the simulated cluster: %v", err)
	}
	defer cl.Close()
	env := cl.Env()
	planPath := filepath.Join(dir, "plan.toml")
	base, err := ConnectFlags{Sim: env.Dir, Timeout: 10 * time.Second, Concurrency: 20}.Options()
	if err != nil {
		return err
	}
	d := wizard.New(wizard.Config{
		Base:      base,
		PlanPath:  planPath,
		ReportDir: filepath.Join(dir, "reports"),
		Strategy:  wizard.DemoStrategy(),
		Policies:  steps.DefaultPolicies(),
		AWS:       awsCfg,
		Vault:     vaultCfg,
		GCP:       gcpCfg,
		Azure:     azureCfg,
	})
	defer d.Close()
	accessible := c.Accessible || (g.IO.Getenv != nil && g.IO.Getenv("ACCESSIBLE") != "") // huh's convention: any non-empty value
	// The home screen offers every journey: enablement, then incident rotation
	// and audit on the same sim, and resume after an interrupted run.
	drv := auditingDriver{Driver: d, g: g, planPath: planPath, connect: ConnectFlags{Sim: env.Dir, Timeout: 10 * time.Second, Concurrency: 20}, dir: filepath.Join(dir, "reports")}
	runErr := ui.Run(g.Ctx, drv, ui.Options{
		Home:       true,
		SignerKeys: demoSigningKeys(g.Ctx, g, awsCfg, vaultCfg),
		Accessible: accessible,
		Out:        g.IO.Err,
		PlanPath:   planPath,
		Prefill: ui.ConnectInput{Environment: steps.EnvStaging, PD: cl.PDURLs(), SSHUser: sim.User,
			Identity: env.Identity, KnownHosts: env.KnownHosts, SSHConfig: env.SSHConfig},
	})
	fmt.Fprintf(g.IO.Err, "tikv-ear: the demo's plan, journal, schedule files and report are in %s\n", dir)
	printWizardReport(g, d)
	if errors.Is(runErr, ui.ErrClosed) {
		fmt.Fprintln(g.IO.Err, "tikv-ear: closed before the rollout; the simulated cluster was not changed")
		return nil
	}
	if errors.Is(runErr, context.Canceled) && g.Ctx.Err() == nil {
		return &Error{Msg: "the rollout was aborted from the dashboard", Code: ExitAborted, Err: runErr,
			Hints: []string{"the engine removed every evict-leader scheduler it added; stores it finished keep encryption, the rest are unchanged"}}
	}
	return runErr
}

// startLocalKMS runs local-kms (package localkms) with one seeded key,
// alias/tikv-master; its files and output go under dir.
func startLocalKMS(ctx context.Context, bin, dir string) (*localkms.Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "local-kms.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s, err := localkms.Start(ctx, bin, localkms.Options{Dir: dir, Output: logf})
	if err != nil {
		return nil, fmt.Errorf("%w (see %s)", err, logf.Name())
	}
	return s, nil
}

// demoVault offers the Vault backend first when VAULT_ADDR (else BAO_ADDR)
// names a server: the token comes from VAULT_TOKEN/BAO_TOKEN or the token-file
// field, and the KEK is created when missing. Transit must be mounted there
// (preflight says how when it is not).
func demoVault(g *Globals) *vault.Config {
	if g.IO.Getenv == nil {
		return nil
	}
	addr := g.IO.Getenv("VAULT_ADDR")
	if addr == "" {
		addr = g.IO.Getenv("BAO_ADDR")
	}
	if addr == "" {
		return nil
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: offering the Vault backend first: %s (a transit mount is needed: vault secrets enable transit)\n", addr)
	return &vault.Config{Address: addr, Cluster: "tikv-ear-demo", CreateKEK: true}
}
