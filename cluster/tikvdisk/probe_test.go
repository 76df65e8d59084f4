package tikvdisk

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// runSh runs cmd with the local /bin/sh and returns both streams.
func runSh(t *testing.T, cmd string, env ...string) (stdout, stderr []byte) {
	t.Helper()
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("running %s: %v\n%s", cmd, err, errb.Bytes())
	}
	return out.Bytes(), errb.Bytes()
}

// trailerEntries is what the one-od-per-file listing says of dirs.
func trailerEntries(t *testing.T, dirs []string) []TrailerEntry {
	t.Helper()
	out, _ := runSh(t, RemoteTrailerCommand(dirs...))
	entries, err := ParseTrailerListing(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestRemoteProbeMatchesTrailerListing runs both remote listings over the
// fixture (a 2-byte SST, a legacy SST, Raft Engine logs and rewrites, a
// Raft Engine dir reached through a symlink) and requires the same entries,
// the same bytes of every file, in the same order.
func TestRemoteProbeMatchesTrailerListing(t *testing.T) {
	root, _ := fixtureDataDir(t)
	disk := t.TempDir()
	writeRaftLog(t, filepath.Join(disk, "0000000000000005.raftlog"), false)
	link := filepath.Join(t.TempDir(), "re")
	if err := os.Symlink(disk, link); err != nil {
		t.Fatal(err)
	}
	dirs := RemoteProveDirs(root, link)
	out, errOut := runSh(t, RemoteProbeCommand(dirs...))
	got, err := ParseProbeListing(out, errOut)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s", err, out)
	}
	want := trailerEntries(t, dirs)
	if len(got) != 10 || !reflect.DeepEqual(got, want) {
		t.Fatalf("probe listing:\n%+v\ntrailer listing:\n%+v", got, want)
	}
	fallback := func() ([]byte, error) { return nil, errors.New("the fallback ran") }
	if _, err := ProbeOrFallback(out, errOut, fallback); err != nil {
		t.Errorf("a listing that fits ran the fallback: %v", err)
	}
}

// TestRemoteProbeProcessesDoNotGrowWithFiles lists 400 SSTs and 60 Raft
// Engine files through shims that count every tail, head and od started:
// a handful of processes, not one per file.
func TestRemoteProbeProcessesDoNotGrowWithFiles(t *testing.T) {
	root := t.TempDir()
	for i := range 400 {
		writeSST(t, filepath.Join(root, "db", fmt.Sprintf("%06d.sst", i+1)), 64, i%2 == 0)
	}
	for i := range 60 {
		writeRaftLog(t, filepath.Join(root, "raft-engine", fmt.Sprintf("%016d.raftlog", i+1)), i%3 == 0)
	}
	shims, log := t.TempDir(), filepath.Join(t.TempDir(), "started")
	for _, tool := range []string{"tail", "head", "od"} {
		real, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		shim := fmt.Sprintf("#!/bin/sh\necho %s >> %s\nexec %s \"$@\"\n", tool, log, real)
		if err := os.WriteFile(filepath.Join(shims, tool), []byte(shim), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dirs := RemoteProveDirs(root)
	out, errOut := runSh(t, RemoteProbeCommand(dirs...), "PATH="+shims+":"+os.Getenv("PATH"))
	got, err := ParseProbeListing(out, errOut)
	if err != nil {
		t.Fatal(err)
	}
	started, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, l := range strings.Fields(string(started)) {
		counts[l]++
	}
	if counts["tail"] != 1 || counts["head"] != 1 || counts["od"] != 0 {
		t.Errorf("460 files started %v, want one tail and one head", counts)
	}
	if want := trailerEntries(t, dirs); !reflect.DeepEqual(got, want) {
		t.Errorf("probe listing differs from the trailer listing (%d vs %d entries)", len(got), len(want))
	}
}

func TestParseProbeListingRefusesWhatDoesNotFit(t *testing.T) {
	listing := []byte("S\t1000\t/d/db/1.sst\nS\t3\t/d/db/2.sst\nR\t300\t/d/raft-engine/1.raftlog\n")
	trailer := "\xf7\xcf\xf4\x85\xb7\x41\xe2\x88"
	header := "RAFT-LOG-FILE-HE"
	good := "==> /d/db/1.sst <==\n" + trailer + "\n==> /d/db/2.sst <==\nabc" + "==> /d/raft-engine/1.raftlog <==\n" + header
	es, err := ParseProbeListing(listing, []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if string(es[0].Probe) != trailer || string(es[1].Probe) != "abc" || string(es[2].Probe) != header {
		t.Fatalf("entries = %+v", es)
	}
	// A file compacted away between the listing and the read: no header, no bytes.
	es, err = ParseProbeListing(listing, []byte("==> /d/raft-engine/1.raftlog <==\n"+header))
	if err != nil || es[0].Probe != nil || es[1].Probe != nil || string(es[2].Probe) != header {
		t.Fatalf("vanished files: %+v, %v", es, err)
	}
	for name, bad := range map[string]string{
		"a file that grew":         "==> /d/db/2.sst <==\nabcde",
		"a header never listed":    "==> /d/db/9.sst <==\n" + trailer,
		"a file read twice":        "==> /d/db/1.sst <==\n" + trailer + "\n==> /d/db/1.sst <==\n" + trailer,
		"bytes cut short":          "==> /d/db/1.sst <==\n\xf7\xcf",
		"no header":                trailer,
		"a header left unclosed":   "==> /d/db/1.sst",
		"a kind that does not fit": "",
	} {
		l := listing
		if name == "a kind that does not fit" {
			l = []byte("R\t1000\t/d/db/1.sst\n")
		}
		if _, err := ParseProbeListing(l, []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ran := false
	es, err = ProbeOrFallback(listing, []byte("==> /d/db/2.sst <==\nabcde"), func() ([]byte, error) {
		ran = true
		return []byte("3\t/d/db/2.sst\t61 62 63 \n"), nil
	})
	if err != nil || !ran || len(es) != 1 || string(es[0].Probe) != "abc" {
		t.Errorf("fallback: ran=%v entries=%+v err=%v", ran, es, err)
	}
}
