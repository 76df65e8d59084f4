package gather

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikvdisk"
)

// v1FileDict frames a file.dict (version 1: a 16-byte header of version,
// CRC32 big-endian and content length big-endian, then an EncryptedContent
// with metadata method "plaintext" holding the FileDictionary message;
// reference tikv-encryption.md §5.1), by hand, independently of tikvdisk's
// reader.
func v1FileDict(t *testing.T, files map[string]*encryptionpb.FileInfo) []byte {
	t.Helper()
	fd, err := (&encryptionpb.FileDictionary{Files: files}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	content, err := (&encryptionpb.EncryptedContent{Metadata: map[string][]byte{"method": []byte("plaintext")}, Content: fd}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := make([]byte, 16, 16+len(content))
	h[0] = 1
	binary.BigEndian.PutUint32(h[4:8], crc32.ChecksumIEEE(content))
	binary.BigEndian.PutUint64(h[8:16], uint64(len(content)))
	return append(h, content...)
}

// TestFileWrittenDuringTheListingIsProven: compaction writes an encrypted SST
// after file.dict was read and before the listing saw it. Judged against the
// first read alone, it looks like a file still being written (no RocksDB
// footer, untracked) and proves nothing, and a store whose files all turned
// over while it was read showed "no data files proved on disk" (issue 15's
// flaky wizard test); file.dict read again after the listing tracks it.
func TestFileWrittenDuringTheListingIsProven(t *testing.T) {
	aes := func() *encryptionpb.FileInfo {
		return &encryptionpb.FileInfo{KeyId: 2, Iv: make([]byte, 16), Method: encryptionpb.EncryptionMethod_AES256_CTR}
	}
	before, err := tikvdisk.ReadFileDict(v1FileDict(t, map[string]*encryptionpb.FileInfo{"/data/db/000007.sst": aes()}))
	if err != nil {
		t.Fatal(err)
	}
	after := v1FileDict(t, map[string]*encryptionpb.FileInfo{"/data/db/000008.sst": aes()}) // 7 compacted away, 8 written
	ciphertext := []byte{0x13, 0x37, 0xc0, 0xde, 0x99, 0x01, 0x02, 0x03}                    // not a RocksDB footer magic
	listing := []tikvdisk.TrailerEntry{{Path: "/data/db/000008.sst", Size: 4096, Probe: ciphertext}}

	alone := tikvdisk.ProveListing(listing, tikvdisk.ProveOptions{FileDict: &before})
	if alone.Encrypted.Files != 0 {
		t.Fatalf("against the first read alone the new file is proven (%+v): the fixture does not show the race", alone)
	}
	merged, later := withLaterDict(&before, func() ([]byte, error) { return after, nil })
	if later == nil || len(later.Files) != 1 {
		t.Fatalf("the later read is not returned as it was: %+v", later)
	}
	p := tikvdisk.ProveListing(listing, tikvdisk.ProveOptions{FileDict: merged})
	if p.Encrypted.Files != 1 || p.Incomplete != 0 {
		t.Fatalf("with file.dict read after the listing: %d encrypted, %d incomplete; want the new file proven encrypted", p.Encrypted.Files, p.Incomplete)
	}
	if _, ok := merged.Files["/data/db/000007.sst"]; !ok {
		t.Error("the file deleted between the reads left the merged dictionary")
	}
	if len(before.Files) != 1 {
		t.Error("merging changed the first read")
	}
}
