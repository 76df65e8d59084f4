package docstest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fence is one fenced code block of a Markdown page.
type fence struct {
	File string // page path, for messages
	Line int    // 1-based line of the opening fence
	Info string // the info string after ```, e.g. "sh sim"
	Body string // the lines between the fences, each ending in "\n"
}

// runnable reports whether the block is an example the tests run on the sim.
func (f fence) runnable() bool { return f.Info == "sh sim" }

// fences returns every fenced block of a page, in order. An unclosed fence is an error.
func fences(file, text string) ([]fence, error) {
	var out []fence
	var cur *fence
	var marker string
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
				marker = trimmed[:3]
				cur = &fence{File: file, Line: i + 1, Info: strings.TrimSpace(trimmed[3:])}
			}
			continue
		}
		if strings.TrimSpace(trimmed) == marker {
			out = append(out, *cur)
			cur = nil
			continue
		}
		cur.Body += dedent(line, indentOf(text, cur.Line)) + "\n"
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: the ``` fence is never closed", file, cur.Line)
	}
	return out, nil
}

// indentOf returns the indentation of line n (1-based) of text: fences inside
// list items are indented, and so is their content.
func indentOf(text string, n int) int {
	line := strings.Split(text, "\n")[n-1]
	return len(line) - len(strings.TrimLeft(line, " "))
}

func dedent(line string, n int) string {
	for i := 0; i < n && strings.HasPrefix(line, " "); i++ {
		line = line[1:]
	}
	return line
}

// command is one tikv-ear invocation of a runnable example.
type command struct {
	Where string // file:line, for messages
	Text  string // the command as written (continuations joined)
	Args  []word // the words after "tikv-ear"
	Exit  int    // the exit status the example expects ("# exit N"), default 0
}

// word is one shell word. Glob is set when it holds an unquoted *, ? or [;
// Special when it holds an unquoted character sh would treat as an operator
// or expansion (| & ; < > $ `), which cannot run in-process.
type word struct {
	Text    string
	Glob    bool
	Special bool
}

var exitComment = regexp.MustCompile(`^exit (\d+)\b`)

// commands splits a block into tikv-ear invocations: blank lines and comment
// lines are skipped, a trailing backslash continues a line, and a trailing
// "# exit N" comment sets the expected exit status. Anything that is not a
// tikv-ear invocation (pipes, redirections, other programs) is an error: the
// examples run in-process, not in a shell.
func commands(f fence) ([]command, error) {
	lines := strings.Split(strings.TrimSuffix(f.Body, "\n"), "\n")
	var out []command
	for i := 0; i < len(lines); i++ {
		start := i
		text := lines[i]
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, "\\") + " " + strings.TrimSpace(lines[i])
		}
		where := fmt.Sprintf("%s:%d", f.File, f.Line+1+start)
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		words, comment, err := shellWords(trimmed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(words) == 0 || words[0].Text != "tikv-ear" {
			return nil, fmt.Errorf("%s: a runnable example runs tikv-ear only, got %q", where, trimmed)
		}
		for _, w := range words {
			if w.Special {
				return nil, fmt.Errorf("%s: %q: pipes, redirections and variables do not run in-process", where, w.Text)
			}
		}
		c := command{Where: where, Text: trimmed, Args: words[1:]}
		if m := exitComment.FindStringSubmatch(comment); m != nil {
			c.Exit, _ = strconv.Atoi(m[1])
		}
		out = append(out, c)
	}
	return out, nil
}

// shellWords splits a line as sh does for the simple commands the docs show:
// blanks separate words; '…' and "…" quote (with \" and \\ inside double
// quotes); a backslash outside quotes escapes the next character; an unquoted
// # at the start of a word begins the comment, which is returned trimmed.
func shellWords(line string) (words []word, comment string, err error) {
	var cur strings.Builder
	inWord, glob, special := false, false, false
	flush := func() {
		if inWord {
			words = append(words, word{Text: cur.String(), Glob: glob, Special: special})
		}
		cur.Reset()
		inWord, glob, special = false, false, false
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t':
			flush()
		case ch == '#' && !inWord:
			flush()
			return words, strings.TrimSpace(line[i+1:]), nil
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, "", fmt.Errorf("unterminated ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\') {
					j++
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, "", fmt.Errorf("unterminated \" in %q", line)
			}
			i = j
			inWord = true
		default:
			glob = glob || strings.IndexByte("*?[", ch) >= 0
			special = special || strings.IndexByte("|&;<>$`", ch) >= 0
			cur.WriteByte(ch)
			inWord = true
		}
	}
	flush()
	return words, "", nil
}

// expand turns words into argv, expanding globs relative to the working
// directory as sh would; a glob that matches nothing is an error (sh would
// pass it on literally, which only hides a broken example).
func expand(words []word) ([]string, error) {
	var args []string
	for _, w := range words {
		if !w.Glob {
			args = append(args, w.Text)
			continue
		}
		matches, err := filepath.Glob(w.Text)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", w.Text, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("pattern %q matches no file", w.Text)
		}
		args = append(args, matches...)
	}
	return args, nil
}

func TestShellWords(t *testing.T) {
	lit := func(ss ...string) []word {
		var ws []word
		for _, s := range ss {
			ws = append(ws, word{Text: s})
		}
		return ws
	}
	for _, tc := range []struct {
		line    string
		want    []word
		comment string
	}{
		{`tikv-ear plan --out plan.toml`, lit("tikv-ear", "plan", "--out", "plan.toml"), ""},
		{`tikv-ear disable plan.toml --confirm "expose every data key"   # exit 1`,
			lit("tikv-ear", "disable", "plan.toml", "--confirm", "expose every data key"), "exit 1"},
		{`tikv-ear report verify r/apply-*/report.json --key 'a b'`,
			append(append(lit("tikv-ear", "report", "verify"), word{Text: "r/apply-*/report.json", Glob: true}), lit("--key", "a b")...), ""},
		{`tikv-ear x a\ b "q\"uote" '*' '$x' #c`, lit("tikv-ear", "x", "a b", `q"uote`, "*", "$x"), "c"},
		{`tikv-ear x a#b`, lit("tikv-ear", "x", "a#b"), ""},
		{`tikv-ear x $SIM >out`, append(lit("tikv-ear", "x"), word{Text: "$SIM", Special: true}, word{Text: ">out", Special: true}), ""},
	} {
		got, comment, err := shellWords(tc.line)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || comment != tc.comment {
			t.Errorf("%q:\n got %v # %q\nwant %v # %q", tc.line, got, comment, tc.want, tc.comment)
		}
	}
	for _, bad := range []string{`tikv-ear "open`, `tikv-ear 'open`} {
		if _, _, err := shellWords(bad); err == nil {
			t.Errorf("%q: no error for an unterminated quote", bad)
		}
	}
}

func TestCommands(t *testing.T) {
	page := "intro\n\n  ```sh sim\n  # a comment line\n  tikv-ear plan --sim d \\\n      --out plan.toml\n\n  tikv-ear verify --sim d   # exit 1\n  ```\n\n```sh\ntikv-ear demo\n```\n"
	fs, err := fences("p.md", page)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || !fs[0].runnable() || fs[1].runnable() || fs[0].Line != 3 {
		t.Fatalf("fences: %+v", fs)
	}
	cmds, err := commands(fs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 {
		t.Fatalf("commands: %+v", cmds)
	}
	if cmds[0].Where != "p.md:5" || len(cmds[0].Args) != 5 || cmds[0].Args[4].Text != "plan.toml" || cmds[0].Exit != 0 {
		t.Errorf("continued command: %+v", cmds[0])
	}
	if cmds[1].Where != "p.md:8" || cmds[1].Exit != 1 {
		t.Errorf("exit annotation: %+v", cmds[1])
	}
	for _, body := range []string{"ls -l\n", "tikv-ear status > out.json\n", "tikv-ear status | jq .\n", "tikv-ear status --sim $SIM\n"} {
		if _, err := commands(fence{File: "p.md", Line: 1, Info: "sh sim", Body: body}); err == nil {
			t.Errorf("%q runs in-process without complaint", body)
		}
	}
	if _, err := fences("p.md", "```sh\ntikv-ear x\n"); err == nil {
		t.Error("an unclosed fence is not an error")
	}
}
