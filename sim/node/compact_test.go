package node

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

func TestCompactKVRewritesEverySSTWithTheCurrentMethod(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	p, _ := e.newKey("k")
	e.writeConfig(fileKeyConfig("aes256-ctr", p))
	e.mustStart()
	e.node.Stop()
	if _, err := e.node.CompactKV(); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("CompactKV on a stopped node: %v, want a not-running error", err)
	}
	e.writeConfig(fileKeyConfig("plaintext", p))
	e.mustStart()

	db := filepath.Join(e.spec.DataDir, "db")
	before := listFiles(db, ".sst")
	logsBefore := listFiles(filepath.Join(e.spec.DataDir, "raft-engine"), ".raftlog")
	_, files := readFileDict(t, e.spec.DataDir)
	for _, f := range before {
		if fi := files[f]; fi == nil || fi.Method != encryptionpb.EncryptionMethod_AES256_CTR {
			t.Fatalf("before compaction %s is tracked as %v, want aes256-ctr", f, fi)
		}
	}

	n, err := e.node.CompactKV()
	if err != nil || n != len(before) {
		t.Fatalf("CompactKV = %d, %v; want %d files rewritten", n, err, len(before))
	}
	after := listFiles(db, ".sst")
	if len(after) != len(before) {
		t.Fatalf("%d SSTs after compaction, want %d", len(after), len(before))
	}
	_, files = readFileDict(t, e.spec.DataDir)
	for _, f := range before {
		if _, err := os.Stat(f); err == nil || files[f] != nil {
			t.Errorf("old SST %s still on disk or in file.dict", f)
		}
	}
	for _, f := range after {
		if fi := files[f]; fi == nil || fi.Method != encryptionpb.EncryptionMethod_PLAINTEXT {
			t.Errorf("rewritten %s is tracked as %v, want PLAINTEXT", f, fi)
		}
		b, _ := os.ReadFile(f)
		if len(b) < 8 || binary.LittleEndian.Uint64(b[len(b)-8:]) != tikv.SSTMagic {
			t.Errorf("rewritten %s lacks the block-based magic", f)
		}
	}
	// Raft Engine is not the kv RocksDB: its files are left to the purge.
	_, files = readFileDict(t, e.spec.DataDir)
	for _, f := range logsBefore {
		if fi := files[f]; fi == nil || fi.Method != encryptionpb.EncryptionMethod_AES256_CTR {
			t.Errorf("raft-engine file %s is tracked as %v after a kv compaction, want it untouched", f, fi)
		}
	}
}
