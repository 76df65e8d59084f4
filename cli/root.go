// Package cli is the headless face of tikv-ear: one file per subcommand, each
// an options struct whose Run method builds what it needs and calls the engine
// (steps), the cluster clients, the key backends or the report writer. It holds
// no rollout logic of its own and never draws a TUI except through package ui.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/tikv-ear/tikv-ear/steps"
)

// Version is the tool version (steps.ToolVersion, which reports record).
const Version = steps.ToolVersion

// Root is the kong command tree.
type Root struct {
	Demo         DemoCmd         `cmd:"" help:"Start a 6-store simulated cluster and walk the wizard on it."`
	Plan         PlanCmd         `cmd:"" help:"Read the cluster, run preflight and write plan.toml (no host changes)."`
	Apply        ApplyCmd        `cmd:"" help:"Execute a plan: staged rolling restart with leader eviction, verification and a signed report."`
	Verify       VerifyCmd       `cmd:"" help:"Prove, store by store, that encryption is on and working (exit 1 when any store falls short)."`
	Rotate       RotateCmd       `cmd:"" help:"Rotate the master key through the same rolling restart; --incident for the fastest safe path; revoking the old key is typed."`
	Deliver      DeliverCmd      `cmd:"" help:"Re-push key files to the TiKV hosts (after a reboot emptied a tmpfs key directory)."`
	ChangeMethod ChangeMethodCmd `cmd:"" name:"change-method" help:"Switch the data encryption method through the same rolling restart."`
	Disable      DisableCmd      `cmd:"" help:"Turn encryption off safely: method plaintext with the master key kept; --remove-master-key once no encrypted file is left."`
	Report       ReportCmd       `cmd:"" help:"Work with signed reports."`
	Keygen       KeygenCmd       `cmd:"" help:"Generate a report signing key."`
	Status       StatusCmd       `cmd:"" help:"Show each store's encryption state, keys, on-disk coverage and the cluster's health (read-only)."`
	Audit        AuditCmd        `cmd:"" help:"Read-only audit of the cluster and its key backend: findings and a signed report (exit 1 on a high or critical finding)."`
	Schedule     ScheduleCmd     `cmd:"" help:"Show, install or remove the scheduled master-key rotation (systemd timer, cron, Kubernetes CronJob)."`
	KEK          KEKCmd          `cmd:"" name:"kek" help:"Vault only: rotate the transit key that wraps the master key, raise its min_decryption_version, set its auto_rotate_period."`

	Sim     SimCmd     `cmd:"" help:"Run the embedded simulated TiKV cluster, or inject faults into it."`
	Version VersionCmd `cmd:"" help:"Print the tool version."`
}

// Globals are handed to every command's Run.
type Globals struct {
	IO  IO
	Ctx context.Context
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version on stdout.
func (VersionCmd) Run(g *Globals) error {
	fmt.Fprintf(g.IO.Out, "tikv-ear %s\n", Version)
	return nil
}

// Main parses args, runs the command and returns the exit code.
func Main(args []string, io IO) int {
	var root Root
	exitCode := -1
	parser, err := kong.New(&root,
		kong.Name("tikv-ear"),
		kong.Description("Turn on, rotate, verify and prove TiKV encryption at rest."),
		kong.Writers(io.Out, io.Err),
		kong.Exit(func(code int) { exitCode = code }),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		return reportErr(io.Err, err)
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 { // --help or kong's own exit
		return exitCode
	}
	if err != nil {
		var pe *kong.ParseError
		if errors.As(err, &pe) {
			return reportErr(io.Err, &Error{Msg: err.Error(), Hints: []string{"run 'tikv-ear --help' for the commands and flags"}, Code: ExitUsage})
		}
		return reportErr(io.Err, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := kctx.Run(&Globals{IO: io, Ctx: ctx}); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			fmt.Fprintln(io.Err, "tikv-ear: interrupted")
			return ExitAborted
		}
		return reportErr(io.Err, err)
	}
	return ExitOK
}
