package ssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// localSh is an Executor running each command with the local /bin/sh, as a
// host's login shell would, counting the commands (sessions) it was sent.
type localSh struct {
	mu    sync.Mutex
	calls []string
	// cut, when > 0, keeps only the first cut bytes of stdout and stderr and
	// reports a lost connection, as a session that ended mid-way would.
	cut int
}

func (l *localSh) Run(ctx context.Context, host, cmd string, stdin io.Reader) (Result, error) {
	l.mu.Lock()
	l.calls = append(l.calls, cmd)
	l.mu.Unlock()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if stdin != nil {
		c.Stdin = stdin
	}
	err := c.Run()
	res := Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	case err != nil:
		return Result{}, err
	}
	if l.cut > 0 {
		res.Stdout = res.Stdout[:min(l.cut, len(res.Stdout))]
		res.Stderr = res.Stderr[:min(l.cut, len(res.Stderr))]
		return Result{ExitCode: -1, Stdout: res.Stdout, Stderr: res.Stderr}, nil
	}
	return res, nil
}

// batchCases are commands whose results must come back from a batch exactly
// as from a session of their own.
func batchCases(dir string) []string {
	return []string{
		"printf 'no newline at the end'",
		"printf 'two\\nlines\\n'; echo 'to stderr' >&2; exit 3",
		"printf '\\000\\001binary\\n\\n\\000'",
		"set -e; echo before; false; echo after",
		"trap 'echo trapped' EXIT; echo body",
		"cat; echo \"stdin was empty: $?\"",
		"sh -c 'kill -TERM $$'", // killed by a signal: 128+15
		"cat -- " + Quote(filepath.Join(dir, "missing")),
		"cat -- " + Quote(filepath.Join(dir, "file")),
		"echo 'tikv-ear-batch-0 0 0'; echo 'tikv-ear-batch-0 1' >&2", // looks like a marker, but not this batch's
		"if then fi", // a syntax error: only this command fails
		"exit 0 # a comment at the end",
		"",
	}
}

func TestBatchGivesEachCommandItsOwnResult(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cmds := batchCases(dir)
	alone := &localSh{}
	var want []Result
	for _, c := range cmds {
		r, err := alone.Run(ctx, "h", c, nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	exe := &localSh{}
	b := NewBatch(exe, "h")
	var gets []func() (Result, error)
	for _, c := range cmds {
		gets = append(gets, b.Add(c))
	}
	if _, err := gets[0](); err == nil {
		t.Error("a result was given before the batch ran")
	}
	if err := b.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(exe.calls) != 1 {
		t.Fatalf("a batch of %d commands took %d sessions, want 1", len(cmds), len(exe.calls))
	}
	for i, get := range gets {
		got, err := get()
		if err != nil {
			t.Errorf("%q: %v", cmds[i], err)
			continue
		}
		w := want[i]
		// The shell names itself in its own messages ("sh: 1: Syntax error"); eval says "eval".
		if !bytes.Equal(got.Stdout, w.Stdout) || got.ExitCode != w.ExitCode ||
			(!bytes.Equal(got.Stderr, w.Stderr) && !strings.Contains(string(w.Stderr), "Syntax error")) {
			t.Errorf("%q batched: out %q err %q exit %d; alone: out %q err %q exit %d",
				cmds[i], got.Stdout, got.Stderr, got.ExitCode, w.Stdout, w.Stderr, w.ExitCode)
		}
	}
}

func TestBatchOfOneIsTheCommandItself(t *testing.T) {
	exe := &localSh{}
	b := NewBatch(exe, "h")
	get := b.Add("echo hi")
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res, err := get(); err != nil || string(res.Stdout) != "hi\n" {
		t.Fatalf("got %q, %v", res.Stdout, err)
	}
	if len(exe.calls) != 1 || exe.calls[0] != "echo hi" {
		t.Errorf("sent %q, want the command unwrapped", exe.calls)
	}
	empty := NewBatch(exe, "h")
	if err := empty.Run(context.Background()); err != nil || len(exe.calls) != 1 {
		t.Errorf("an empty batch sent %d commands (%v)", len(exe.calls)-1, err)
	}
}

func TestBatchTransportErrorIsEveryCommands(t *testing.T) {
	lost := errors.New("connection refused")
	var calls int
	exe := ExecutorFunc(func(context.Context, string, string, io.Reader) (Result, error) {
		calls++
		return Result{}, lost
	})
	n := Node{Exec: exe, Host: "tidb@10.0.0.1"}
	b := n.Batch()
	read := n.ReadFileIn(b, "/etc/tikv.toml")
	stat := n.StatIn(b, "/data/key.dict")
	if err := b.Run(context.Background()); !errors.Is(err, lost) {
		t.Fatalf("Run = %v", err)
	}
	if _, err := read(); !errors.Is(err, lost) || !strings.Contains(err.Error(), "reading /etc/tikv.toml on tidb@10.0.0.1") {
		t.Errorf("read: %v", err)
	}
	if _, err := stat(); !errors.Is(err, lost) {
		t.Errorf("stat: %v", err)
	}
	if calls != 1 {
		t.Errorf("%d sessions, want 1", calls)
	}
}

func TestBatchCutShortLeavesTheRestWithoutStatus(t *testing.T) {
	ctx := context.Background()
	// Measure where the first command's markers end, then cut right after them.
	full := &localSh{}
	b := NewBatch(full, "h")
	b.Add("echo one")
	b.Add("echo two")
	if err := b.Run(ctx); err != nil {
		t.Fatal(err)
	}
	exe := &localSh{cut: len("one\n\ntikv-ear-batch-") + 32 + len(" 0 0\n")}
	b = NewBatch(exe, "h")
	first, second := b.Add("echo one"), b.Add("echo two")
	if err := b.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := first(); err != nil || string(res.Stdout) != "one\n" {
		t.Errorf("first: %q, %v", res.Stdout, err)
	}
	if res, err := second(); err == nil || res.ExitCode != -1 || !strings.Contains(err.Error(), "reported no exit status") {
		t.Errorf("second: %+v, %v; want no exit status", res, err)
	}
}

func TestNodeOpsInABatchAnswerAsAlone(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tikv.toml")
	if err := os.WriteFile(file, []byte("[security]\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exe := &localSh{}
	n := Node{Exec: exe, Host: "h"}
	b := n.Batch()
	read, missing := n.ReadFileIn(b, file), n.ReadFileIn(b, filepath.Join(dir, "nope"))
	stat, statMissing := n.StatIn(b, file), n.StatIn(b, filepath.Join(dir, "not", "yet"))
	df, aes := n.FreeSpaceIn(b, dir), n.CPUHasAESIn(b)
	relative := n.ReadFileIn(b, "relative/path")
	exists, existsMissing := n.ExistsIn(b, file), n.ExistsIn(b, filepath.Join(dir, "nope"))
	if err := b.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(exe.calls) != 1 {
		t.Fatalf("%d sessions, want 1", len(exe.calls))
	}
	if data, err := read(); err != nil || string(data) != "[security]\n" {
		t.Errorf("ReadFileIn: %q, %v", data, err)
	}
	if _, err := missing(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFileIn(missing): %v, want fs.ErrNotExist", err)
	}
	if _, err := relative(); err == nil {
		t.Error("ReadFileIn(relative) queued a command")
	}
	fi, err := stat()
	aloneFI, aloneErr := n.Stat(ctx, file)
	if err != nil || aloneErr != nil || fi != aloneFI || !fi.Exists || fi.Mode.Perm() != 0o640 {
		t.Errorf("StatIn = %+v, %v; Stat = %+v, %v", fi, err, aloneFI, aloneErr)
	}
	if fi, err := statMissing(); err != nil || fi.Exists || fi.FSType == "" {
		t.Errorf("StatIn(missing) = %+v, %v", fi, err)
	}
	ds, err := df()
	if aloneDS, _ := n.FreeSpace(ctx, dir); err != nil || ds.MountedOn != aloneDS.MountedOn || ds.Total != aloneDS.Total {
		t.Errorf("FreeSpaceIn = %+v, %v; FreeSpace = %+v", ds, err, aloneDS)
	}
	if yes, err := exists(); !yes || err != nil {
		t.Errorf("ExistsIn(%s) = %v, %v", file, yes, err)
	}
	if yes, err := existsMissing(); yes || err != nil {
		t.Errorf("ExistsIn(missing) = %v, %v", yes, err)
	}
	got, err := aes()
	if aloneAES, aloneErr := n.CPUHasAES(ctx); got != aloneAES || (err == nil) != (aloneErr == nil) {
		t.Errorf("CPUHasAESIn = %v, %v; CPUHasAES = %v, %v", got, err, aloneAES, aloneErr)
	}
}

// cpuFlagsCommand finds the first flags (x86) or Features (arm64) line as
// grep -m1 -E '^(flags|Features)[[:space:]]*:' did, and exits 1 without one.
func TestCPUFlagsCommand(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
		code             int
	}{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nvmx flags\t: ept\nflags\t\t: fpu sse2 aes avx\nbugs\t\t: sysret_ss_attrs\nflags\t\t: second\n", "flags\t\t: fpu sse2 aes avx\n", 0},
		{"arm64", "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd aes pmull sha1\nCPU implementer\t: 0x41\n", "Features\t: fp asimd aes pmull sha1\n", 0},
		{"neither", "processor\t: 0\nflagsx : aes\n no colon here\n", "", 1},
	} {
		file := filepath.Join(t.TempDir(), "cpuinfo")
		if err := os.WriteFile(file, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := (&localSh{}).Run(context.Background(), "h", cpuFlagsCommand(file), nil)
		if err != nil || string(res.Stdout) != tc.want || res.ExitCode != tc.code {
			t.Errorf("%s: %q, exit %d, %v; want %q, exit %d", tc.name, res.Stdout, res.ExitCode, err, tc.want, tc.code)
		}
	}
}
