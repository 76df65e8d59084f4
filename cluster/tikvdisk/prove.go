package tikvdisk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/internal/shquote"
)

// Titan blob files start with fixed32 LE kHeaderMagicNumber
// (tikv/titan src/blob_format.h; reference tikv-encryption.md §6).
const titanBlobHeaderMagic uint32 = 0x2be0a614

// File kinds the proof looks at (reference §6).
const (
	KindSST     = "sst"     // *.sst: RocksDB block-based table, magic in the last 8 bytes
	KindRaftLog = "raftlog" // *.raftlog, *.rewrite: Raft Engine, header at the start
	KindBlob    = "blob"    // *.blob: Titan blob file, header magic at the start
)

// proveDirs returns the directories under a data dir that hold data files
// (reference §6 "Recommended verification": db/, raft/ or raft-engine/, snap/, import/).
func proveDirs() []string { return []string{"db", "raft", "raft-engine", "snap", "import"} }

// rawHeaderProbe is how many leading bytes the remote listing reads from Raft Engine files.
const rawHeaderProbe = 16

// ProveOptions tunes ProveDir and ProveListing.
type ProveOptions struct {
	// ExtraDirs are more directories to walk, e.g. raft-engine.dir or
	// raftstore.raftdb-path when they are outside the data dir.
	ExtraDirs []string
	// Workers bounds the files read at once; 0 means 8.
	Workers int
	// FileDict, when set, is cross-checked against what is on disk.
	FileDict *FileDict
	// DictRoot is the data dir as TiKV opened it (file.dict holds absolute
	// paths); "" means the root passed to ProveDir. Not used by ProveListing,
	// whose paths are already as the remote host sees them.
	DictRoot string
}

// Tally counts files and bytes.
type Tally struct {
	Files int
	Bytes int64
}

func (t *Tally) add(size int64) { t.Files++; t.Bytes += size }

// KindTally splits one kind of file into plaintext and encrypted.
type KindTally struct {
	Plaintext, Encrypted Tally
}

// Mismatch is a file whose on-disk state disagrees with file.dict.
type Mismatch struct {
	Path   string
	OnDisk string // "plaintext" or "encrypted"
	Dict   string // the method in file.dict, or "untracked"
}

// Proof is what the disk says about encryption at rest.
type Proof struct {
	// Dirs are the directories walked; MissingDirs those that did not exist.
	Dirs, MissingDirs []string
	// Plaintext and Encrypted total all proved files.
	Plaintext, Encrypted Tally
	// Kinds splits the totals by file kind (KindSST, KindRaftLog, KindBlob).
	Kinds map[string]KindTally
	// PlaintextFiles lists the plaintext files, sorted.
	PlaintextFiles []string
	// Incomplete counts files without a trailer that file.dict treats as
	// plaintext: SSTs still being written (RocksDB writes the footer last).
	Incomplete int
	// Skipped counts files too short to carry a trailer or header, recycled
	// *.reserved Raft Engine files, and files that vanished while proving.
	Skipped int
	// Unreadable lists files that could not be read, with the error.
	Unreadable []string
	// DictChecked is true when a file.dict was cross-checked; Mismatches lists disagreements.
	DictChecked bool
	Mismatches  []Mismatch
}

// EncryptedFraction is the share of proved bytes that are encrypted (0 when nothing was proved).
func (p Proof) EncryptedFraction() float64 {
	total := p.Plaintext.Bytes + p.Encrypted.Bytes
	if total == 0 {
		return 0
	}
	return float64(p.Encrypted.Bytes) / float64(total)
}

// fileKind returns the kind of a data file by name, "" for files the proof ignores.
func fileKind(name string) string {
	switch {
	case strings.HasSuffix(name, ".sst"):
		return KindSST
	case strings.HasSuffix(name, ".raftlog"), strings.HasSuffix(name, ".rewrite"):
		return KindRaftLog
	case strings.HasSuffix(name, ".blob"):
		return KindBlob
	}
	return ""
}

// isSSTMagic reports whether the last 8 bytes of an SST are a block-based table magic.
func isSSTMagic(trailer []byte) bool {
	if len(trailer) != 8 {
		return false
	}
	m := binary.LittleEndian.Uint64(trailer)
	return m == tikv.SSTMagic || m == tikv.SSTLegacyMagic
}

// classify says whether probe bytes show a plaintext file; ok is false when
// the probe is too short to tell. For SSTs probe is the last 8 bytes, for the
// others the first bytes (at least 8).
func classify(kind string, probe []byte) (plaintext, ok bool) {
	switch kind {
	case KindSST:
		return isSSTMagic(probe), len(probe) == 8
	case KindRaftLog:
		if len(probe) < 8 {
			return false, false
		}
		n := min(len(probe), len(tikv.RaftLogHeader))
		return string(probe[:n]) == tikv.RaftLogHeader[:n], true
	case KindBlob:
		if len(probe) < 4 {
			return false, false
		}
		return binary.LittleEndian.Uint32(probe) == titanBlobHeaderMagic, true
	}
	return false, false
}

// ProveDir walks db/, raft/, raft-engine/, snap/ and import/ under a data dir
// (plus opts.ExtraDirs) and proves each data file plaintext or encrypted with
// one open and one ReadAt: the last 8 bytes of *.sst (RocksDB magic present
// means plaintext), the first bytes of *.raftlog / *.rewrite (Raft Engine
// header) and *.blob (Titan header). Recycled *.reserved files are skipped.
// Files are read by a bounded pool of workers.
func ProveDir(root string, opts ProveOptions) (Proof, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return Proof{}, fmt.Errorf("proving %s: %w", root, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return Proof{}, fmt.Errorf("proving %s: %w", root, err)
	} else if !st.IsDir() {
		return Proof{}, fmt.Errorf("proving %s: not a directory", root)
	}
	dictRoot := opts.DictRoot
	if dictRoot == "" {
		dictRoot = abs
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	dirs := make([]string, 0, len(proveDirs())+len(opts.ExtraDirs))
	for _, d := range proveDirs() {
		dirs = append(dirs, filepath.Join(abs, d))
	}
	for _, d := range opts.ExtraDirs {
		if d = filepath.Clean(d); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}

	type job struct{ path, kind string }
	jobs := make(chan job, 256)
	partials := make([]*proofAcc, workers)
	var wg sync.WaitGroup
	for w := range workers {
		acc := newProofAcc(opts.FileDict)
		partials[w] = acc
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, len(tikv.RaftLogHeader))
			for j := range jobs {
				size, probe, err := probeFile(j.path, j.kind, buf)
				dictPath := j.path
				if rel, err := filepath.Rel(abs, j.path); err == nil && !strings.HasPrefix(rel, "..") {
					dictPath = filepath.Join(dictRoot, rel)
				}
				acc.record(j.path, dictPath, j.kind, size, probe, err)
			}
		}()
	}

	var p Proof
	var walkErr error
	for _, d := range dirs {
		// A directory may be a symlink to another disk (raft-engine often is):
		// walk its target, report paths under the name TiKV uses.
		real, err := filepath.EvalSymlinks(d)
		if errors.Is(err, fs.ErrNotExist) {
			p.MissingDirs = append(p.MissingDirs, d)
			continue
		} else if err != nil {
			walkErr = fmt.Errorf("resolving %s: %w", d, err)
			break
		}
		err = filepath.WalkDir(real, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() {
				if kind := fileKind(e.Name()); kind != "" {
					if rel, err := filepath.Rel(real, path); err == nil {
						path = filepath.Join(d, rel)
					}
					jobs <- job{path, kind}
				} else if strings.HasSuffix(e.Name(), ".reserved") {
					partials[0].mu.Lock()
					partials[0].p.Skipped++
					partials[0].mu.Unlock()
				}
			}
			return nil
		})
		if err != nil {
			walkErr = fmt.Errorf("walking %s: %w", d, err)
			break
		}
		p.Dirs = append(p.Dirs, d)
	}
	close(jobs)
	wg.Wait()
	if walkErr != nil {
		return Proof{}, walkErr
	}
	out := mergeProofs(partials)
	out.Dirs, out.MissingDirs = p.Dirs, p.MissingDirs
	return out, nil
}

// probeFile opens a file once, takes its size and reads its probe bytes with one ReadAt.
func probeFile(path, kind string, buf []byte) (int64, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	size := st.Size()
	var off int64
	n := len(buf)
	switch kind {
	case KindSST:
		n = 8
		off = size - 8
	case KindBlob:
		n = 4
	}
	if off < 0 || size < int64(n) {
		return size, nil, nil // too short to tell
	}
	got, err := f.ReadAt(buf[:n], off)
	if err != nil && !(errors.Is(err, io.EOF) && got == n) {
		return size, nil, err
	}
	return size, buf[:n], nil
}

// proofAcc accumulates one worker's results.
type proofAcc struct {
	mu   sync.Mutex
	p    Proof
	dict *FileDict
}

func newProofAcc(dict *FileDict) *proofAcc {
	return &proofAcc{p: Proof{Kinds: map[string]KindTally{}, DictChecked: dict != nil}, dict: dict}
}

func (a *proofAcc) record(path, dictPath, kind string, size int64, probe []byte, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			a.p.Skipped++ // compacted away while we looked
			return
		}
		a.p.Unreadable = append(a.p.Unreadable, fmt.Sprintf("%s: %v", path, err))
		return
	}
	plaintext, ok := classify(kind, probe)
	if !ok {
		a.p.Skipped++
		return
	}
	if !plaintext && a.dict != nil && a.dictPlain(dictPath) {
		// No trailer, yet file.dict says plaintext (or does not track it, which
		// TiKV treats as plaintext: DataKeyManager::get_file). RocksDB writes an
		// SST's footer last, so this is a file still being written, not ciphertext.
		a.p.Incomplete++
		a.p.Mismatches = append(a.p.Mismatches, Mismatch{Path: path, OnDisk: "no trailer yet", Dict: a.dictMethod(dictPath)})
		return
	}
	kt := a.p.Kinds[kind]
	onDisk := "encrypted"
	if plaintext {
		onDisk = tikv.MethodPlaintext
		a.p.Plaintext.add(size)
		kt.Plaintext.add(size)
		a.p.PlaintextFiles = append(a.p.PlaintextFiles, path)
	} else {
		a.p.Encrypted.add(size)
		kt.Encrypted.add(size)
	}
	a.p.Kinds[kind] = kt
	if a.dict == nil {
		return
	}
	dict := "untracked"
	e, found := a.dict.Files[dictPath]
	if !found {
		e, found = a.dict.Files[filepath.Clean(dictPath)]
	}
	if found {
		dict = e.Method
	}
	dictPlain := !found || e.Method == tikv.MethodPlaintext
	if dictPlain != plaintext {
		a.p.Mismatches = append(a.p.Mismatches, Mismatch{Path: path, OnDisk: onDisk, Dict: dict})
	}
}

// dictMethod is the file's method in file.dict, or "untracked".
func (a *proofAcc) dictMethod(dictPath string) string {
	e, found := a.dict.Files[dictPath]
	if !found {
		e, found = a.dict.Files[filepath.Clean(dictPath)]
	}
	if !found {
		return "untracked"
	}
	return e.Method
}

// dictPlain reports whether file.dict treats the file as plaintext.
func (a *proofAcc) dictPlain(dictPath string) bool {
	e, found := a.dict.Files[dictPath]
	if !found {
		e, found = a.dict.Files[filepath.Clean(dictPath)]
	}
	return !found || e.Method == tikv.MethodPlaintext
}

func mergeProofs(parts []*proofAcc) Proof {
	out := Proof{Kinds: map[string]KindTally{}}
	for _, a := range parts {
		p := a.p
		out.DictChecked = out.DictChecked || p.DictChecked
		out.Plaintext.Files += p.Plaintext.Files
		out.Plaintext.Bytes += p.Plaintext.Bytes
		out.Encrypted.Files += p.Encrypted.Files
		out.Encrypted.Bytes += p.Encrypted.Bytes
		for k, v := range p.Kinds {
			t := out.Kinds[k]
			t.Plaintext.Files += v.Plaintext.Files
			t.Plaintext.Bytes += v.Plaintext.Bytes
			t.Encrypted.Files += v.Encrypted.Files
			t.Encrypted.Bytes += v.Encrypted.Bytes
			out.Kinds[k] = t
		}
		out.PlaintextFiles = append(out.PlaintextFiles, p.PlaintextFiles...)
		out.Skipped += p.Skipped
		out.Incomplete += p.Incomplete
		out.Unreadable = append(out.Unreadable, p.Unreadable...)
		out.Mismatches = append(out.Mismatches, p.Mismatches...)
	}
	sort.Strings(out.PlaintextFiles)
	sort.Strings(out.Unreadable)
	sort.Slice(out.Mismatches, func(i, j int) bool { return out.Mismatches[i].Path < out.Mismatches[j].Path })
	return out
}

// RemoteTrailerScript is a POSIX sh pipeline (GNU find for -printf; od from
// coreutils or busybox) that lists every data file under the directories
// substituted for %[1]s, one line each:
//
//	<size>\t<path>\t<hex bytes separated by spaces> \n
//
// with the last 8 bytes of *.sst and the first 16 of *.raftlog / *.rewrite.
// It costs one od per file and reads nothing else; -H follows directories
// given as symlinks. Files that vanish while
// it runs (compaction) come out with no hex bytes. ParseTrailerListing reads
// its output and ProveListing turns it into a Proof, so a remote node is
// proved over SSH with one command; build it with RemoteTrailerCommand.
const RemoteTrailerScript = `find -H %[1]s -type f \( -name '*.sst' -o -name '*.raftlog' -o -name '*.rewrite' \) -printf '%%s %%p\n' 2>/dev/null | ` +
	`while read -r size path; do ` +
	`case $path in *.sst) off=$((size - 8)); n=8 ;; *) off=0; n=16 ;; esac; ` +
	`[ "$off" -ge 0 ] || off=0; ` +
	`h=$(od -An -v -tx1 -j "$off" -N "$n" -- "$path" 2>/dev/null); ` +
	`printf '%%s\t%%s\t' "$size" "$path"; printf '%%s ' $h; printf '\n'; ` +
	`done`

// RemoteTrailerCommand returns RemoteTrailerScript for the given absolute
// directories (data dir subdirectories and any raft-engine.dir), each
// shell-quoted. Directories that do not exist are silently skipped by find.
func RemoteTrailerCommand(dirs ...string) string {
	q := make([]string, len(dirs))
	for i, d := range dirs {
		q[i] = shquote.Always(d)
	}
	return fmt.Sprintf(RemoteTrailerScript, strings.Join(q, " "))
}

// RemoteProveDirs lists the directories to prove for a node: the standard
// subdirectories of dataDir plus any extra (raft-engine.dir, raftdb-path).
func RemoteProveDirs(dataDir string, extra ...string) []string {
	var out []string
	for _, d := range proveDirs() {
		out = append(out, strings.TrimRight(dataDir, "/")+"/"+d)
	}
	for _, d := range extra {
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// TrailerEntry is one line of RemoteTrailerScript output.
type TrailerEntry struct {
	Path string
	Size int64
	// Probe holds the bytes read: the last 8 of an SST, the first 16 of a
	// Raft Engine file; nil when the file vanished or could not be read.
	Probe []byte
}

// ParseTrailerListing reads the output of RemoteTrailerCommand.
func ParseTrailerListing(r io.Reader) ([]TrailerEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []TrailerEntry
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("trailer listing line %d: want size<TAB>path<TAB>hex bytes, got %q", n, line)
		}
		size, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("trailer listing line %d: size %q is not a number", n, parts[0])
		}
		if parts[1] == "" {
			return nil, fmt.Errorf("trailer listing line %d: empty path", n)
		}
		e := TrailerEntry{Path: parts[1], Size: size}
		if hx := strings.Join(strings.Fields(parts[2]), ""); hx != "" {
			if e.Probe, err = hex.DecodeString(hx); err != nil {
				return nil, fmt.Errorf("trailer listing line %d: bytes %q are not hex: %w", n, parts[2], err)
			}
			if len(e.Probe) > rawHeaderProbe {
				return nil, fmt.Errorf("trailer listing line %d: %d bytes, want at most %d", n, len(e.Probe), rawHeaderProbe)
			}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading trailer listing after line %d: %w", n, err)
	}
	return out, nil
}

// ProveListing turns a remote listing into a Proof, cross-checking
// opts.FileDict by path as listed.
func ProveListing(entries []TrailerEntry, opts ProveOptions) Proof {
	acc := newProofAcc(opts.FileDict)
	for _, e := range entries {
		kind := fileKind(e.Path)
		if kind == "" {
			continue
		}
		if e.Probe == nil {
			acc.p.Skipped++
			continue
		}
		acc.record(e.Path, e.Path, kind, e.Size, bytes.Clone(e.Probe), nil)
	}
	return mergeProofs([]*proofAcc{acc})
}
