package node

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Data files the sim keeps under the data dir (tikv-encryption.md §6):
//
//	db/CURRENT                 always plaintext (never tracked)
//	db/NNNNNN.sst              plaintext ends with the block-based magic (LE); encrypted = whole-file AES-CTR
//	raft-engine/N.raftlog      plaintext starts with RaftLogHeader + u64 BE version; encrypted = AES-CTR
const (
	dbDir         = "db"
	raftEngineDir = "raft-engine"
	maxSSTs       = 8 // compaction keeps the count bounded
	maxRaftLogs   = 4
	initialSSTs   = 5
	initialLogs   = 2
)

// ctrXOR encrypts or decrypts a whole file with AES-CTR from offset 0, the
// counter starting at the 16-byte IV (RocksDB AESCTRCipherStream; encryption/io.rs).
// SIM LIMITATION: sm4-ctr files use AES-128-CTR with the 16-byte SM4 data key
// (Go has no SM4); readers only check the trailer/header, never decrypt.
func ctrXOR(key, iv, data []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data))
	cipher.NewCTR(block, iv).XORKeyStream(out, data)
	return out, nil
}

func sstBody() []byte {
	b := make([]byte, 2048+randN(2048))
	_, _ = rand.Read(b)
	binary.LittleEndian.PutUint64(b[len(b)-8:], tikv.SSTMagic)
	return b
}

func raftLogBody() []byte {
	b := make([]byte, 1024+randN(2048))
	_, _ = rand.Read(b)
	copy(b, tikv.RaftLogHeader)
	binary.BigEndian.PutUint64(b[len(tikv.RaftLogHeader):], 1) // format version (RE: src/file_pipe_log/format.rs)
	return b
}

func randN(n int) int {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int(binary.LittleEndian.Uint32(b[:]) % uint32(n))
}

// writeDataFile creates path through the key manager: tracked in file.dict and
// encrypted under the current data key when the method is not plaintext.
func (n *Node) writeDataFile(m *manager, path string, plain []byte) error {
	if n.diskFull(path) {
		return fmt.Errorf("writing %s: %w", path, syscall.ENOSPC)
	}
	data := plain
	if m != nil {
		key, info, err := m.newFile(path)
		if err != nil {
			return err
		}
		if info.Method != encryptionpb.EncryptionMethod_PLAINTEXT {
			if data, err = ctrXOR(key, info.Iv, plain); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(path, data, 0o644)
}

// removeDataFile deletes a file and its file.dict entry.
func (n *Node) removeDataFile(m *manager, path string) error {
	if m != nil {
		if err := m.deleteFile(path); err != nil {
			return err
		}
	}
	return os.Remove(path)
}

// listFiles returns the files in dir with suffix, oldest (lowest number) first.
func listFiles(dir, suffix string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// nextNumber returns one past the highest file number in dir.
func nextNumber(dir, suffix string) uint64 {
	var max uint64
	for _, p := range listFiles(dir, suffix) {
		var v uint64
		fmt.Sscanf(strings.TrimSuffix(filepath.Base(p), suffix), "%d", &v)
		if v > max {
			max = v
		}
	}
	return max + 1
}

func (n *Node) newSST(m *manager) error {
	dir := filepath.Join(n.dataDir, dbDir)
	path := filepath.Join(dir, fmt.Sprintf("%06d.sst", nextNumber(dir, ".sst")))
	return n.writeDataFile(m, path, sstBody())
}

func (n *Node) newRaftLog(m *manager) error {
	n.mu.Lock()
	v := n.version
	n.mu.Unlock()
	if !v.atLeast(5, 4, 0) {
		m = nil // Raft Engine files are encrypted only from v5.4.0 (PR #10937)
	}
	dir := filepath.Join(n.dataDir, raftEngineDir)
	path := filepath.Join(dir, fmt.Sprintf("%016d.raftlog", nextNumber(dir, ".raftlog")))
	return n.writeDataFile(m, path, raftLogBody())
}

// prepareData creates the directories, CURRENT and a first set of files.
func (n *Node) prepareData(m *manager) error {
	for _, d := range []string{dbDir, raftEngineDir} {
		if err := os.MkdirAll(filepath.Join(n.dataDir, d), 0o755); err != nil {
			return err
		}
	}
	cur := filepath.Join(n.dataDir, dbDir, tikv.CurrentFileName)
	if _, err := os.Stat(cur); err != nil && !n.diskFull(cur) {
		if err := os.WriteFile(cur, []byte("MANIFEST-000001\n"), 0o644); err != nil {
			return err
		}
	}
	for len(listFiles(filepath.Join(n.dataDir, dbDir), ".sst")) < initialSSTs {
		if err := n.newSST(m); err != nil {
			return err
		}
	}
	if n.spec.RaftEngine {
		for len(listFiles(filepath.Join(n.dataDir, raftEngineDir), ".raftlog")) < initialLogs {
			if err := n.newRaftLog(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushAndCompact is one background step: write a new SST (and raft log), then
// rewrite the oldest files so encryption coverage grows and counts stay bounded.
func (n *Node) flushAndCompact(m *manager, step int) {
	n.dataMu.Lock()
	defer n.dataMu.Unlock()
	dbPath := filepath.Join(n.dataDir, dbDir)
	if err := n.newSST(m); err != nil {
		return
	}
	if ssts := listFiles(dbPath, ".sst"); len(ssts) > maxSSTs {
		for _, old := range ssts[:len(ssts)-maxSSTs] {
			_ = n.removeDataFile(m, old)
		}
	} else if len(ssts) > 0 && step%2 == 0 { // "compaction": rewrite the oldest file
		if err := n.newSST(m); err == nil {
			_ = n.removeDataFile(m, ssts[0])
		}
	}
	if n.spec.RaftEngine && step%2 == 1 {
		rdir := filepath.Join(n.dataDir, raftEngineDir)
		if err := n.newRaftLog(m); err != nil {
			return
		}
		if logs := listFiles(rdir, ".raftlog"); len(logs) > maxRaftLogs {
			for _, old := range logs[:len(logs)-maxRaftLogs] {
				_ = n.removeDataFile(m, old) // purge
			}
		}
	}
}

// plaintextRaftLogs lists raft-engine files that the key manager would open as
// plaintext (untracked or tracked PLAINTEXT).
func (n *Node) plaintextRaftLogs(m *manager) []string {
	var out []string
	for _, p := range listFiles(filepath.Join(n.dataDir, raftEngineDir), ".raftlog") {
		if info := m.fileInfo(p); info == nil || info.Method == encryptionpb.EncryptionMethod_PLAINTEXT {
			out = append(out, p)
		}
	}
	return out
}
