package ssh

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
)

// Executor runs a shell command on a host. Client is the real one; the engine's
// tests use fakes. A command that ran and exited non-zero is not an error: its
// status is in Result.ExitCode. Errors are for everything else (cannot connect,
// host key refused, sudo refused, connection lost, ctx done).
//
// cmd must never contain secret data: it is visible in the host's process list
// and audit logs. Secrets go through stdin.
type Executor interface {
	Run(ctx context.Context, host string, cmd string, stdin io.Reader) (Result, error)
}

// Result is what a finished command produced.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int // 128+N when killed by signal N, as a shell reports it
}

// ExecutorFunc adapts a function to the Executor interface.
type ExecutorFunc func(ctx context.Context, host, cmd string, stdin io.Reader) (Result, error)

// Run calls f.
func (f ExecutorFunc) Run(ctx context.Context, host, cmd string, stdin io.Reader) (Result, error) {
	return f(ctx, host, cmd, stdin)
}

// Quote returns s quoted for a POSIX shell, as one word (shquote.Quote, the
// module's one quoter). Words made only of safe characters are returned as they are.
func Quote(s string) string { return shquote.Quote(s) }

// Command joins args into one shell command line, quoting each.
func Command(args ...string) string { return shquote.Join(args...) }

// CommandError is a command that ran on a host and exited non-zero when the
// caller needed it to succeed.
type CommandError struct {
	Host     string
	Op       string // what was being done, e.g. "reading /etc/tikv.toml"
	ExitCode int
	Stderr   string // trimmed, at most a few hundred bytes
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s on %s: exit status %d", e.Op, e.Host, e.ExitCode)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// newCommandError builds a CommandError from a result, trimming stderr.
func newCommandError(host, op string, r Result) *CommandError {
	stderr := strings.TrimSpace(string(r.Stderr))
	const max = 512
	if len(stderr) > max {
		stderr = stderr[:max] + "…"
	}
	return &CommandError{Host: host, Op: op, ExitCode: r.ExitCode, Stderr: stderr}
}

// SudoError means sudo on the host refused to run the command without a password
// (Options.Sudo uses "sudo -n", which never prompts), or is not installed.
type SudoError struct {
	Host   string
	User   string
	Stderr string
}

func (e *SudoError) Error() string {
	return fmt.Sprintf("sudo refused on %s for user %q: %s\nhint: tikv-ear runs \"sudo -n\" (never prompts); allow passwordless sudo for this user (e.g. a file in /etc/sudoers.d with %q), or connect as a user that needs no sudo and turn sudo off",
		e.Host, e.User, e.Stderr, e.User+" ALL=(ALL) NOPASSWD: ALL")
}

// sudoFailure recognises sudo's own refusals (sudo exits 1 and prints "sudo: ..."
// on stderr; a missing sudo is exit 127 from sh). It returns the message or "".
func sudoFailure(r Result) string {
	stderr := strings.TrimSpace(string(r.Stderr))
	switch r.ExitCode {
	case 1:
		for _, phrase := range []string{
			"a password is required",
			"a terminal is required",
			"is not in the sudoers file",
			"is not allowed to execute",
			"may not run sudo",
			"no tty present",
		} {
			if strings.HasPrefix(stderr, "sudo:") && strings.Contains(stderr, phrase) {
				return firstLine(stderr)
			}
		}
	case 127:
		if strings.Contains(stderr, "sudo: not found") || strings.Contains(stderr, "sudo: command not found") {
			return "sudo is not installed on the host"
		}
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
