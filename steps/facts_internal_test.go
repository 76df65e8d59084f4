package steps

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRaftEngineHoldsFilesAsLs holds the glob test preflight runs against
// what "ls -A dir | head -1" said: any entry, hidden ones included.
func TestRaftEngineHoldsFilesAsLs(t *testing.T) {
	root := t.TempDir()
	mk := func(name string, files ...string) string {
		d := filepath.Join(root, name, "raft engine")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	link := mk("link")
	if err := os.Symlink("/nonexistent", filepath.Join(link, "dangling")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir  string
		want bool
	}{
		{mk("empty"), false},
		{mk("hidden", ".lock"), true},
		{mk("dotdot", "..x"), true},
		{mk("files", "0000000000000001.raftlog"), true},
		{link, true},
		{filepath.Join(root, "missing"), false},
	} {
		out, err := exec.Command("/bin/sh", "-c", raftEngineHoldsFiles(c.dir)).Output()
		if err != nil {
			t.Fatal(err)
		}
		ls, _ := exec.Command("/bin/sh", "-c", "ls -A -- \"$1\" 2>/dev/null | head -1", "sh", c.dir).Output()
		if got := len(out) > 0; got != c.want || (len(ls) > 0) != c.want {
			t.Errorf("%s: glob says %v (%q), ls -A says %q, want %v", c.dir, got, out, ls, c.want)
		}
	}
}
