package cli

import (
	"io"
	"os"

	"github.com/charmbracelet/x/term"
)

// IO is what a command may touch of the process: streams, TTY state and the
// environment. Tests build their own.
type IO struct {
	In        io.Reader
	Out       io.Writer // data: JSON, tables, reports
	Err       io.Writer // people: progress, TUI, errors
	StdinTTY  bool
	StderrTTY bool
	Getenv    func(string) string
}

// SystemIO returns the process's own streams.
func SystemIO() IO {
	return IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		StdinTTY:  term.IsTerminal(os.Stdin.Fd()),
		StderrTTY: term.IsTerminal(os.Stderr.Fd()),
		Getenv:    os.Getenv,
	}
}

// Interactive reports whether a TUI may be started.
func (o IO) Interactive() bool {
	return o.StdinTTY && o.StderrTTY && o.Getenv("CI") == ""
}
