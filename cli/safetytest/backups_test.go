package safetytest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
)

// TestBackupsPruned: tikv.toml backups do not pile up on the hosts: after a
// successful run each store keeps its last ssh.DefaultBackupsKept, the run's
// own among them.
func TestBackupsPruned(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	n := cl.Nodes()[0]
	for i := range 7 {
		old := fmt.Sprintf("%s%s2020010%dT000000.000000000Z", n.Paths.ConfigPath, ssh.BackupSuffix, i+1)
		if err := os.WriteFile(old, []byte("# old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	must(t, "apply", plan, "--yes")
	for _, node := range cl.Nodes() {
		got, _ := filepath.Glob(node.Paths.ConfigPath + ssh.BackupSuffix + "*")
		want := 1
		if node == n {
			want = ssh.DefaultBackupsKept
		}
		if len(got) != want {
			t.Errorf("store %d keeps %d backups, want %d: %v", node.StoreID, len(got), want, got)
		}
	}
	if _, err := os.Stat(fmt.Sprintf("%s%s20200101T000000.000000000Z", n.Paths.ConfigPath, ssh.BackupSuffix)); err == nil {
		t.Errorf("the oldest backup was kept")
	}
	assertSafe(t, cl, "after the run")
}
