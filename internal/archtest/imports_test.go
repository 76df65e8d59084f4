package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// module is this module's path; rules name packages relative to it.
const module = "github.com/tikv-ear/tikv-ear"

// rootDir is the module root, relative to this package.
const rootDir = "../.."

// rule is one row of the import-rules table.
type rule struct {
	rooms, mayImport, never []string
	line                    int
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// spans returns the backticked items of a table cell.
func spans(cell string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// readRules parses the table under "## Import rules" in docs/architecture.md.
func readRules(t *testing.T) []rule {
	t.Helper()
	f, err := os.Open(filepath.Join(rootDir, "docs", "architecture.md"))
	if err != nil {
		t.Fatalf("the import rules live in docs/architecture.md: %v", err)
	}
	defer f.Close()
	var rules []rule
	in, header := false, 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Import rules"
			continue
		case !in || !strings.HasPrefix(line, "|"):
			continue
		}
		header++
		if header <= 2 { // the header row and its separator
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("docs/architecture.md:%d: want 4 cells (room, may import, never depends on, why), got %d", n, len(cells))
		}
		r := rule{rooms: spans(cells[0]), mayImport: spans(cells[1]), never: spans(cells[2]), line: n}
		if len(r.rooms) == 0 || strings.TrimSpace(cells[3]) == "" {
			t.Fatalf("docs/architecture.md:%d: a rule names its rooms and says why", n)
		}
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal(`docs/architecture.md has no "## Import rules" table`)
	}
	return rules
}

// match reports whether the module-relative package rel matches pattern:
// "a/b" exactly, "a/*" any package below a, "a/**" a and any package below it,
// "**" any package, "(root)" the module's root package.
func match(pattern, rel string) bool {
	switch {
	case pattern == "**":
		return true
	case strings.HasSuffix(pattern, "/**"):
		base := strings.TrimSuffix(pattern, "/**")
		return rel == base || strings.HasPrefix(rel, base+"/")
	case strings.HasSuffix(pattern, "/*"):
		return strings.HasPrefix(rel, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == rel
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if match(p, rel) {
			return true
		}
	}
	return false
}

// pkg is what 'go list -json' says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// relative names a package of the module as the rules do.
func relative(path string) (string, bool) {
	if path == module {
		return "(root)", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// nonStd reports whether an import path is outside the standard library and
// this module (its first element has a dot, as module paths do).
func nonStd(path string) bool {
	if _, own := relative(path); own {
		return false
	}
	first, _, _ := strings.Cut(path, "/")
	return strings.Contains(first, ".")
}

// listPackages runs 'go list -json ./...' at the module root.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = rootDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -json ./...: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportsFollowDocsArchitecture checks every package of the module
// against docs/architecture.md: it belongs to exactly one room, imports only
// what its room may import from this module, and depends on nothing its room
// must never depend on.
func TestImportsFollowDocsArchitecture(t *testing.T) {
	rules := readRules(t)
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel, ok := relative(p.ImportPath)
		if !ok {
			continue
		}
		var mine []rule
		for _, r := range rules {
			if matchAny(r.rooms, rel) {
				mine = append(mine, r)
			}
		}
		if len(mine) != 1 {
			t.Errorf("%s matches %d rows of docs/architecture.md's import rules; give it exactly one room", rel, len(mine))
			continue
		}
		r := mine[0]
		for _, imp := range p.Imports {
			irel, own := relative(imp)
			if own && !matchAny(r.mayImport, irel) {
				t.Errorf("%s imports %s, which its room (docs/architecture.md:%d) may not import", rel, irel, r.line)
			}
		}
		for _, dep := range p.Deps {
			for _, never := range r.never {
				if (never == "non-std" && nonStd(dep)) || (never != "non-std" && (dep == never || strings.HasPrefix(dep, never+"/") || strings.HasPrefix(dep, never+"."))) {
					t.Errorf("%s depends on %s, which its room never may (docs/architecture.md:%d: %s)", rel, dep, r.line, never)
				}
			}
		}
	}
}

// TestRulePatterns pins the pattern language the table uses.
func TestRulePatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, rel string
		want         bool
	}{
		{"cluster/tikv", "cluster/tikv", true},
		{"cluster/tikv", "cluster/tikvconf", false},
		{"kms/*", "kms", false},
		{"kms/*", "kms/vault/vaulttest", true},
		{"sim/**", "sim", true},
		{"sim/**", "simx", false},
		{"**", "(root)", true},
	} {
		if got := match(c.pattern, c.rel); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.rel, got, c.want)
		}
	}
}
