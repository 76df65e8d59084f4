// Package corpus reads the files of the repository's top-level testdata/
// for tests: each file starts with a provenance header (see
// testdata/README.md) that Read strips, and Names lets a table-driven test
// insist on a case for every file.
package corpus

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"testing"
)

// Header markers: FixtureMarker ends the header of a synthetic fixture
// written for tikv-ear (testdata/synthetic/), UpstreamMarker that of an
// upstream file copied byte for byte, CaptureMarker that of a body captured
// from a real part running on this machine, byte for byte.
const (
	FixtureMarker  = "# ==== end of header ====\n"
	UpstreamMarker = "# ==== end of header; the upstream file follows byte for byte ====\n"
	CaptureMarker  = "# ==== end of header; the captured body follows byte for byte ====\n"
)

// Markers lists every header end marker, real artifacts' first.
func Markers() []string { return []string{UpstreamMarker, CaptureMarker, FixtureMarker} }

// Dir returns the absolute path of testdata/<sub>.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("corpus: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", sub)
}

// Read returns testdata/<sub>/<name> without its provenance header.
func Read(t testing.TB, sub, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t, sub), name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("# ")) {
		t.Fatalf("testdata/%s/%s: no provenance header", sub, name)
	}
	for _, m := range Markers() {
		if i := bytes.Index(b, []byte(m)); i >= 0 {
			return b[i+len(m):]
		}
	}
	t.Fatalf("testdata/%s/%s: the header has no end marker", sub, name)
	return nil
}

// Names returns the names of testdata/<sub> matching pattern, sorted.
func Names(t testing.TB, sub, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Dir(t, sub), pattern))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	sort.Strings(names)
	return names
}

// RequireCases fails the test unless the cases name exactly the files of
// testdata/<sub> matching pattern: every corpus file gets a case.
func RequireCases(t testing.TB, sub, pattern string, cases []string) {
	t.Helper()
	names := Names(t, sub, pattern)
	covered := slices.Clone(cases)
	sort.Strings(covered)
	if !slices.Equal(names, covered) {
		t.Fatalf("every file of testdata/%s needs a case:\nfiles %v\ncases %v", sub, names, covered)
	}
}
