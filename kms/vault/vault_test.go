package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newBackend is a backend for the fake's default mounts (transit/, secret/) and cluster c1.
func newBackend(t *testing.T, s *vaulttest.Server, token string, mod func(*Config)) *Backend {
	t.Helper()
	sp := &space{srv: fakeServer{s}, cluster: "c1", transit: "transit", kv: "secret"}
	return sp.backend(t, token, mod)
}

func failed(checks []core.Check) (core.Check, bool) {
	for _, c := range checks {
		if c.Status == core.StatusFail {
			return c, true
		}
	}
	return core.Check{}, false
}

var hexLF = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

func TestPushFlow(t *testing.T) {
	ctx := context.Background()
	s := vaulttest.New(t)
	b := newBackend(t, s, s.RootToken, nil)

	checks := b.Preflight(ctx)
	if c, bad := failed(checks); bad {
		t.Fatalf("preflight failed: %+v", c)
	}
	if !strings.Contains(checks[1].Reason, "token accessor "+s.Accessor(s.RootToken)) || strings.Contains(checks[1].Reason, s.RootToken) {
		t.Fatalf("auth check = %+v, want the accessor and never the token", checks[1])
	}
	if c := check(t, checks, "vault kek"); c.Status != core.StatusWarn || !strings.Contains(c.Reason, "prepare will create") {
		t.Fatalf("kek check = %+v, want warn that prepare creates it", c)
	}

	g1, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if g1.Generation != 1 || g1.Version != "1" || g1.ID != "secret/tikv/c1/master-key" || g1.Attrs["transit_key"] != "tikv-c1-kek" || g1.Attrs["transit_key_version"] != "1" {
		t.Fatalf("generation 1 = %+v", g1)
	}
	if again, err := b.Prepare(ctx, core.PurposeCurrent); err != nil || again.Fingerprint != g1.Fingerprint || again.Version != "1" {
		t.Fatalf("current again = %+v, %v", again, err)
	}
	g2, err := b.Prepare(ctx, core.PurposeNew)
	if err != nil {
		t.Fatal(err)
	}
	if g2.Generation != 2 || g2.Version != "2" || g2.Fingerprint == g1.Fingerprint {
		t.Fatalf("generation 2 = %+v", g2)
	}
	if mk := b.MasterKey(g2); mk != (tikv.MasterKey{Type: "file", Path: "/run/tikv-keys/master-g2.key"}) {
		t.Fatalf("master key = %+v", mk)
	}

	h := kmstest.NewHost("tikv-1")
	for _, g := range []core.KeyRef{g1, g2} {
		if err := b.Deliver(ctx, h, g); err != nil {
			t.Fatal(err)
		}
	}
	k1, mode, owner, ok := h.File("/run/tikv-keys/master-g1.key")
	k2, _, _, _ := h.File("/run/tikv-keys/master-g2.key")
	if !ok || len(k1) != 65 || !hexLF.Match(k1) || !hexLF.Match(k2) || mode != 0o400 || owner != "tidb" {
		t.Fatalf("delivered file: ok=%t len=%d mode=%#o owner=%q", ok, len(k1), mode, owner)
	}
	if core.Fingerprint(k1) != g1.Fingerprint || core.Fingerprint(k2) != g2.Fingerprint {
		t.Fatal("delivered content does not match the recorded fingerprints")
	}

	// The plaintext datakey endpoint is never used, and key bytes appear in no
	// ref, evidence or request path.
	for _, r := range s.Requests() {
		if strings.Contains(r, "datakey/plaintext") {
			t.Fatalf("tool asked Vault for a plaintext datakey: %s", r)
		}
	}
	ev, err := b.Evidence(ctx, g2)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := json.Marshal([]any{g1, g2, ev, checks})
	for _, k := range [][]byte{k1, k2} {
		if bytes.Contains(blob, k[:64]) {
			t.Fatal("key hex leaked into refs, evidence or checks")
		}
	}
	if ev.Accessor != s.Accessor(s.RootToken) || ev.Attrs["kek_type"] != "aes256-gcm96" || ev.Attrs["kek_latest_version"] != "1" || ev.State != "active" {
		t.Fatalf("evidence = %+v", ev)
	}

	// A stale ref whose fingerprint does not match is refused.
	bad := g1
	bad.Fingerprint = "sha256:0000000000000000"
	if err := b.Deliver(ctx, h, bad); err == nil || !strings.Contains(err.Error(), "substituted") {
		t.Fatalf("deliver with wrong fingerprint: %v", err)
	}

	// Retire: refuses without confirmation and for the current generation.
	if _, err := b.Retire(ctx, g1, core.RetireOptions{}); err == nil {
		t.Fatal("unconfirmed retire succeeded")
	}
	if _, err := b.Retire(ctx, g2, core.RetireOptions{Confirmed: true}); err == nil || !strings.Contains(err.Error(), "current generation") {
		t.Fatalf("retiring the current generation: %v", err)
	}
	rev, err := b.Retire(ctx, g1, core.RetireOptions{Confirmed: true, Hosts: []core.Host{h}})
	if err != nil {
		t.Fatal(err)
	}
	if !s.KVVersionDestroyed("tikv/c1/master-key", 1) || s.KVVersionDestroyed("tikv/c1/master-key", 2) {
		t.Fatal("retire did not destroy exactly KV version 1")
	}
	if removed, shredded := h.Removed("/run/tikv-keys/master-g1.key"); !removed || !shredded || rev.State != "destroyed" {
		t.Fatalf("host copy removed=%t shredded=%t evidence=%+v", removed, shredded, rev)
	}
	if err := b.Deliver(ctx, h, g1); err == nil {
		t.Fatal("delivering a destroyed generation succeeded")
	}
}

// TestPolicy: the generated policies name the right paths (the realparts
// suite writes the operator policy into OpenBao and runs PreflightKEK with it).
func TestPolicy(t *testing.T) {
	s := vaulttest.New(t)
	b := newBackend(t, s, s.RootToken, nil)
	op, err := b.Policy("operator")
	if err != nil || !strings.Contains(op, `path "secret/data/tikv/c1/master-key" {`) || !strings.Contains(op, `path "transit/datakey/wrapped/tikv-c1-kek"`) ||
		!strings.Contains(op, "path \"transit/keys/tikv-c1-kek\" {\n  capabilities = [\"read\", \"update\"]") {
		t.Fatalf("operator policy:\n%s", op)
	}
	host, _ := b.Policy("host")
	if strings.Contains(host, "secret/") || !strings.Contains(host, `path "transit/decrypt/tikv-c1-kek" {`) {
		t.Fatalf("host policy:\n%s", host)
	}
}

// raceTransport lets another writer win the KV race while Prepare generates a datakey.
type raceTransport struct {
	base  http.RoundTripper
	onKey func()
}

func (r raceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/datakey/") && r.onKey != nil {
		r.onKey()
	}
	return r.base.RoundTrip(req)
}

func TestAgentDelivery(t *testing.T) {
	ctx := context.Background()
	s := vaulttest.New(t)
	push := newBackend(t, s, s.RootToken, nil)
	ref, err := push.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	hp := kmstest.NewHost("pushed")
	if err := push.Deliver(ctx, hp, ref); err != nil {
		t.Fatal(err)
	}
	key, _, _, _ := hp.File("/run/tikv-keys/master-g1.key")

	agent := newBackend(t, s, s.RootToken, func(c *Config) { c.Delivery = DeliveryAgent })
	h := kmstest.NewHost("tikv-1")
	if err := agent.Deliver(ctx, h, ref); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := h.File("/run/tikv-keys/master-g1.key"); ok {
		t.Fatal("agent mode pushed the key itself")
	}
	hcl, mode, _, ok := h.File("/etc/vault-agent/tikv-master-key.hcl")
	if !ok || mode != 0o400 {
		t.Fatalf("agent config ok=%t mode=%#o", ok, mode)
	}
	text := string(hcl)
	for _, want := range []string{
		`address = "` + s.URL + `"`,
		`destination          = "/run/tikv-keys/master-g1.key"`,
		`perms                = "0400"`,
		`backup               = false`,
		`error_on_missing_key = true`,
		`exit_on_retry_failure         = true`,
		`role_id_file_path                   = "/etc/vault-agent/role_id"`,
		`{{- with secret "transit/decrypt/tikv-c1-kek" "ciphertext=vault:v1:`,
		`{{ printf "%x" (base64Decode .Data.plaintext) }}{{- end }}` + "\nEOT\n",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("agent config lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, string(key[:64])) {
		t.Fatal("agent config contains the plaintext key")
	}
}

func TestValidate(t *testing.T) {
	s := vaulttest.New(t)
	b := newBackend(t, s, s.RootToken, func(c *Config) {
		c.Cluster = ""
		c.Auth = "approle"
		c.Delivery = "scp"
		c.KEKAutoRotatePeriod = "30m"
	})
	codes := map[string]int{}
	for _, f := range b.Validate(core.EnvProduction, nil) {
		codes[f.Code]++
	}
	if codes["vault-cluster"] != 1 || codes["vault-approle"] != 2 || codes["vault-delivery"] != 1 || codes["vault-auto-rotate"] != 1 {
		t.Fatalf("codes = %v", codes)
	}
}
