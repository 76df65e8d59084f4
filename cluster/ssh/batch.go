package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Batch collects independent read-only commands for one host and runs them
// in one SSH session: one remote shell, one round trip of latency, instead of
// a session (and a login shell) per command. Each command still gets its own
// Result, exactly what Executor.Run would have returned for it alone: its
// stdout, its stderr and its exit status. The parsing of every result stays
// with the operation that asked for it (Node.ReadFileIn, StatIn, ...).
//
// Commands run one after the other, each in its own subshell with stdin from
// /dev/null, so an exit, a trap or a "set -e" in one does not reach the next.
// One difference from a session of its own: in a subshell $$ is the batch
// shell's pid, so a batched command must not signal $$ (none does; a command
// that did would end the batch, and the commands after it would report no
// exit status, never a made-up one).
// A batch carries no stdin: writes, key uploads and anything that needs a
// secret on stdin go through Executor.Run. A batch of one command is sent as
// that command alone, unwrapped.
//
// Use: b := node.Batch(); get := node.ReadFileIn(b, p); ...; b.Run(ctx); data, err := get().
type Batch struct {
	exec    Executor
	host    string
	cmds    []string
	results []Result
	errs    []error
	ran     bool
}

// NewBatch returns an empty batch for host, run through exec.
func NewBatch(exec Executor, host string) *Batch { return &Batch{exec: exec, host: host} }

// Batch returns an empty batch for the node's host.
func (n Node) Batch() *Batch { return NewBatch(n.Exec, n.Host) }

// Len is the number of commands added.
func (b *Batch) Len() int { return len(b.cmds) }

// Host is the host the batch runs on.
func (b *Batch) Host() string { return b.host }

// errBatchNotRun is what a result asked for before Run returns.
var errBatchNotRun = errors.New("internal error: the command's batch has not run yet")

// Add queues cmd and returns the function that gives its Result once Run has
// returned (errBatchNotRun before). Adding after Run panics: a batch runs once.
func (b *Batch) Add(cmd string) func() (Result, error) {
	if b.ran {
		panic("ssh: Batch.Add after Run")
	}
	i := len(b.cmds)
	b.cmds = append(b.cmds, cmd)
	return func() (Result, error) {
		if !b.ran {
			return Result{}, errBatchNotRun
		}
		return b.results[i], b.errs[i]
	}
}

// Run runs every queued command in one session (none: nothing is sent). An
// error that stops the whole session (cannot connect, sudo refused,
// connection lost, ctx done) becomes every command's error; Run returns it
// too, so a caller can tell an unreachable host from a command that failed.
func (b *Batch) Run(ctx context.Context) error {
	if b.ran {
		return errors.New("internal error: a batch runs once")
	}
	b.ran = true
	b.results = make([]Result, len(b.cmds))
	b.errs = make([]error, len(b.cmds))
	switch len(b.cmds) {
	case 0:
		return nil
	case 1:
		b.results[0], b.errs[0] = b.exec.Run(ctx, b.host, b.cmds[0], nil)
		return b.errs[0]
	}
	boundary, err := newBoundary()
	if err != nil {
		return b.failAll(err)
	}
	res, err := b.exec.Run(ctx, b.host, batchScript(boundary, b.cmds), nil)
	if err != nil {
		return b.failAll(err)
	}
	outs, codes, outErr := splitBatch(res.Stdout, boundary, len(b.cmds), true)
	errs, _, errErr := splitBatch(res.Stderr, boundary, len(b.cmds), false)
	for i := range b.cmds {
		switch {
		case i < len(codes) && i < len(errs):
			b.results[i] = Result{Stdout: outs[i], Stderr: errs[i], ExitCode: codes[i]}
		default:
			// The session ended before this command reported: as for a lone
			// command whose connection ended, there is no exit status.
			cause := errors.Join(outErr, errErr)
			b.results[i] = Result{ExitCode: -1}
			b.errs[i] = fmt.Errorf("the batched command %d of %d reported no exit status (batch exit status %d: %s): %w",
				i+1, len(b.cmds), res.ExitCode, firstLine(strings.TrimSpace(string(res.Stderr))), cause)
		}
	}
	return nil
}

func (b *Batch) failAll(err error) error {
	for i := range b.errs {
		b.results[i] = Result{ExitCode: -1}
		b.errs[i] = err
	}
	return err
}

// newBoundary is a fresh random marker: no file content can end a
// command's output early unless it guesses 128 random bits.
func newBoundary() (string, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("batch boundary: %w", err)
	}
	return "tikv-ear-batch-" + hex.EncodeToString(raw[:]), nil
}

// batchScript runs each command through eval in a subshell (so it is parsed
// at run time, as "sh -c" would) and, after it, writes on stdout a newline
// and "<boundary> <i> <exit status>" and on stderr a newline and
// "<boundary> <i>". The newline in front of each marker is not part of the
// command's output; splitBatch removes it.
func batchScript(boundary string, cmds []string) string {
	var s strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&s, "( eval %s ) </dev/null\n", Quote(c))
		fmt.Fprintf(&s, "printf '\\n%s %d %%d\\n' \"$?\"; printf '\\n%s %d\\n' >&2\n", boundary, i, boundary, i)
	}
	return s.String()
}

// splitBatch cuts one stream of a batch's output at its markers. withCode
// reads the exit status after each stdout marker. It returns the outputs
// (and codes) of the commands that finished; err says why it stopped early.
func splitBatch(stream []byte, boundary string, n int, withCode bool) (outs [][]byte, codes []int, err error) {
	rest := stream
	for i := range n {
		marker := []byte("\n" + boundary + " " + strconv.Itoa(i))
		at := bytes.Index(rest, marker)
		if at < 0 {
			return outs, codes, fmt.Errorf("no end marker for command %d", i+1)
		}
		body := rest[:at:at]
		rest = rest[at+len(marker):]
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return outs, codes, fmt.Errorf("end marker of command %d is cut", i+1)
		}
		rest = after
		if withCode {
			code, perr := strconv.Atoi(strings.TrimPrefix(string(line), " "))
			if perr != nil || !bytes.HasPrefix(line, []byte(" ")) {
				return outs, codes, fmt.Errorf("end marker of command %d has no exit status: %q", i+1, line)
			}
			codes = append(codes, code)
		} else if len(line) != 0 {
			return outs, codes, fmt.Errorf("end marker of command %d on stderr is malformed: %q", i+1, line)
		}
		outs = append(outs, body)
	}
	return outs, codes, nil
}
