package docstest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeNamesTheBinaryAndEveryTestDependency holds the README's quick
// start to what a new user needs: where `make build` puts the binary, and
// every program the tests start besides Go (the ones .ci/run installs).
func TestReadmeNamesTheBinaryAndEveryTestDependency(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"make build", "bin/tikv-ear", ".ci/run"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md never says %q", want)
		}
	}
	// Each program the tests run, with the word .ci/run installs it by.
	for prog, ciWord := range map[string]string{
		"sshd": "openssh-server", "local-kms": "local-kms", "Chromium": "chromium",
		"systemd-analyze": "systemd", "tmux": "tmux",
	} {
		if !strings.Contains(readme, prog) {
			t.Errorf("README.md never names %s, which the tests need", prog)
		}
		if !strings.Contains(string(ci), ciWord) {
			t.Errorf(".ci/run does not install %s (%q), which README.md says it does", prog, ciWord)
		}
	}
}
