package docstest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/tikv-ear/tikv-ear/cli"
)

var docsUpdate = flag.Bool("docs-update", false, "rewrite the generated help blocks of docs/commands.md from the CLI (the prose is kept)")

// docsDir is the handbook, relative to this package.
const docsDir = "../../docs"

// commandsPage is the command reference whose help blocks are generated.
const commandsPage = "commands.md"

// helpWidth is the terminal width the help blocks are rendered at. kong wraps
// help to $COLUMNS (else the terminal, else 80), so the test pins it.
const helpWidth = "80"

// helpMarker precedes each generated block: <!-- help: tikv-ear report verify -->
var helpMarker = regexp.MustCompile(`^<!-- help: (tikv-ear(?: [a-z-]+)*) -->$`)

// model returns kong's model of the command tree, built as cli.Main builds it.
func model(t *testing.T) *kong.Application {
	t.Helper()
	var root cli.Root
	p, err := kong.New(&root, kong.Name("tikv-ear"), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatalf("building the kong model: %v", err)
	}
	return p.Model
}

// commandPaths lists every visible command as "tikv-ear", "tikv-ear plan",
// "tikv-ear report verify", … depth first in declaration order.
func commandPaths(t *testing.T) []string {
	t.Helper()
	var out []string
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		out = append(out, path)
		for _, c := range n.Children {
			if c.Type == kong.CommandNode && !c.Hidden {
				walk(c, path+" "+c.Name)
			}
		}
	}
	walk(model(t).Node, "tikv-ear")
	return out
}

// renderHelp runs `tikv-ear <path> --help` through cli.Main. The caller pins COLUMNS.
func renderHelp(t *testing.T, path string) string {
	t.Helper()
	args := append(strings.Fields(path)[1:], "--help")
	var out, errb bytes.Buffer
	code := cli.Main(args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }})
	if code != 0 || errb.Len() > 0 {
		t.Fatalf("%s --help: exit %d, stderr:\n%s", path, code, errb.String())
	}
	return trimLines(out.String())
}

// trimLines drops trailing blanks from every line (editors strip them from
// Markdown) and ends the text with exactly one newline.
func trimLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n") + "\n"
}

// helpBlock is a generated block of the command reference.
type helpBlock struct {
	Path       string // "tikv-ear plan"
	Line       int    // 1-based line of the marker
	Start, End int    // the body is lines[Start:End] (0-based, fences excluded)
}

// helpBlocks finds each marker and the ```text block that must follow it.
func helpBlocks(lines []string) ([]helpBlock, error) {
	var out []helpBlock
	for i := 0; i < len(lines); i++ {
		m := helpMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "<!-- help") {
				return nil, fmt.Errorf("%s:%d: malformed marker %q, want <!-- help: tikv-ear CMD -->", commandsPage, i+1, lines[i])
			}
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```text" {
			return nil, fmt.Errorf("%s:%d: the marker for %q must be followed by a ```text line", commandsPage, i+1, m[1])
		}
		end := i + 2
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("%s:%d: the help block of %q is never closed", commandsPage, i+2, m[1])
		}
		out = append(out, helpBlock{Path: m[1], Line: i + 1, Start: i + 2, End: end})
		i = end
	}
	return out, nil
}

// TestHelpMatchesDocs renders the help of every command at a fixed width and
// compares it with its block in docs/commands.md. With -docs-update it
// rewrites the blocks instead, and appends a stub section for a command the
// page lacks (whose prose and example then still have to be written).
func TestHelpMatchesDocs(t *testing.T) {
	t.Setenv("COLUMNS", helpWidth)
	page := filepath.Join(docsDir, commandsPage)
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("reading %s: %v", page, err)
	}
	lines := strings.Split(string(data), "\n")
	blocks, err := helpBlocks(lines)
	if err != nil {
		t.Fatal(err)
	}
	paths := commandPaths(t)
	want := map[string]string{}
	for _, p := range paths {
		want[p] = renderHelp(t, p)
	}

	seen := map[string]bool{}
	var problems []string
	for _, b := range blocks {
		if seen[b.Path] {
			problems = append(problems, fmt.Sprintf("%s:%d: a second help block for %q", commandsPage, b.Line, b.Path))
		}
		seen[b.Path] = true
		help, ok := want[b.Path]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s:%d: %q is not a tikv-ear command (remove its section)", commandsPage, b.Line, b.Path))
			continue
		}
		if got := trimLines(strings.Join(lines[b.Start:b.End], "\n")); got != help {
			problems = append(problems, fmt.Sprintf("%s:%d: the help of %q differs from the CLI:\n%s", commandsPage, b.Line, b.Path, lineDiff(got, help)))
		}
	}
	var missing []string
	for _, p := range paths {
		if !seen[p] {
			missing = append(missing, p)
			problems = append(problems, fmt.Sprintf("%s: no section for %q", commandsPage, p))
		}
	}

	if *docsUpdate {
		out := rewriteHelp(lines, blocks, want, missing)
		if out != string(data) {
			if err := os.WriteFile(page, []byte(out), 0o644); err != nil {
				t.Fatalf("writing %s: %v", page, err)
			}
			t.Logf("rewrote the help blocks of %s", page)
		}
		if len(missing) > 0 {
			t.Errorf("appended stub sections to %s for %v: write their prose and examples", page, missing)
		}
		return
	}
	if len(problems) > 0 {
		t.Errorf("docs/commands.md is out of date with the CLI:\n%s\n\nrun: go test ./cli/docstest -docs-update   (rewrites the help blocks, keeps the prose)",
			strings.Join(problems, "\n"))
	}
}

// rewriteHelp replaces every known block's body with the rendered help and
// appends a stub section per missing command.
func rewriteHelp(lines []string, blocks []helpBlock, want map[string]string, missing []string) string {
	var out []string
	next := 0
	for _, b := range blocks {
		out = append(out, lines[next:b.Start]...)
		if help, ok := want[b.Path]; ok {
			out = append(out, strings.Split(strings.TrimSuffix(help, "\n"), "\n")...)
		} else {
			out = append(out, lines[b.Start:b.End]...)
		}
		next = b.End
	}
	out = append(out, lines[next:]...)
	text := strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
	for _, p := range missing {
		text += fmt.Sprintf("\n## %s\n\n<!-- help: %s -->\n```text\n%s```\n\n(Say what it is for and give an example: TestEveryCommandHasAnExample fails until you do.)\n", p, p, want[p])
	}
	return text
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("  line %d of the block:\n    docs: %q\n    cli:  %q", i+1, gl, wl)
		}
	}
	return "  (same lines)"
}

func TestHelpBlocksParse(t *testing.T) {
	lines := strings.Split("# x\n<!-- help: tikv-ear plan -->\n```text\nUsage: old\n```\nprose\n<!-- help: tikv-ear -->\n```text\n```\n", "\n")
	blocks, err := helpBlocks(lines)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].Path != "tikv-ear plan" || blocks[0].Start != 3 || blocks[0].End != 4 || blocks[1].Start != blocks[1].End {
		t.Fatalf("blocks: %+v", blocks)
	}
	got := rewriteHelp(lines, blocks, map[string]string{"tikv-ear plan": "Usage: new\n  more\n", "tikv-ear": "Usage: root\n"}, []string{"tikv-ear keygen"})
	if !strings.HasPrefix(got, "# x\n<!-- help: tikv-ear plan -->\n```text\nUsage: new\n  more\n```\nprose\n<!-- help: tikv-ear -->\n```text\nUsage: root\n```\n") ||
		!strings.Contains(got, "\n## tikv-ear keygen\n\n<!-- help: tikv-ear keygen -->\n```text\n") {
		t.Errorf("rewrite:\n%s", got)
	}
	for _, bad := range []string{"<!-- help: tikv-ear plan -->\nprose\n", "<!-- help: tikv-ear plan -->\n```text\nx\n", "<!-- help tikv-ear plan -->\n"} {
		if _, err := helpBlocks(strings.Split(bad, "\n")); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestEveryCommandHasAnExample requires, in each command's section of
// docs/commands.md (from its help marker to the next), at least one shell
// block that runs that command.
func TestEveryCommandHasAnExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(docsDir, commandsPage))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	blocks, err := helpBlocks(lines)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		end := len(lines)
		if i+1 < len(blocks) {
			end = blocks[i+1].Line - 1
		}
		section := strings.Join(lines[b.End+1:end], "\n")
		fs, err := fences(commandsPage, section)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range fs {
			if slices.Contains(shellInfos, f.Info) && containsCommand(f.Body, b.Path) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s:%d: the section of %q has no example running it (a ```sh or ```sh sim block)", commandsPage, b.Line, b.Path)
		}
	}
}

// containsCommand reports whether a shell block has a line running path
// ("tikv-ear schedule install …").
func containsCommand(body, path string) bool {
	for _, line := range strings.Split(body, "\n") {
		words, _, err := shellWords(strings.TrimSpace(line))
		if err != nil {
			continue
		}
		var texts []string
		for _, w := range words {
			if w.Text == "sudo" || envAssign.MatchString(w.Text) {
				continue
			}
			texts = append(texts, w.Text)
		}
		if got := strings.Join(texts, " "); got == path || strings.HasPrefix(got, path+" ") {
			return true
		}
	}
	return false
}
