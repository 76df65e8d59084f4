package tikvdisk

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
)

// RemoteProbeScript lists the same files as RemoteTrailerScript and reads
// the same bytes of each (the last 8 of an *.sst, the first 16 of a
// *.raftlog / *.rewrite), with a number of processes that does not grow
// with the number of files: one find, and per kind one tail or head (and
// the sh that points its output at fd 3) for as many files as an argument
// list holds (find's -exec … {} +). RemoteTrailerScript costs one od (and
// one subshell) per file, which on a node with thousands of SSTs is
// thousands of processes.
//
// Its standard output is the listing, one line per file in find's order:
//
//	S|R <TAB> <size> <TAB> <path> <NEWLINE>
//
// (S an SST, R a Raft Engine file); its standard error carries the bytes, as
// tail -v and head -v print them: "==> <path> <==\n" then the bytes, and a
// newline before every header but an invocation's first. find's own
// messages and those of tail and head (a file compacted away between the
// listing and the read) are discarded; such a file has no header, and so no
// bytes, as in RemoteTrailerScript. GNU findutils for -printf; tail and
// head from coreutils or busybox. ParseProbeListing reads both streams;
// when they do not fit together exactly it says so, and the caller runs
// RemoteTrailerCommand instead (RemoteListing does).
const RemoteProbeScript = `find -H %[1]s -type f \( -name '*.sst' -printf 'S\t%%s\t%%p\n' -exec sh -c 'exec tail -v -c 8 -- "$@" 2>/dev/null >&3' sh {} + ` +
	`-o \( -name '*.raftlog' -o -name '*.rewrite' \) -printf 'R\t%%s\t%%p\n' -exec sh -c 'exec head -v -c 16 -- "$@" 2>/dev/null >&3' sh {} + \) 3>&2 2>/dev/null; exit 0`

// RemoteProbeCommand returns RemoteProbeScript for the given absolute
// directories, each shell-quoted. Directories that do not exist are
// silently skipped.
func RemoteProbeCommand(dirs ...string) string {
	q := make([]string, len(dirs))
	for i, d := range dirs {
		q[i] = shquote.Always(d)
	}
	return fmt.Sprintf(RemoteProbeScript, strings.Join(q, " "))
}

// sstProbe is how many trailing bytes are read from an SST.
const sstProbe = 8

// ParseProbeListing reads the two output streams of RemoteProbeCommand into
// the entries ParseTrailerListing would have returned for RemoteTrailerCommand
// run at the same moment. It is strict: a header that names no listed file
// or one already read, bytes that do not end where the file's listed size
// says (a file that grew or shrank between the listing and the read), or
// anything else unexpected is an error, and the caller must fall back to
// RemoteTrailerCommand rather than guess.
func ParseProbeListing(listing, probes []byte) ([]TrailerEntry, error) {
	var out []TrailerEntry
	index := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(listing))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || (parts[0] != "S" && parts[0] != "R") {
			return nil, fmt.Errorf("probe listing line %d: want S|R<TAB>size<TAB>path, got %q", n, line)
		}
		size, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("probe listing line %d: size %q is not a number", n, parts[1])
		}
		if parts[2] == "" {
			return nil, fmt.Errorf("probe listing line %d: empty path", n)
		}
		if (parts[0] == "S") != strings.HasSuffix(parts[2], ".sst") {
			return nil, fmt.Errorf("probe listing line %d: kind %s does not fit %q", n, parts[0], parts[2])
		}
		if _, dup := index[parts[2]]; dup {
			return nil, fmt.Errorf("probe listing line %d: %q listed twice", n, parts[2])
		}
		index[parts[2]] = len(out)
		out = append(out, TrailerEntry{Path: parts[2], Size: size})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading probe listing after line %d: %w", n, err)
	}
	const open, close = "==> ", " <==\n"
	rest := probes
	seen := make([]bool, len(out))
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, []byte(open)) {
			return nil, fmt.Errorf("probe bytes: want a %q header, got %q", strings.TrimSpace(open), head(rest))
		}
		end := bytes.Index(rest, []byte(close))
		if end < 0 {
			return nil, fmt.Errorf("probe bytes: header %q is not closed", head(rest))
		}
		p := string(rest[len(open):end])
		i, ok := index[p]
		if !ok || seen[i] {
			return nil, fmt.Errorf("probe bytes: header names %q, which is not listed or was read already", p)
		}
		seen[i] = true
		rest = rest[end+len(close):]
		want := int64(rawHeaderProbe)
		if strings.HasSuffix(p, ".sst") {
			want = sstProbe
		}
		want = min(want, out[i].Size)
		if int64(len(rest)) < want {
			return nil, fmt.Errorf("probe bytes of %s: %d bytes, want %d", p, len(rest), want)
		}
		out[i].Probe = bytes.Clone(rest[:want])
		rest = rest[want:]
		// Next: the end, the newline before the next header of this
		// invocation, or the first header of the next invocation.
		switch {
		case len(rest) == 0:
		case bytes.HasPrefix(rest, []byte("\n"+open)):
			rest = rest[1:]
		case bytes.HasPrefix(rest, []byte(open)):
		default:
			return nil, fmt.Errorf("probe bytes of %s do not end where its listed size says (%d bytes): it changed since the listing", p, out[i].Size)
		}
	}
	return out, nil
}

// head is the start of b, for messages.
func head(b []byte) []byte { return b[:min(len(b), 40)] }

// RemoteListing lists dirs on a host and reads each data file's probe bytes
// with RemoteProbeCommand through run (which runs one shell command and
// returns its exit status, standard output and standard error), and runs
// RemoteTrailerCommand only when that output does not fit together exactly.
// The entries are the same as ParseTrailerListing's of RemoteTrailerCommand.
func RemoteListing(run func(cmd string) (stdout, stderr []byte, err error), dirs ...string) ([]TrailerEntry, error) {
	out, errOut, err := run(RemoteProbeCommand(dirs...))
	if err != nil {
		return nil, err
	}
	return ProbeOrFallback(out, errOut, func() ([]byte, error) {
		out, _, err := run(RemoteTrailerCommand(dirs...))
		return out, err
	})
}

// ProbeOrFallback parses the output of RemoteProbeCommand and, when it does
// not fit together exactly, the output of RemoteTrailerCommand that fallback
// returns (fallback runs only then).
func ProbeOrFallback(stdout, stderr []byte, fallback func() ([]byte, error)) ([]TrailerEntry, error) {
	entries, perr := ParseProbeListing(stdout, stderr)
	if perr == nil {
		return entries, nil
	}
	listing, err := fallback()
	if err != nil {
		return nil, fmt.Errorf("%w (the one-read-per-file listing, run because %v)", err, perr)
	}
	return ParseTrailerListing(bytes.NewReader(listing))
}
