package steps

import (
	"fmt"
	"os"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// SyncTiUPMeta writes the encryption keys into meta.yaml server_configs.tikv
// (backup kept) so 'tiup cluster reload' renders them instead of reverting them.
func SyncTiUPMeta(path string, enc tikv.Encryption) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	kv := encryptionKV(enc)
	out, err := inventory.SetServerConfigTiKV(data, kv)
	if err != nil {
		return fmt.Errorf("editing %s: %w", path, err)
	}
	backup := path + ssh.BackupSuffix + time.Now().UTC().Format("20060102T150405Z")
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		return fmt.Errorf("backing up %s: %w", path, err)
	}
	tmp := path + ".tikv-ear.tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
