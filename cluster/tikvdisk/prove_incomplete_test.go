package tikvdisk

import (
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

func TestProveListingCountsTrailerlessUntrackedSSTsAsIncomplete(t *testing.T) {
	magic := []byte{0xf7, 0xcf, 0xf4, 0x85, 0xb7, 0x41, 0xe2, 0x88}
	noTrailer := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	entries := []TrailerEntry{
		{Path: "/d/db/000001.sst", Size: 100, Probe: magic},
		{Path: "/d/db/000002.sst", Size: 100, Probe: noTrailer}, // being written, untracked
		{Path: "/d/db/000003.sst", Size: 100, Probe: noTrailer}, // encrypted, tracked
	}
	dict := FileDict{Files: map[string]FileEntry{"/d/db/000003.sst": {Method: tikv.MethodAES256CTR}}}
	p := ProveListing(entries, ProveOptions{FileDict: &dict})
	if p.Plaintext.Files != 1 || p.Encrypted.Files != 1 || p.Incomplete != 1 {
		t.Fatalf("plaintext %d encrypted %d incomplete %d, want 1 1 1", p.Plaintext.Files, p.Encrypted.Files, p.Incomplete)
	}
	// Without a file.dict nothing can be told apart: the trailer alone decides.
	p = ProveListing(entries, ProveOptions{})
	if p.Encrypted.Files != 2 || p.Incomplete != 0 {
		t.Fatalf("without a dict: encrypted %d incomplete %d, want 2 0", p.Encrypted.Files, p.Incomplete)
	}
}
