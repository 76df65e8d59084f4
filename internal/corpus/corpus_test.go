package corpus

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// syntheticFirstLine starts the header of every file of testdata/synthetic.
const syntheticFirstLine = "# tikv-ear corpus fixture: written for tikv-ear"

// sourceAddress is what a real artifact's "# source: " line must name: an
// upstream repository file at a commit, or a capture from a real part with
// its version and commit.
var sourceAddress = regexp.MustCompile(`^# source: (github\.com/[\w.-]+/[\w.-]+ \S+, at commit [0-9a-f]{40}|captured from \S+ \S+ \(git [0-9a-f]{40}\))`)

// corpusFiles returns every file of testdata/ but its README, relative to it.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	root := Dir(t, "")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel != "README.md" {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("testdata/ holds no file")
	}
	return files
}

// TestCorpusHeaders holds every corpus file to the header its place asks for
// (testdata/README.md): a synthetic fixture says so and lives only under
// synthetic/; every other file names its exact source and ends its header
// with a byte-for-byte marker.
func TestCorpusHeaders(t *testing.T) {
	for _, rel := range corpusFiles(t) {
		b, err := os.ReadFile(filepath.Join(Dir(t, ""), rel))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(b, []byte("\n"))
		if strings.HasPrefix(rel, "synthetic/") {
			if !bytes.HasPrefix(first, []byte(syntheticFirstLine)) || !bytes.Contains(b, []byte(FixtureMarker)) {
				t.Errorf("testdata/%s: a synthetic fixture's header starts %q and ends %q", rel, syntheticFirstLine, FixtureMarker)
			}
			continue
		}
		if !sourceAddress.Match(first) {
			t.Errorf("testdata/%s: a real artifact's first line names its source address (%s), got %q", rel, sourceAddress, first)
		}
		if bytes.Contains(b, []byte(FixtureMarker)) || bytes.Contains(b, []byte(syntheticFirstLine)) {
			t.Errorf("testdata/%s: a synthetic fixture outside testdata/synthetic", rel)
		}
		if !bytes.Contains(b, []byte(UpstreamMarker)) && !bytes.Contains(b, []byte(CaptureMarker)) {
			t.Errorf("testdata/%s: a real artifact's header ends with %q or %q", rel, UpstreamMarker, CaptureMarker)
		}
	}
}

// realKind names the count a real artifact adds to (testdata/README.md's
// counts table), or "" for none.
func realKind(rel string) string {
	dir, name := filepath.Split(rel)
	switch {
	case strings.HasPrefix(rel, "synthetic/"):
		return ""
	case dir == "logs/":
		return "TiKV log excerpts"
	case dir == "pd/" && strings.HasSuffix(name, ".json"):
		return "PD JSON bodies"
	case (dir == "tikv-toml/" || dir == "upstream/") && strings.HasSuffix(name, ".toml"):
		return "tikv.toml variants"
	case dir == "upstream/" && strings.HasSuffix(name, ".yaml"):
		return "TiUP topologies"
	}
	return ""
}

// countRow is a row of README.md's counts table: | kind | folder | real | target |.
var countRow = regexp.MustCompile(`^\| ([^|]+?) \| [^|]+ \| (\d+) \| (\d+|-) \|$`)

// TestCorpusCounts checks that README.md's counts of real artifacts are the
// counts on disk, so the README never claims more (or less) than is there.
func TestCorpusCounts(t *testing.T) {
	disk := map[string]int{}
	for _, rel := range corpusFiles(t) {
		if k := realKind(rel); k != "" {
			disk[k]++
		}
	}
	readme, err := os.ReadFile(filepath.Join(Dir(t, ""), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	stated := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		if m := countRow.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[2])
			stated[m[1]] = n
		}
	}
	for _, k := range []string{"TiKV log excerpts", "PD JSON bodies", "tikv.toml variants", "TiUP topologies"} {
		n, ok := stated[k]
		if !ok {
			t.Errorf("testdata/README.md has no count row for %q", k)
			continue
		}
		if n != disk[k] {
			t.Errorf("testdata/README.md says %d %s, testdata/ holds %d", n, k, disk[k])
		}
	}
}
