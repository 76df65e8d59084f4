package ui

import (
	"context"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Run starts the wizard and returns when the operator leaves it: nil after a
// finished rollout, the rollout's error when it failed or was aborted, and
// ErrClosed when nothing was applied. It draws on opts.Out (stderr).
func Run(ctx context.Context, d Driver, opts Options) error {
	out := opts.Out
	if out == nil {
		out = os.Stderr
	}
	env := opts.Environ
	if env == nil {
		env = os.Environ()
	}
	var p *tea.Program
	dec := NewDecider(func(msg tea.Msg) { p.Send(msg) })
	m := New(ctx, d, opts, dec)
	progOpts := []tea.ProgramOption{
		tea.WithContext(ctx),
		tea.WithOutput(out),
		tea.WithColorProfile(ColorProfile(out, env)),
	}
	if opts.In != nil {
		progOpts = append(progOpts, tea.WithInput(opts.In))
	}
	p = tea.NewProgram(m, progOpts...)
	final, err := p.Run()
	fm, _ := final.(*Model)
	if fm != nil {
		fm.waitApply(out)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("the wizard stopped: %w", ctx.Err())
	case err != nil:
		return fmt.Errorf("running the wizard: %w", err)
	case fm == nil:
		return nil
	}
	return fm.Outcome()
}

// waitApply blocks until a rollout the program started has returned from
// Apply, so the process never exits in the middle of the engine's cleanup
// (removing its evict-leader schedulers is bounded in the engine).
func (m *Model) waitApply(out io.Writer) {
	if m.applyFinished == nil {
		return
	}
	select {
	case <-m.applyFinished:
	default:
		fmt.Fprintln(out, "tikv-ear: waiting for the engine to finish its cleanup…")
		<-m.applyFinished
	}
}

// ColorProfile is the colour profile for the terminal behind out: NO_COLOR,
// CLICOLOR, CLICOLOR_FORCE and TERM=dumb are honoured (colorprofile's rules).
func ColorProfile(out io.Writer, environ []string) colorprofile.Profile {
	return colorprofile.Detect(out, environ)
}
