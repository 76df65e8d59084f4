package docstest

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// shellInfos are the fence info strings whose lines are shell commands.
var shellInfos = []string{"sh", "sh sim", "bash", "shell", "console"}

// inlineCode matches a `code span` of one line.
var inlineCode = regexp.MustCompile("`([^`\n]+)`")

// envAssign is a VAR=value prefix of a command line.
var envAssign = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=\S*$`)

// docCommandLines returns every tikv-ear command line a page quotes, in shell
// blocks and in inline code spans, with its file:line.
func docCommandLines(file, text string) ([][2]string, error) {
	var out [][2]string
	fs, err := fences(file, text)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if !slices.Contains(shellInfos, f.Info) {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(f.Body, "\n"), "\n")
		for i := 0; i < len(lines); i++ {
			start, line := i, lines[i]
			for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
				i++
				line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
			}
			out = append(out, [2]string{fmt.Sprintf("%s:%d", file, f.Line+1+start), line})
		}
	}
	inFence := false
	for i, line := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			out = append(out, [2]string{fmt.Sprintf("%s:%d", file, i+1), m[1]})
		}
	}
	return out, nil
}

// checkCommandLine resolves a tikv-ear command line against kong's model:
// every command word must name a command, every --flag or -f a flag of it
// (or of a parent), and an enum flag's literal value one of its values.
// Lines that do not run tikv-ear return nil; placeholders (<plan>, …, UPPER)
// are accepted where values go.
func checkCommandLine(app *kong.Application, line string) error {
	words, _, err := shellWords(strings.TrimSpace(line))
	if err != nil {
		return nil // prose in a code span, not a command
	}
	for len(words) > 0 && (words[0].Text == "sudo" || words[0].Text == "$" || envAssign.MatchString(words[0].Text)) {
		words = words[1:]
	}
	if len(words) == 0 || words[0].Text != "tikv-ear" {
		return nil
	}
	node := app.Node
	positional := false
	for i := 1; i < len(words); i++ {
		w := strings.Trim(words[i].Text, "[]")
		if w == "" || w == "|" || w == "/" || w == "…" || w == "..." || strings.HasPrefix(w, "<") {
			positional = positional || strings.HasPrefix(w, "<")
			continue
		}
		if strings.HasPrefix(w, "-") && w != "-" {
			name, value, hasValue := strings.Cut(w, "=")
			f := findFlag(node, name)
			if f == nil {
				return fmt.Errorf("%q has no flag %s (tikv-ear %s --help)", node.FullPath(), name, strings.TrimSpace(node.Path()))
			}
			if f.IsBool() || f.IsCounter() {
				continue
			}
			if !hasValue {
				if i+1 >= len(words) {
					return fmt.Errorf("%s takes a value", name)
				}
				i++
				value = strings.Trim(words[i].Text, "[]")
			}
			if err := checkEnum(f, value); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		if !positional {
			if child := findCommand(node, w); child != nil {
				node = child
				continue
			}
			if len(node.Positional) == 0 && hasCommands(node) {
				return fmt.Errorf("%q has no command %q", node.FullPath(), w)
			}
		}
		positional = true
	}
	return nil
}

func findFlag(node *kong.Node, name string) *kong.Flag {
	for _, group := range node.AllFlags(false) {
		for _, f := range group {
			if "--"+f.Name == name || (f.Short != 0 && name == "-"+string(f.Short)) || slices.Contains(f.Aliases, strings.TrimPrefix(name, "--")) {
				return f
			}
			if f.Tag.Negatable != "" && name == "--no-"+f.Name {
				return f
			}
		}
	}
	return nil
}

func findCommand(node *kong.Node, name string) *kong.Node {
	for _, c := range node.Children {
		if c.Type == kong.CommandNode && (c.Name == name || slices.Contains(c.Aliases, name)) {
			return c
		}
	}
	return nil
}

func hasCommands(node *kong.Node) bool {
	return slices.ContainsFunc(node.Children, func(c *kong.Node) bool { return c.Type == kong.CommandNode })
}

// pathPlaceholders name a file or place: never a value of an enum flag, so
// "--output DIR" is a mistake (--output takes text or json).
var pathPlaceholders = []string{"DIR", "FILE", "PATH", "URL", "NAME"}

// checkEnum accepts a value of an enum flag, a|b alternatives of its values,
// or a placeholder (upper case, or in <angle brackets>) that is not a path.
func checkEnum(f *kong.Flag, value string) error {
	if f.Enum == "" || value == "" || strings.HasPrefix(value, "<") {
		return nil
	}
	if strings.ToUpper(value) == value && !slices.Contains(pathPlaceholders, value) {
		return nil
	}
	allowed := strings.Split(f.Enum, ",")
	for i := range allowed {
		allowed[i] = strings.TrimSpace(allowed[i])
	}
	for _, v := range strings.Split(value, "|") {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// TestDocCommandLinesMatchCLI checks every tikv-ear command line quoted in the
// handbook and the README, runnable or not, against the command tree: a
// renamed or removed command or flag fails here, with the page and line.
func TestDocCommandLinesMatchCLI(t *testing.T) {
	app := model(t)
	checked := 0
	for _, page := range markdownPages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := docCommandLines(page, string(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if err := checkCommandLine(app, l[1]); err != nil {
				t.Errorf("%s: %s\n    %v", l[0], l[1], err)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no command line found in the docs")
	}
}

func TestCheckCommandLine(t *testing.T) {
	app := model(t)
	for _, ok := range []string{
		"tikv-ear apply plan.toml --yes",
		"tikv-ear apply plan.toml [--yes] [--resume] [--abort]",
		"tikv-ear plan --sim DIR --env staging --backend file --out-file plan.toml",
		"tikv-ear report verify r.json --key=pub.pem --output text|json",
		"sudo tikv-ear schedule install p.toml --runner cron --dir d --system",
		"ACCESSIBLE=1 tikv-ear demo",
		"tikv-ear <command> --help",
		"tikv-ear change-method --to METHOD",
		"tikv-ear sim up / sim fault",
		"make demo",
		"tikv-ear",
	} {
		if err := checkCommandLine(app, ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"tikv-ear apply plan.toml --yess",
		"tikv-ear schedule instal plan.toml",
		"tikv-ear audit --output DIRECTORY --output xml",
		"tikv-ear plan --method aes512-ctr",
		"tikv-ear status --watch",
		"tikv-ear verify --plan",
		"tikv-ear audit [--output DIR]",
	} {
		if err := checkCommandLine(app, bad); err == nil {
			t.Errorf("%q passed", bad)
		}
	}
}
