package docstest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cli"
	"github.com/tikv-ear/tikv-ear/sim"
)

// examplePages are the pages whose "sh sim" examples run, in this order,
// against one simulated cluster: each page's examples rely on what the pages
// before it did (getting-started enables encryption, the reference rotates,
// the incident page rotates again, disable turns it off last).
var examplePages = []string{"getting-started.md", "commands.md", "incident-rotation.md", "disable.md"}

// The examples' working directory holds the sim under its default name, so
// they read as an operator types them after `tikv-ear sim up`.
const simDirName = "tikv-ear-sim"

var showOutput = flag.Bool("docs-show-output", false, "log the stdout and stderr of every example (with -v): for writing the prose around them")

// commandTimeout bounds one example; a hung command fails the test instead of
// the whole binary timing out.
const commandTimeout = 2 * time.Minute

// lockedBuffer is a writer safe to read after a timed-out command goes on writing.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runnableExamples reads a page and returns its runnable commands.
func runnableExamples(t *testing.T, path string) []command {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	fs, err := fences(filepath.Base(path), string(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []command
	for _, f := range fs {
		if !f.runnable() {
			continue
		}
		cmds, err := commands(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(cmds) == 0 {
			t.Fatalf("%s:%d: a runnable block without a command", f.File, f.Line)
		}
		out = append(out, cmds...)
	}
	return out
}

// TestExamplesRun starts one 3-store sim and runs every "sh sim" example of
// examplePages in order through cli.Main (no terminal), each expecting exit 0
// or the status its "# exit N" comment names.
func TestExamplesRun(t *testing.T) {
	docs, err := filepath.Abs(docsDir)
	if err != nil {
		t.Fatal(err)
	}
	var all []command
	for _, page := range examplePages {
		cmds := runnableExamples(t, filepath.Join(docs, page))
		if len(cmds) == 0 {
			t.Errorf("%s has no runnable example (```sh sim)", page)
		}
		all = append(all, cmds...)
	}

	work := t.TempDir()
	if err := checkNotTmpfs(work); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: filepath.Join(work, simDirName)})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	defer cl.Close()
	waitServing(t, ctx, cl)

	t.Chdir(work)
	for _, env := range []string{"TIKV_EAR_PD", "TIKV_EAR_SIM", "COLUMNS"} {
		t.Setenv(env, "") // restored after the test
		os.Unsetenv(env)  // kong would read an empty TIKV_EAR_PD as one endpoint
	}
	for _, c := range all {
		runExample(t, c)
	}
}

// runExample runs one command in-process and fails the test on an unexpected exit.
func runExample(t *testing.T, c command) {
	t.Helper()
	args, err := expand(c.Args)
	if err != nil {
		t.Fatalf("%s: %s: %v", c.Where, c.Text, err)
	}
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	io := cli.IO{In: strings.NewReader(""), Out: out, Err: errb, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	start := time.Now()
	go func() { done <- cli.Main(args, io) }()
	select {
	case code := <-done:
		t.Logf("%s: %s → exit %d (%s)", c.Where, c.Text, code, time.Since(start).Round(10*time.Millisecond))
		if *showOutput {
			t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
		if code != c.Exit {
			t.Fatalf("%s: %s\nexit %d, the example expects %d (annotate it with \"# exit %d\" if that is intended)\nstdout:\n%s\nstderr:\n%s",
				c.Where, c.Text, code, c.Exit, code, out.String(), errb.String())
		}
	case <-time.After(commandTimeout):
		t.Fatalf("%s: %s did not finish in %s\nstdout:\n%s\nstderr:\n%s", c.Where, c.Text, commandTimeout, out.String(), errb.String())
	}
}

// waitServing waits until every simulated TiKV process runs: sim.Start
// returns once PD lists the stores, which can be before the first start ends.
func waitServing(t *testing.T, ctx context.Context, cl *sim.Cluster) {
	t.Helper()
	for {
		if !slices.ContainsFunc(cl.Nodes(), func(n *sim.Node) bool { return !n.Proc.Running() }) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the simulated stores did not all start: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestOnlyListedPagesHaveRunnableExamples keeps a "sh sim" block from being
// added to a page whose examples never run.
func TestOnlyListedPagesHaveRunnableExamples(t *testing.T) {
	for _, path := range markdownPages(t) {
		if slices.Contains(examplePages, filepath.Base(path)) && filepath.Dir(path) == filepath.Clean(docsDir) {
			continue
		}
		if cmds := runnableExamples(t, path); len(cmds) > 0 {
			t.Errorf("%s: %s is marked ```sh sim but the page is not in examplePages, so it never runs", path, cmds[0].Where)
		}
	}
}

// markdownPages lists the handbook pages and the top-level README.
func markdownPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in %s: %v", docsDir, err)
	}
	return append(pages, filepath.Join(docsDir, "..", "README.md"))
}
