package node

import (
	"fmt"
	"path/filepath"
)

// CompactKV is a forced manual compaction of the kv RocksDB, as
// `tikv-ctl --host <addr> compact -d kv -c <cf> --bottommost force` asks a
// running TiKV for (tikv-encryption.md §2.4): every SST is rewritten now,
// through the key manager, so each new file takes the current method and data
// key and the old file (and its file.dict entry) goes away. Raft Engine files
// are not part of the kv RocksDB and stay as they are; the background writer
// purges them as it does. The sim does not track column families, so one call
// rewrites every SST. It returns how many files were rewritten.
func (n *Node) CompactKV() (int, error) {
	n.life.Lock() // no start or stop while the files are rewritten
	defer n.life.Unlock()
	n.mu.Lock()
	running, m := n.running, n.mgr
	n.mu.Unlock()
	if !running {
		return 0, fmt.Errorf("store %d is not running", n.spec.StoreID)
	}
	n.dataMu.Lock()
	defer n.dataMu.Unlock()
	done := 0
	for _, old := range listFiles(filepath.Join(n.dataDir, dbDir), ".sst") {
		if err := n.newSST(m); err != nil {
			return done, fmt.Errorf("compacting store %d: writing the replacement of %s: %w", n.spec.StoreID, old, err)
		}
		if err := n.removeDataFile(m, old); err != nil {
			return done, fmt.Errorf("compacting store %d: removing %s: %w", n.spec.StoreID, old, err)
		}
		done++
	}
	return done, nil
}
