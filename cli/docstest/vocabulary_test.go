package docstest

import (
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// vocabulary says which commands may carry a flag of a reserved name; a flag
// name not listed is free (it means one thing in one command).
// docs/commands.md "Flag vocabulary" is the table this holds.
var vocabulary = map[string][]string{
	"out-file": {"tikv-ear plan", "tikv-ear keygen"},
	"dir":      {"tikv-ear schedule install", "tikv-ear schedule remove", "tikv-ear demo"},
	"plan":     {"tikv-ear verify", "tikv-ear status"},
}

// forbidden are spellings replaced by the vocabulary (they may live on only
// as hidden, deprecated aliases).
var forbidden = map[string]string{"out": "--out-file", "report-directory": "--report-dir", "sim-dir": "--sim", "format": "--output"}

// mustHaveOutput are commands that print a result and so take -o/--output.
var mustHaveOutput = []string{"tikv-ear plan", "tikv-ear apply", "tikv-ear rotate", "tikv-ear change-method", "tikv-ear disable",
	"tikv-ear verify", "tikv-ear status", "tikv-ear audit", "tikv-ear deliver", "tikv-ear keygen", "tikv-ear report verify",
	"tikv-ear schedule show", "tikv-ear schedule install", "tikv-ear schedule remove"}

// TestFlagVocabulary walks the command tree: -o is --output everywhere and
// --output is text|json; a directory of reports is --report-dir, the sim's
// directory --sim; the reserved names appear only where the vocabulary says;
// replaced spellings are hidden aliases; the commands that print a result
// take --output.
func TestFlagVocabulary(t *testing.T) {
	outputs := map[string]bool{}
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		for _, f := range n.Flags {
			name := f.Name
			if f.Short == 'o' && name != "output" {
				t.Errorf("%s: -o is --%s; -o means --output everywhere", path, name)
			}
			if name == "output" {
				outputs[path] = true
				if f.Short != 'o' || f.Enum != "text,json" {
					t.Errorf("%s: --output must be -o and text|json (short %q, enum %q)", path, f.Short, f.Enum)
				}
			}
			if f.Hidden {
				if !strings.HasPrefix(f.Help, "Deprecated spelling of --") {
					t.Errorf("%s: hidden flag --%s is not a deprecated alias", path, name)
				}
				continue
			}
			if repl, bad := forbidden[name]; bad {
				t.Errorf("%s: --%s is spelled %s", path, name, repl)
			}
			if where, reserved := vocabulary[name]; reserved && !contains(where, path) {
				t.Errorf("%s: --%s is reserved for %v (docs/commands.md, flag vocabulary)", path, name, where)
			}
			help := strings.ToLower(f.Help)
			if name != "report-dir" && (strings.HasPrefix(help, "report directory") || strings.Contains(help, "directory for the signed report")) {
				t.Errorf("%s: --%s names a report directory; spell it --report-dir", path, name)
			}
			if name != "sim" && strings.HasPrefix(help, "directory") && strings.Contains(help, "sim.env") {
				t.Errorf("%s: --%s names the sim's directory; spell it --sim", path, name)
			}
		}
		for _, c := range n.Children {
			if c.Type == kong.CommandNode && !c.Hidden {
				walk(c, path+" "+c.Name)
			}
		}
	}
	walk(model(t).Node, "tikv-ear")
	for _, c := range mustHaveOutput {
		if !outputs[c] {
			t.Errorf("%s has no -o/--output", c)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
