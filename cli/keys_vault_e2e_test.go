package cli

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
	"github.com/tikv-ear/tikv-ear/sim"
)

// keVaultConfig writes a token file and a --key-config for the fake Vault at addr.
func keVaultConfig(t *testing.T, cl *sim.Cluster, dir, addr, token string) string {
	t.Helper()
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_NAMESPACE", "")
	tok := keWriteFile(t, dir, "vault-token", token+"\n")
	return keWriteFile(t, dir, "key.toml", fmt.Sprintf(
		"[key]\nbackend = \"vault\"\n[key.vault]\ncluster = \"c1\"\naddress = %q\ntoken-file = %q\ncreate-kek = true\nhost-key-dir = %q\nowner = %q\n",
		addr, tok, filepath.Join(cl.Env().Dir, "vault-keys"), keCurrentUser(t)))
}

// TestKeysVaultLifecycle runs the lifecycle on the Vault fake: generations in
// KV v2, deliver unwraps again after a lost tmpfs, --incident destroys the old
// generation's KV version and shreds its host files.
func TestKeysVaultLifecycle(t *testing.T) {
	vs := vaulttest.New(t)
	cl := keStartSim(t, "")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	cfg := keVaultConfig(t, cl, dir, vs.URL, vs.RootToken)
	hostKeys := filepath.Join(cl.Env().Dir, "vault-keys")

	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 1 || p.Target.MasterKey.Version != "1" {
		t.Fatalf("planned key: %+v", p.Target.MasterKey)
	}

	r := keMust(t, "apply", plan, "--yes")
	runs := []keResult{r}
	keReportVerified(t, r)
	keVerify(t, plan)
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.Type != tikv.MasterKeyFile || e.MasterKey.Path != filepath.Join(hostKeys, "master-g1.key") {
			t.Fatalf("tikv.toml after apply: %+v", e)
		}
	}
	keys := [][]byte{keReadFile(t, filepath.Join(hostKeys, "master-g1.key"))}
	// deliver unwraps the generation from Vault again after a reboot.
	runs = append(runs, keDeliverAfterReboot(t, cl, plan, filepath.Join(hostKeys, "master-g1.key"))...)
	if got := keReadFile(t, filepath.Join(hostKeys, "master-g1.key")); !bytes.Equal(got, keys[0]) {
		t.Error("deliver put back another key than generation 1")
	}

	r = keMust(t, "rotate", plan, "--yes")
	runs = append(runs, r)
	keReportVerified(t, r)
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 2 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("plan after rotate: key %+v previous %+v", p.Target.MasterKey, p.Target.PreviousMasterKey)
	}
	gen2Version := p.Target.MasterKey.Version
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g2.key"}) {
		t.Errorf("host key dir after rotate: %v", got)
	}
	keys = append(keys, keReadFile(t, filepath.Join(hostKeys, "master-g2.key")))

	r = keMust(t, "rotate", plan, "--incident", "--yes", "--retire-old")
	runs = append(runs, r)
	keReportRetired(t, keReportVerified(t, r), "old generation 2 retired in vault (destroyed)")
	keVerify(t, plan)
	keys = append(keys, keReadFile(t, filepath.Join(hostKeys, "master-g3.key")))
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.Generation != 3 {
		t.Fatalf("plan after the incident rotation: %+v", p.Target.MasterKey)
	}
	v2, err := strconv.Atoi(gen2Version)
	if err != nil {
		t.Fatalf("generation 2's KV version %q: %v", gen2Version, err)
	}
	if !vs.KVVersionDestroyed("tikv/c1/master-key", v2) {
		t.Errorf("KV version %d (generation 2) is not destroyed after the incident rotation", v2)
	}
	if vs.KVVersionDestroyed("tikv/c1/master-key", v2+1) {
		t.Errorf("the current generation's KV version was destroyed")
	}
	if got := keDirFiles(t, hostKeys); !slices.Equal(got, []string{"master-g3.key"}) {
		t.Errorf("host key dir after the incident rotation: %v", got)
	}
	if !strings.Contains(r.stderr, "old generation 2 retired in vault (destroyed)") {
		t.Errorf("no retirement line:\n%s", r)
	}
	keNoSecrets(t, keys, runs, dir)
}

// ---- bad input ----

// keCASProxy forwards to the fake Vault; before the first KV write it writes
// a record itself, as a concurrent run would, so the tool's check-and-set fails.
func keCASProxy(t *testing.T, vs *vaulttest.Server) string {
	t.Helper()
	target, err := url.Parse(vs.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.URL.Path == "/v1/secret/data/tikv/c1/master-key" {
			once.Do(func() {
				vs.PutKV("tikv/c1/master-key", map[string]any{"ciphertext": "vault:v1:cmFjZQ==", "generation": 1, "transit_key": "tikv-c1-kek"})
			})
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestKeysVaultBadInput: a sealed Vault, an expired token, an unreachable
// Vault and a KV check-and-set conflict are each refused by plan, and nothing changes.
func TestKeysVaultBadInput(t *testing.T) {
	cl := keStartSim(t, "")
	before := keConfigs(t, cl)
	hostKeys := filepath.Join(cl.Env().Dir, "vault-keys")
	plain := func(vs *vaulttest.Server) string { return vs.URL }
	cases := []struct {
		name  string
		setup func(vs *vaulttest.Server) (addr, token string)
		words []string
	}{
		{"sealed", func(vs *vaulttest.Server) (string, string) { vs.Seal(true); return plain(vs), vs.RootToken },
			[]string{"is sealed", "hint: unseal Vault"}},
		{"expired token", func(vs *vaulttest.Server) (string, string) {
			tok := vs.AddToken(vaulttest.Policy{"*": {"root"}}, time.Hour)
			vs.ExpireToken(tok)
			return plain(vs), tok
		}, []string{"token rejected (permission denied): it is missing, expired or revoked", "hint: log in again"}},
		{"unreachable", func(vs *vaulttest.Server) (string, string) { return keClosedURL(t), vs.RootToken },
			[]string{"/v1/sys/health", "connection refused", "hint: check VAULT_ADDR"}},
		{"cas conflict", func(vs *vaulttest.Server) (string, string) { return keCASProxy(t, vs), vs.RootToken },
			[]string{"check-and-set conflict", "retry once the other run has finished", "hint: nothing on any host changed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs := vaulttest.New(t)
			dir := t.TempDir()
			addr, token := c.setup(vs)
			cfg := keVaultConfig(t, cl, dir, addr, token)
			r := keRun(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
			keRefused(t, r, ExitFailure, c.words...)
			if _, err := os.Stat(filepath.Join(dir, "plan.toml")); !os.IsNotExist(err) {
				t.Errorf("plan.toml was written: %v", err)
			}
			if got := keDirFiles(t, hostKeys); len(got) != 0 {
				t.Errorf("keys reached the hosts: %v", got)
			}
			keUnchanged(t, cl, before)
		})
	}
}

// TestKeysVaultApplyPreflight: the plan was fine, then Vault was sealed or
// the token expired: apply's preflight refuses and nothing on any host changes.
func TestKeysVaultApplyPreflight(t *testing.T) {
	cl := keStartSim(t, "")
	vs := vaulttest.New(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	tok := vs.AddToken(vaulttest.Policy{"*": {"root"}}, time.Hour)
	cfg := keVaultConfig(t, cl, dir, vs.URL, tok)
	keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	before := keConfigs(t, cl)
	planBefore, _ := os.ReadFile(plan)
	hostKeys := filepath.Join(cl.Env().Dir, "vault-keys")

	vs.Seal(true)
	r := keRun(t, "apply", plan, "--yes")
	keRefused(t, r, ExitFailure, "is sealed", "preflight failed with 1 blocking finding(s); nothing changed", "hint: unseal Vault")
	r = keRun(t, "deliver", plan)
	keRefused(t, r, ExitFailure, "is sealed", "nothing delivered", "hint: unseal Vault")
	keUnchanged(t, cl, before)
	if got := keDirFiles(t, hostKeys); len(got) != 0 {
		t.Errorf("keys reached the hosts: %v", got)
	}
	vs.Seal(false)

	vs.ExpireToken(tok)
	r = keRun(t, "apply", plan, "--yes")
	keRefused(t, r, ExitFailure, "token rejected", "nothing changed", "hint: log in again")
	r = keRun(t, "rotate", plan, "--yes")
	keRefused(t, r, ExitFailure, "token rejected", "nothing changed", "hint: log in again")
	r = keRun(t, "deliver", plan)
	keRefused(t, r, ExitFailure, "token rejected", "nothing delivered", "hint: log in again")
	keUnchanged(t, cl, before)
	if got := keDirFiles(t, hostKeys); len(got) != 0 {
		t.Errorf("keys reached the hosts: %v", got)
	}
	if planAfter, _ := os.ReadFile(plan); !bytes.Equal(planBefore, planAfter) {
		t.Error("a refused run rewrote the plan")
	}
}
