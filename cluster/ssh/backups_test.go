package ssh

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// steppingClock advances a second per reading, so each write's backup has its own name.
type steppingClock struct{ t time.Time }

func (c *steppingClock) Now() time.Time                                  { c.t = c.t.Add(time.Second); return c.t }
func (c *steppingClock) Sleep(ctx context.Context, _ time.Duration) bool { return ctx.Err() == nil }

// TestPruneBackupsKeepsNewest: after eight writes over real sshd, pruning
// keeps the five newest backups of the file and leaves other files alone.
func TestPruneBackupsKeepsNewest(t *testing.T) {
	n, _ := testNode(t)
	n.Clock = &steppingClock{t: time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "tikv.toml")
	other := filepath.Join(dir, "pd.toml"+BackupSuffix+"20200101T000000.000000000Z")
	writeFile(t, other, []byte("x"), 0o600)
	var made []string
	for i := range 9 {
		wr, err := n.WriteFileAtomic(ctx, p, []byte{byte('a' + i), '\n'}, WriteOptions{Backup: true})
		if err != nil {
			t.Fatal(err)
		}
		if wr.BackupPath != "" {
			made = append(made, wr.BackupPath)
		}
	}
	if len(made) != 8 {
		t.Fatalf("%d backups made, want 8", len(made))
	}
	removed, err := n.PruneBackups(ctx, p, DefaultBackupsKept)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, made[:3]) {
		t.Fatalf("removed %v, want the 3 oldest %v", removed, made[:3])
	}
	for i, b := range made {
		_, err := os.Stat(b)
		if kept := i >= 3; kept != (err == nil) {
			t.Errorf("backup %d (%s): kept=%v, stat %v", i, b, kept, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's backup was removed: %v", err)
	}
	if removed, err := n.PruneBackups(ctx, p, 0); err != nil || len(removed) != 4 {
		t.Fatalf("keep 0 must keep the newest: removed %v, %v", removed, err)
	}
	if _, err := os.Stat(made[7]); err != nil {
		t.Fatalf("the newest backup was removed: %v", err)
	}
}
