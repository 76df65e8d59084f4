package cli

// End-to-end test of issue 9's disable flow, through cli.Main against a small
// fast simulated cluster: enable, disable (step one), the forced compaction
// over SSH (the sim's tikv-ctl shim), the wait for zero encrypted files, and
// the master key's removal with its two refusals.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
)

// disableStartSim starts 3 stores at speed 100, so Raft Engine purges its old
// (encrypted) files within a few wall seconds after the disable.
func disableStartSim(t *testing.T) *sim.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 100, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	keWait(t, "every simulated store to serve", func() bool {
		for _, n := range cl.Nodes() {
			if !n.Proc.Running() {
				return false
			}
		}
		return true
	})
	return cl
}

// sstsPlaintext reports whether every SST of the node ends with RocksDB's
// block-based magic (tikv-encryption.md §6): none is encrypted.
func sstsPlaintext(t *testing.T, n *sim.Node) bool {
	t.Helper()
	ssts, err := filepath.Glob(filepath.Join(n.Paths.DataDir, "db", "*.sst"))
	if err != nil || len(ssts) == 0 {
		t.Fatalf("no SSTs on store %d: %v", n.StoreID, err)
	}
	for _, p := range ssts {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // removed by the background writer meanwhile
		}
		if len(b) < 8 || binary.LittleEndian.Uint64(b[len(b)-8:]) != tikv.SSTMagic {
			return false
		}
	}
	return true
}

var leftCount = regexp.MustCompile(`(\d+) encrypted file\(s\) are still on the stores`)

func TestDisableCompactAndRemoveMasterKey(t *testing.T) {
	cl := disableStartSim(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	keMust(t, kePlanArgs(cl, dir, "--env", "staging", "--backend", "file", "--key-dir", filepath.Join(t.TempDir(), "keys"))...)
	keMust(t, "apply", plan, "--yes")

	// While encryption is on, every new file is encrypted: step two is refused with the count.
	r := keRun(t, "disable", plan, "--remove-master-key", "--confirm", exposeConsequence)
	m := leftCount.FindStringSubmatch(r.stderr)
	if r.code != ExitFailure || m == nil || m[1] == "0" {
		t.Fatalf("remove-master-key while encrypted: want exit 1 with a count of encrypted files\n%s", r)
	}

	// Step one prints the exact per-store commands and their cost, and runs none.
	r = keMust(t, "disable", plan, "--yes")
	for _, n := range cl.Nodes() {
		for _, cf := range []string{"default", "lock", "write"} {
			want := "tikv-ctl --host " + n.Addr() + " compact -d kv -c " + cf + " --bottommost force"
			if !strings.Contains(r.stderr, want) {
				t.Errorf("disable does not print %q\n%s", want, r)
			}
		}
	}
	for _, want := range []string{"rewrites every SST", "off-peak, one store at a time", "tikv-ear disable " + plan + " --compact"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("disable output lacks %q\n%s", want, r)
		}
	}
	if keLoadPlan(t, plan).Target.Method != tikv.MethodPlaintext {
		t.Fatal("the plan does not say plaintext after disable")
	}

	// --compact without --yes and without a terminal is refused before anything runs.
	if r := keRun(t, "disable", plan, "--compact"); r.code != ExitUsage || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("--compact without --yes or a terminal: want exit 2\n%s", r)
	}

	r = keMust(t, "disable", plan, "--compact", "--yes")
	for _, n := range cl.Nodes() {
		id := strconv.FormatUint(n.StoreID, 10)
		if !strings.Contains(r.stderr, "store "+id+": compacted in") || !strings.Contains(r.stderr, "store "+id+": tikv-ctl --host "+n.Addr()+" compact -d kv -c write --bottommost force") {
			t.Errorf("store %s: no compaction lines\n%s", id, r)
		}
		// Every SST was rewritten with the current method, and new ones are plaintext too.
		if !sstsPlaintext(t, n) {
			t.Errorf("store %s: an SST is still encrypted after the forced compaction", id)
		}
		if !regexp.MustCompile(`(?m)^` + id + `\s+` + regexp.QuoteMeta(n.Addr()) + `\s+\d+\s+\d+\s+\d+\s*$`).MatchString(r.stdout) {
			t.Errorf("store %s: no row in the encrypted-file table\n%s", id, r)
		}
	}
	if !strings.Contains(r.stdout, "ENCRYPTED FILES") {
		t.Errorf("no encrypted-file table on stdout\n%s", r)
	}

	// Raft Engine purges its old files: wait for zero, counted from file.dict and on disk.
	ctx := context.Background()
	keWait(t, "zero encrypted files on every store", func() bool {
		left, err := encryptedLeft(ctx, plan)
		if err != nil {
			t.Fatalf("counting encrypted files: %v", err)
		}
		return len(left) == 3 && sumLeft(left) == 0
	})

	// Without a terminal and without --confirm, step two is refused (exit 2).
	if r := keRun(t, "disable", plan, "--remove-master-key", "--yes"); r.code != ExitUsage || !strings.Contains(r.stderr, `pass --confirm "expose every data key"`) {
		t.Fatalf("remove-master-key without --confirm: want exit 2\n%s", r)
	}
	keMust(t, "disable", plan, "--remove-master-key", "--confirm", exposeConsequence)

	text := keMust(t, "status", "--plan", plan)
	if strings.Count(text.stdout, "(KEYS EXPOSED)") != 3 {
		t.Errorf("status does not show every key.dict exposed\n%s", text)
	}
	js := keMust(t, "status", "--plan", plan, "--output", "json")
	var rep gather.Report
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatalf("status json: %v\n%s", err, js)
	}
	if len(rep.Stores) != 3 {
		t.Fatalf("status lists %d stores", len(rep.Stores))
	}
	for _, s := range rep.Stores {
		if s.Running == nil || s.Running.Method != tikv.MethodPlaintext {
			t.Errorf("store %d: not serving with method plaintext: %+v", s.StoreID, s.Running)
		}
		if s.KeyDict == nil || !s.KeyDict.KeysExposed || s.KeyDict.Method != tikv.MasterKeyPlaintext {
			t.Errorf("store %d: key.dict %+v, want plaintext with the keys exposed", s.StoreID, s.KeyDict)
		}
		if s.Config == nil || s.Config.MasterKey.Type != tikv.MasterKeyPlaintext {
			t.Errorf("store %d: configured master key %+v, want plaintext", s.StoreID, s.Config)
		}
	}
}

func TestDisableCompactAndRemoveMasterKeyAreSeparateSteps(t *testing.T) {
	plan := keWriteFile(t, t.TempDir(), "plan.toml", "")
	r := keRun(t, "disable", plan, "--compact", "--remove-master-key", "--confirm", exposeConsequence)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--compact and --remove-master-key are separate steps") {
		t.Fatalf("want exit 2 before the plan is read\n%s", r)
	}
}
