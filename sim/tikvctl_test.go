package sim

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ssts lists the SST names of a node's kv RocksDB.
func ssts(t *testing.T, n *Node) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(n.Paths.DataDir, "db", "*.sst"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no SSTs under %s: %v", n.Paths.DataDir, err)
	}
	return m
}

func TestTikvCtlShimCompactsOverSSH(t *testing.T) {
	c := startSim(t, Options{Stores: 2, Zones: 2, Speed: 1}) // speed 1: the background writer stays out of the way
	n1, n2 := c.Nodes()[0], c.Nodes()[1]
	waitUntil(t, "both stores to serve", func() bool { return n1.Proc.Running() && n2.Proc.Running() })
	before1, before2 := ssts(t, n1), ssts(t, n2)

	// Run on host 2 against store 1: --host names the store, as tikv-ctl's remote mode does.
	out, errOut, err := runSSH(t, c, nil, "tikv-2", "tikv-ctl --host "+n1.Addr()+" compact -d kv -c default --bottommost force")
	if err != nil || out != "" || errOut != "" {
		t.Fatalf("compact: err %v, stdout %q, stderr %q (want silence on success)", err, out, errOut)
	}
	after1 := ssts(t, n1)
	if len(after1) != len(before1) || slices.ContainsFunc(after1, func(p string) bool { return slices.Contains(before1, p) }) {
		t.Fatalf("store 1 SSTs before %v, after %v: want every file replaced", before1, after1)
	}
	if got := ssts(t, n2); !slices.Equal(got, before2) {
		t.Fatalf("store 2 changed by a compaction of store 1: %v → %v", before2, got)
	}

	pd := strings.TrimPrefix(c.PDURLs()[0], "http://")
	if _, errOut, err := runSSH(t, c, nil, "tikv-1", "tikv-ctl --pd "+pd+" compact-cluster -d kv -c default,lock,write --bottommost force"); err != nil {
		t.Fatalf("compact-cluster: %v\n%s", err, errOut)
	}
	if got := ssts(t, n2); slices.ContainsFunc(got, func(p string) bool { return slices.Contains(before2, p) }) {
		t.Fatalf("store 2 SSTs after compact-cluster still include old files: %v", got)
	}

	for _, bad := range []struct{ cmd, want string }{
		{"tikv-ctl --host " + n1.Addr() + " compact -d kv -c default", `--bottommost "default": the sim simulates only --bottommost force`},
		{"tikv-ctl --host " + n1.Addr() + " compact -d raft -c default --bottommost force", "the sim compacts only the kv RocksDB"},
		{"tikv-ctl --host " + n1.Addr() + " compact -c meta --bottommost force", `-c "meta": want one of default, lock, write`},
		{"tikv-ctl --host " + n1.Addr() + " size -r 2", `unsupported argument "-r"`},
		{"tikv-ctl --host 127.0.0.1:1 compact -d kv -c default --bottommost force", "no simulated store listens on 127.0.0.1:1"},
		{"tikv-ctl compact -d kv -c default --bottommost force", "usage: tikv-ctl --host"},
	} {
		out, errOut, err := runSSH(t, c, nil, "tikv-1", bad.cmd)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || out != "" || !strings.Contains(errOut, "tikv-ctl (sim shim): ") || !strings.Contains(errOut, bad.want) {
			t.Errorf("%s: err %v, stdout %q, stderr %q; want exit 1 and %q", bad.cmd, err, out, errOut, bad.want)
		}
	}

	if err := n1.Host.StopUnit(n1.Paths.UnitName); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runSSH(t, c, nil, "tikv-2", "tikv-ctl --host "+n1.Addr()+" compact -d kv -c default --bottommost force"); err == nil || !strings.Contains(errOut, "store 1 is not running") {
		t.Fatalf("compact of a stopped store: err %v, stderr %q", err, errOut)
	}
}
