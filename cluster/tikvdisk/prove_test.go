package tikvdisk

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// writeSST writes a fake SST of size bytes: random body, and the block-based
// magic as its last 8 bytes when plaintext (reference §6).
func writeSST(t testing.TB, path string, size int, plaintext bool) {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if plaintext {
		binary.LittleEndian.PutUint64(b[size-8:], tikv.SSTMagic)
	}
	writeFile(t, path, b)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeRaftLog(t testing.TB, path string, plaintext bool) {
	t.Helper()
	b := make([]byte, 256)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if plaintext {
		copy(b, tikv.RaftLogHeader)
	}
	writeFile(t, path, b)
}

// fixtureDataDir builds a small data dir and returns it with the file.dict
// that matches it (one deliberate mismatch: db/000009.sst is encrypted on
// disk but untracked).
func fixtureDataDir(t *testing.T) (string, *FileDict) {
	root := t.TempDir()
	writeSST(t, filepath.Join(root, "db", "000001.sst"), 1000, true)
	writeSST(t, filepath.Join(root, "db", "000002.sst"), 2000, false)
	writeSST(t, filepath.Join(root, "db", "000009.sst"), 300, false)
	writeSST(t, filepath.Join(root, "import", "x.sst"), 500, false)
	legacy := make([]byte, 64)
	binary.LittleEndian.PutUint64(legacy[56:], tikv.SSTLegacyMagic)
	writeFile(t, filepath.Join(root, "snap", "rev_1_2_3_default.sst"), legacy)
	writeRaftLog(t, filepath.Join(root, "raft-engine", "0000000000000001.raftlog"), true)
	writeRaftLog(t, filepath.Join(root, "raft-engine", "0000000000000002.raftlog"), false)
	writeRaftLog(t, filepath.Join(root, "raft-engine", "0000000000000001.rewrite"), false)
	writeFile(t, filepath.Join(root, "raft-engine", "0000000000000003.raftlog.reserved"), make([]byte, 128))
	writeFile(t, filepath.Join(root, "db", "CURRENT"), []byte("MANIFEST-000001\n"))
	writeFile(t, filepath.Join(root, "db", "tiny.sst"), []byte{1, 2})
	d := &FileDict{Files: map[string]FileEntry{
		filepath.Join(root, "db", "000001.sst"):                        {Method: tikv.MethodPlaintext},
		filepath.Join(root, "db", "000002.sst"):                        {KeyID: 7, Method: tikv.MethodAES256CTR},
		filepath.Join(root, "import", "x.sst"):                         {KeyID: 7, Method: tikv.MethodAES256CTR},
		filepath.Join(root, "raft-engine", "0000000000000002.raftlog"): {KeyID: 7, Method: tikv.MethodAES256CTR},
		filepath.Join(root, "raft-engine", "0000000000000001.rewrite"): {KeyID: 7, Method: tikv.MethodAES256CTR},
		filepath.Join(root, "raft-engine", "0000000000000001.raftlog"): {Method: tikv.MethodPlaintext},
	}}
	return root, d
}

func checkFixtureProof(t *testing.T, root string, p Proof) {
	t.Helper()
	if p.Plaintext.Files != 3 || p.Plaintext.Bytes != 1000+64+256 {
		t.Errorf("plaintext = %+v", p.Plaintext)
	}
	// db/000009.sst has no trailer and is untracked: an SST still being written.
	if p.Encrypted.Files != 4 || p.Encrypted.Bytes != 2000+500+256+256 || p.Incomplete != 1 {
		t.Errorf("encrypted = %+v, incomplete = %d", p.Encrypted, p.Incomplete)
	}
	if k := p.Kinds[KindSST]; k.Plaintext.Files != 2 || k.Encrypted.Files != 2 {
		t.Errorf("sst kinds = %+v", k)
	}
	if k := p.Kinds[KindRaftLog]; k.Plaintext.Files != 1 || k.Encrypted.Files != 2 {
		t.Errorf("raftlog kinds = %+v", k)
	}
	want := []string{
		filepath.Join(root, "db", "000001.sst"),
		filepath.Join(root, "raft-engine", "0000000000000001.raftlog"),
		filepath.Join(root, "snap", "rev_1_2_3_default.sst"),
	}
	if strings.Join(p.PlaintextFiles, ",") != strings.Join(want, ",") {
		t.Errorf("plaintext files = %v", p.PlaintextFiles)
	}
	if !p.DictChecked || len(p.Mismatches) != 1 || p.Mismatches[0] != (Mismatch{Path: filepath.Join(root, "db", "000009.sst"), OnDisk: "no trailer yet", Dict: "untracked"}) {
		t.Errorf("mismatches = %+v", p.Mismatches)
	}
}

func TestProveDir(t *testing.T) {
	root, dict := fixtureDataDir(t)
	p, err := ProveDir(root, ProveOptions{FileDict: dict, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkFixtureProof(t, root, p)
	if p.Skipped != 2 { // tiny.sst and the .reserved file
		t.Errorf("skipped = %d", p.Skipped)
	}
	if len(p.MissingDirs) != 1 || p.MissingDirs[0] != filepath.Join(root, "raft") {
		t.Errorf("missing dirs = %v", p.MissingDirs)
	}
	if f := p.EncryptedFraction(); f <= 0.5 || f >= 1 {
		t.Errorf("fraction = %v", f)
	}
	if _, err := ProveDir(filepath.Join(root, "nope"), ProveOptions{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing root: %v", err)
	}
}

func TestProveDirExtraAndDictRoot(t *testing.T) {
	root, _ := fixtureDataDir(t)
	disk := t.TempDir()
	writeRaftLog(t, filepath.Join(disk, "0000000000000009.raftlog"), true)
	extra := filepath.Join(t.TempDir(), "raft-engine-link")
	if err := os.Symlink(disk, extra); err != nil {
		t.Fatal(err)
	}
	dict := &FileDict{Files: map[string]FileEntry{"/data/tikv/db/000002.sst": {KeyID: 1, Method: tikv.MethodAES256CTR}}}
	p, err := ProveDir(root, ProveOptions{ExtraDirs: []string{extra}, FileDict: dict, DictRoot: "/data/tikv"})
	if err != nil {
		t.Fatal(err)
	}
	if k := p.Kinds[KindRaftLog]; k.Plaintext.Files != 2 {
		t.Errorf("extra dir not walked: %+v", k)
	}
	if want := filepath.Join(extra, "0000000000000009.raftlog"); !slices.Contains(p.PlaintextFiles, want) {
		t.Errorf("symlinked dir reported as %v, want %s", p.PlaintextFiles, want)
	}
	for _, m := range p.Mismatches {
		if strings.HasSuffix(m.Path, "000002.sst") {
			t.Errorf("DictRoot not used for lookups: %+v", m)
		}
	}
}

// TestRemoteTrailerCommand runs the proposed remote pipeline with the local
// /bin/sh and checks that its listing proves the same as ProveDir.
func TestRemoteTrailerCommand(t *testing.T) {
	root, dict := fixtureDataDir(t)
	// raft-engine.dir outside the data dir, reached through a symlink.
	disk := t.TempDir()
	writeRaftLog(t, filepath.Join(disk, "0000000000000005.raftlog"), false)
	link := filepath.Join(t.TempDir(), "re")
	if err := os.Symlink(disk, link); err != nil {
		t.Fatal(err)
	}
	dict.Files[filepath.Join(link, "0000000000000005.raftlog")] = FileEntry{KeyID: 7, Method: tikv.MethodAES256CTR}
	cmd := RemoteTrailerCommand(RemoteProveDirs(root, link)...)
	out, err := exec.Command("/bin/sh", "-c", cmd).Output()
	if err != nil {
		t.Fatalf("running %s: %v", cmd, err)
	}
	entries, err := ParseTrailerListing(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(entries) != 10 {
		t.Fatalf("entries = %d:\n%s", len(entries), out)
	}
	p := ProveListing(entries, ProveOptions{FileDict: dict})
	p.Encrypted.Files--
	p.Encrypted.Bytes -= 256
	k := p.Kinds[KindRaftLog]
	k.Encrypted.Files--
	p.Kinds[KindRaftLog] = k
	checkFixtureProof(t, root, p)
	if p.Skipped != 1 { // tiny.sst: od reads 2 bytes, too short for a trailer
		t.Errorf("skipped = %d", p.Skipped)
	}
}

func TestParseTrailerListing(t *testing.T) {
	in := "1000\t/d/db/1.sst\tf7 cf f4 85 b7 41 e2 88 \n" +
		"20\t/d/db/gone.sst\t\n" +
		"\n" +
		"300\t/d/raft-engine/1.raftlog\t52 41 46 54 2d 4c 4f 47 2d 46 49 4c 45 2d 48 45 \n"
	es, err := ParseTrailerListing(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Size != 1000 || !isSSTMagic(es[0].Probe) || es[1].Probe != nil || string(es[2].Probe) != tikv.RaftLogHeader[:16] {
		t.Fatalf("entries = %+v", es)
	}
	p := ProveListing(es, ProveOptions{})
	if p.Plaintext.Files != 2 || p.Skipped != 1 || p.DictChecked {
		t.Errorf("proof = %+v", p)
	}
	for _, bad := range []string{"x\t/p\t00\n", "1 /p 00\n", "1\t/p\tzz\n", "1\t\t00\n", "1\t/p\t" + strings.Repeat("00 ", 17) + "\n"} {
		if _, err := ParseTrailerListing(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// BenchmarkProveDir proves 100 000 small generated SST files (half plaintext).
// b.Loop runs the function body once, so the files are generated once.
func BenchmarkProveDir(b *testing.B) {
	const files = 100_000
	dir := b.TempDir()
	body := make([]byte, 64)
	for i := range files {
		sub := filepath.Join(dir, "db", fmt.Sprintf("%03d", i%100))
		if i < 100 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		clear(body)
		if i%2 == 0 {
			binary.LittleEndian.PutUint64(body[56:], tikv.SSTMagic)
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("%06d.sst", i)), body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		p, err := ProveDir(dir, ProveOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if p.Plaintext.Files != files/2 || p.Encrypted.Files != files/2 {
			b.Fatalf("proof = %+v / %+v", p.Plaintext, p.Encrypted)
		}
	}
	b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
