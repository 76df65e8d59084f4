package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
)

// TestKEKCommands: on a vault plan, `kek rotate` rotates the transit key,
// rewraps the master key and points the plan at the new KV version (deliver
// still works, the key is the same); `kek min-version` and `kek auto-rotate`
// reach transit; the same commands answer under `schedule kek`; bad input and
// a non-vault plan are refused with a hint and exit 2; a sealed Vault with a
// hint and exit 1, nothing changed.
func TestKEKCommands(t *testing.T) {
	vs := vaulttest.New(t)
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", keVaultConfig(t, cl, dir, vs.URL, vs.RootToken))...)
	before := keLoadPlan(t, plan).Target.MasterKey

	r := keMust(t, "kek", "rotate", plan, "--output", "json")
	var rot KEKRotation
	if err := json.Unmarshal([]byte(r.stdout), &rot); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	after := keLoadPlan(t, plan).Target.MasterKey
	if !rot.PlanUpdated || rot.KEK != "transit/keys/tikv-c1-kek" || rot.KEKVersion != "2" || after.Version != rot.KVVersion ||
		after.Version == before.Version || after.Fingerprint != before.Fingerprint || after.Generation != before.Generation {
		t.Fatalf("kek rotate: %+v; plan key before %+v after %+v", rot, before, after)
	}
	if latest, _, _ := vs.KeyInfo("tikv-c1-kek"); latest != 2 {
		t.Fatalf("KEK latest version = %d, want 2", latest)
	}
	keMust(t, "deliver", plan) // the rewrapped version unwraps to the planned fingerprint

	r = keMust(t, "kek", "rotate", plan, "--rewrap-only")
	if !strings.Contains(r.stdout, "transit/keys/tikv-c1-kek is at version 2") {
		t.Fatalf("rewrap-only with nothing to rewrap:\n%s", r)
	}
	r = keMust(t, "kek", "min-version", plan)
	if !strings.Contains(r.stdout, "min_decryption_version of transit/keys/tikv-c1-kek is 1") {
		t.Fatalf("min-version:\n%s", r)
	}
	r = keMust(t, "kek", "min-version", plan, "--destroy-superseded")
	if !strings.Contains(r.stdout, "destroyed superseded KV versions [1]") || !strings.Contains(r.stdout, "is 2") {
		t.Fatalf("min-version --destroy-superseded:\n%s", r)
	}
	if _, minDec, _ := vs.KeyInfo("tikv-c1-kek"); minDec != 2 || !vs.KVVersionDestroyed("tikv/c1/master-key", 1) {
		t.Fatalf("min_decryption_version = %d, KV version 1 destroyed %t", minDec, vs.KVVersionDestroyed("tikv/c1/master-key", 1))
	}
	keMust(t, "deliver", plan)
	r = keMust(t, "schedule", "kek", "auto-rotate", plan, "--period", "2160h")
	if !strings.Contains(r.stdout, "rotates itself every 2160h") || !strings.Contains(r.stdout, "kek rotate --rewrap-only") {
		t.Fatalf("auto-rotate:\n%s", r)
	}

	keRefused(t, keRun(t, "kek", "auto-rotate", plan, "--period", "30m"), ExitUsage, "not a duration of at least 1h", "hint: use e.g. --period 2160h")
	filePlan := filepath.Join(t.TempDir(), "plan.toml")
	fdir := filepath.Dir(filePlan)
	keMust(t, kePlanArgs(cl, fdir, "--env", "staging", "--backend", "file", "--key-dir", filepath.Join(fdir, "keys"))...)
	keRefused(t, keRun(t, "kek", "rotate", filePlan), ExitUsage, `uses the "file" key backend, not vault`, "hint: the KEK commands manage Vault's transit key")

	vs.Seal(true)
	planBefore := keLoadPlan(t, plan).Target.MasterKey
	keRefused(t, keRun(t, "kek", "rotate", plan), ExitFailure, "is sealed", "nothing changed", "hint: unseal Vault")
	if keLoadPlan(t, plan).Target.MasterKey.Version != planBefore.Version {
		t.Fatal("a refused kek rotate changed the plan")
	}
	vs.Seal(false)
	if latest, _, _ := vs.KeyInfo("tikv-c1-kek"); latest != 2 {
		t.Fatalf("a refused kek rotate rotated the KEK: latest %d", latest)
	}
}
