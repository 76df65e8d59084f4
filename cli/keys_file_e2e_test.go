package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
)

// TestKeysFileLifecycle: plan → apply → verify → deliver after a lost tmpfs →
// rotate → verify → rotate --incident (generation 2 shredded) → verify, each
// run with a signed report that report verify accepts and no key in any output.
func TestKeysFileLifecycle(t *testing.T) {
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	opKeys := filepath.Join(t.TempDir(), "operator-keys") // outside dir, which the canary searches
	hostKeys := filepath.Join(cl.Env().Dir, "tikv-keys")  // simKeyDefaults: every sim host shares this machine's disk

	r := keMust(t, kePlanArgs(cl, dir, "--env", "staging", "--backend", "file", "--key-dir", opKeys)...)
	if !strings.Contains(r.stdout, "with a file master key, environment staging") {
		t.Errorf("plan summary:\n%s", r)
	}
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 1 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("planned key: %+v", p.Target.MasterKey)
	}
	if got := keDirFiles(t, hostKeys); len(got) != 0 {
		t.Fatalf("plan delivered keys to the hosts: %v", got)
	}

	runs := []keResult{r}
	var keys [][]byte
	r = keMust(t, "apply", plan, "--yes")
	runs = append(runs, r)
	keReportVerified(t, r)
	if !strings.Contains(r.stderr, "physical floor") || !strings.Contains(r.stderr, "wall/floor") {
		t.Errorf("apply does not end with its wall, physical floor and wall/floor:\n%s", r.stderr)
	}
	keVerify(t, plan)
	keys = append(keys, keReadFile(t, filepath.Join(opKeys, "master-g1.key")))
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.Type != tikv.MasterKeyFile || e.MasterKey.Path != filepath.Join(hostKeys, "master-g1.key") || e.Method != tikv.MethodAES256CTR {
			t.Fatalf("tikv.toml after apply: %+v", e)
		}
	}

	// A reboot empties the tmpfs: the node waits for its key until deliver.
	runs = append(runs, keDeliverAfterReboot(t, cl, plan, filepath.Join(hostKeys, "master-g1.key"))...)

	r = keMust(t, "rotate", plan, "--yes")
	runs = append(runs, r)
	keReportVerified(t, r)
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 2 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("plan after rotate: key %+v previous %+v", p.Target.MasterKey, p.Target.PreviousMasterKey)
	}
	keys = append(keys, keReadFile(t, filepath.Join(opKeys, "master-g2.key")))
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g2.key"}) {
		t.Errorf("host key dir after rotate: %v, want only generation 2", got)
	}
	if got := keDirFiles(t, opKeys); !slices.Equal(got, []string{"master-g1.key", "master-g2.key"}) {
		t.Errorf("operator key dir after a plain rotate: %v (generation 1 is kept until retired)", got)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.Path != filepath.Join(hostKeys, "master-g2.key") || e.PreviousMasterKey.Type != "" {
			t.Fatalf("tikv.toml after rotate: %+v", e)
		}
	}

	r = keMust(t, "rotate", plan, "--incident", "--yes", "--retire-old")
	runs = append(runs, r)
	rep := keReportVerified(t, r)
	keVerify(t, plan)
	keys = append(keys, keReadFile(t, filepath.Join(opKeys, "master-g3.key")))
	keReportRetired(t, rep, "old generation 2 retired in file (destroyed)")
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 3 {
		t.Fatalf("plan after the incident rotation: %+v", p.Target.MasterKey)
	}
	// Revocation evidence: generation 2 is shredded on the hosts and in the operator key dir.
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g3.key"}) {
		t.Errorf("host key dir after the incident rotation: %v", got)
	}
	if got := keDirFiles(t, opKeys); slices.Contains(got, "master-g2.key") || !slices.Contains(got, "master-g3.key") {
		t.Errorf("operator key dir after the incident rotation: %v, want generation 2 shredded", got)
	}
	if !strings.Contains(r.stderr, "old generation 2 retired in file (destroyed)") {
		t.Errorf("no retirement line:\n%s", r)
	}
	keNoSecrets(t, keys, runs, dir)
}

// keDeliverAfterReboot deletes a node's key file (a tmpfs lost on reboot),
// restarts the node over SSH, sees it wait for its key, runs deliver and
// waits for the unit's restart loop to bring the node back.
func keDeliverAfterReboot(t *testing.T, cl *sim.Cluster, plan, keyFile string) []keResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := ConnectFlags{Sim: cl.Env().Dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	n1 := cl.Nodes()[0]
	before, err := sess.PD.Store(ctx, n1.StoreID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	var target string
	for _, in := range sess.Inventory.Nodes {
		if in.StoreID == n1.StoreID {
			target = gather.SSHTarget(in, sess.Flags.SSHUser)
		}
	}
	res, err := sess.SSH.Run(ctx, target, "systemctl restart "+n1.Paths.UnitName, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("systemctl restart over SSH: %v exit %d %s", err, res.ExitCode, res.Stderr)
	}
	var state gather.State
	var status keResult
	keWait(t, "store 1 to wait for its key", func() bool {
		r := keRun(t, "status", "--sim", cl.Env().Dir, "--output", "json", "--timeout", "2s")
		status = r
		var rep gather.Report
		if json.Unmarshal([]byte(r.stdout), &rep) != nil {
			return false
		}
		for _, s := range rep.Stores {
			if s.StoreID == n1.StoreID {
				state = s.State
			}
		}
		return state == gather.StateWaitingForKey
	})
	if n1.Proc.Running() {
		t.Fatal("store 1 runs without its key file")
	}
	r := keMust(t, "deliver", plan, "--store", "1")
	if !strings.Contains(r.stderr, "store 1 (") || !strings.Contains(r.stderr, "): key generation 1 delivered") {
		t.Errorf("deliver output:\n%s", r)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o400 || fi.Size() != tikv.FileKeySize {
		t.Fatalf("delivered key file: %v %v", fi, err)
	}
	keWait(t, "the unit's restart loop to bring store 1 back", func() bool {
		si, err := sess.PD.Store(ctx, n1.StoreID)
		return err == nil && si.Store.StateName == pd.StateUp && si.Store.StartTimestamp > before.Store.StartTimestamp && n1.Proc.Running()
	})
	keVerify(t, plan)
	return []keResult{status, r}
}

// ---- aws ----

// TestKeysFileRefusedInProduction: a file key in a production plan is refused
// as bad input (exit 2) with a hint to use a KMS; no key is generated and no
// host changes.
func TestKeysFileRefusedInProduction(t *testing.T) {
	cl := keStartSim(t, "")
	dir := t.TempDir()
	before := keConfigs(t, cl)
	r := keRun(t, kePlanArgs(cl, dir, "--env", "production", "--backend", "file", "--key-dir", filepath.Join(dir, "keys"))...)
	keRefused(t, r, ExitUsage, "a file master key is refused for a production plan",
		"hint: use a KMS backend (aws, gcp, azure) or vault")
	if _, err := os.Stat(filepath.Join(dir, "plan.toml")); !os.IsNotExist(err) {
		t.Errorf("plan.toml was written: %v", err)
	}
	if got := keDirFiles(t, filepath.Join(dir, "keys")); len(got) != 0 {
		t.Errorf("a key was generated for a refused plan: %v", got)
	}
	keUnchanged(t, cl, before)
}
