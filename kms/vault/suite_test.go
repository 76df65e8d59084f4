package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
)

// The Vault suite: every case runs against the fake (vaulttest, TestSuiteFake)
// and against a real OpenBao dev server (TestRealOpenBao, build tag
// realparts). A server is what a case needs from either.
type server interface {
	// addr is the server's URL; root a token with every capability.
	addr() string
	root() string
	// namespace creates a child namespace of the root one.
	namespace(t *testing.T, name string)
	// mount mounts "transit" or "kv" (version 1 or 2) at path in ns.
	mount(t *testing.T, ns, path, engine string, version int)
	// token creates a token in ns with the policy (paths relative to ns).
	token(t *testing.T, ns string, p vaulttest.Policy, ttl time.Duration) string
	// appRole creates an AppRole in ns (auth/approle) with the policy.
	appRole(t *testing.T, ns string, p vaulttest.Policy) (roleID, secretID string)
	// expire waits until tok (made with a TTL) is expired.
	expire(t *testing.T, tok string)
	// seal seals the server (true) or unseals it (false).
	seal(t *testing.T, sealed bool)
}

// space is one case's own corner of a server: a cluster name and mounts of
// its own, so cases never see each other's KEKs and records.
type space struct {
	srv     server
	ns      string
	cluster string
	transit string
	kv      string
}

var spaceName = regexp.MustCompile(`[^a-z0-9]+`)

// newSpace names a space after the test and mounts transit and KV v2 for it.
func newSpace(t *testing.T, srv server, ns string) *space {
	t.Helper()
	n := strings.Trim(spaceName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	sp := &space{srv: srv, ns: ns, cluster: n, transit: "tr-" + n, kv: "kv-" + n}
	srv.mount(t, ns, sp.transit, "transit", 0)
	srv.mount(t, ns, sp.kv, "kv", 2)
	return sp
}

// operator is the operator policy for the space, written out independently
// of Backend.Policy (docs/backend-vault.md "Vault policies").
func (sp *space) operator() vaulttest.Policy {
	k := "tikv-" + sp.cluster + "-kek"
	rec := "tikv/" + sp.cluster + "/master-key"
	return vaulttest.Policy{
		sp.transit + "/keys/" + k:             {"read", "update"},
		sp.transit + "/keys/" + k + "/rotate": {"update"},
		sp.transit + "/keys/" + k + "/config": {"update"},
		sp.transit + "/datakey/wrapped/" + k:  {"update"},
		sp.transit + "/decrypt/" + k:          {"update"},
		sp.transit + "/rewrap/" + k:           {"update"},
		sp.kv + "/data/" + rec:                {"create", "read", "update"},
		sp.kv + "/metadata/" + rec:            {"read"},
		sp.kv + "/destroy/" + rec:             {"update"},
	}
}

// backend builds a token-auth backend for the space; mod adjusts the config.
func (sp *space) backend(t *testing.T, token string, mod func(*Config)) *Backend {
	t.Helper()
	for _, v := range []string{"VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "BAO_ADDR", "BAO_TOKEN", "BAO_NAMESPACE", "BAO_CACERT"} {
		t.Setenv(v, "")
	}
	cfg := Config{Cluster: sp.cluster, Address: sp.srv.addr(), Namespace: sp.ns, TransitMount: sp.transit, KVMount: sp.kv,
		TokenFile: writeFile(t, "token", token+"\n"), CreateKEK: true}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.SetClock(func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) })
	return b
}

// rootClient is an api client with the root token in the space's namespace.
func (sp *space) rootClient(t *testing.T) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = sp.srv.addr()
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(sp.srv.root())
	if sp.ns != "" {
		c.SetNamespace(sp.ns)
	}
	return c
}

// kvVersions returns the current version of the space's record (0 when none).
func (sp *space) kvVersions(t *testing.T) int {
	t.Helper()
	md, err := sp.rootClient(t).KVv2(sp.kv).GetMetadata(context.Background(), "tikv/"+sp.cluster+"/master-key")
	if errors.Is(err, api.ErrSecretNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("reading the record's metadata: %v", err)
	}
	return md.CurrentVersion
}

// check returns the check named prefix…, failing the test when absent.
func check(t *testing.T, checks []core.Check, prefix string) core.Check {
	t.Helper()
	for _, c := range checks {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, checks)
	return core.Check{}
}

func mustPass(t *testing.T, checks []core.Check) {
	t.Helper()
	if c, bad := failed(checks); bad {
		t.Fatalf("preflight failed: %+v", c)
	}
}

// mustFail asserts the first failed check's name, reason and fix words.
func mustFail(t *testing.T, checks []core.Check, name string, reason, fix []string) core.Check {
	t.Helper()
	c, bad := failed(checks)
	if !bad || !strings.HasPrefix(c.Name, name) {
		t.Fatalf("want a failed %q check, got %+v", name, checks)
	}
	for _, w := range reason {
		if !strings.Contains(c.Reason, w) {
			t.Errorf("reason %q lacks %q", c.Reason, w)
		}
	}
	for _, w := range fix {
		if !strings.Contains(c.Fix, w) {
			t.Errorf("fix %q lacks %q", c.Fix, w)
		}
	}
	return c
}

// hinted asserts err is a one-line *Error whose message and hint hold the words.
func hinted(t *testing.T, err error, msg, hint string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) carries no hint", err, err)
	}
	if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "Error making API request") {
		t.Errorf("error is an API dump: %q", err)
	}
	if !strings.Contains(err.Error(), msg) || !strings.Contains(e.Hint(), hint) {
		t.Errorf("error %q hint %q; want %q and hint %q", err, e.Hint(), msg, hint)
	}
}

// recorder is a reverse proxy in front of a server that records "METHOD path".
type recorder struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path)
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	rec.url = "http://" + ln.Addr().String()
	return rec
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// suite runs every case against the server newServer returns for it.
func suite(t *testing.T, newServer func(t *testing.T) server) {
	cases := []struct {
		name string
		run  func(t *testing.T, srv server)
	}{
		{"TokenFlow", caseTokenFlow},
		{"AppRole", caseAppRole},
		{"Namespace", caseNamespace},
		{"ExpiredToken", caseExpiredToken},
		{"CASConflict", caseCASConflict},
		{"MissingCapability", caseMissingCapability},
		{"TransitUnmounted", caseTransitUnmounted},
		{"KVv1", caseKVv1},
		{"BaoEnvironment", caseBaoEnvironment},
		{"KEKLifecycle", caseKEKLifecycle},
		{"Sealed", caseSealed}, // last: it seals the shared server (and unseals it)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newServer(t)) })
	}
}

// caseTokenFlow: preflight, generations 1 and 2, push delivery, evidence; the
// tool never asks for a plaintext datakey and no key hex leaks.
func caseTokenFlow(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	rec := newRecorder(t, srv.addr())
	tok := srv.token(t, "", sp.operator(), 0)
	b := sp.backend(t, tok, func(c *Config) { c.Address = rec.url })

	checks := b.Preflight(ctx)
	mustPass(t, checks)
	if c := check(t, checks, "vault kek"); c.Status != core.StatusWarn || !strings.Contains(c.Reason, "prepare will create it") {
		t.Fatalf("kek check = %+v, want a warning that prepare creates it", c)
	}
	if c := check(t, checks, "vault kv"); c.Status != core.StatusPass || !strings.Contains(c.Reason, "KV v2") {
		t.Fatalf("kv check = %+v", c)
	}
	g1, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if g1.Generation != 1 || g1.Version != "1" || g1.Attrs["transit_key_version"] != "1" {
		t.Fatalf("generation 1 = %+v", g1)
	}
	mustPass(t, b.Preflight(ctx))
	if c := check(t, b.Preflight(ctx), "vault kek"); c.Status != core.StatusPass {
		t.Fatalf("kek check after prepare = %+v", c)
	}
	g2, err := b.Prepare(ctx, core.PurposeNew)
	if err != nil {
		t.Fatal(err)
	}
	if g2.Generation != 2 || g2.Version != "2" || g2.Fingerprint == g1.Fingerprint {
		t.Fatalf("generation 2 = %+v", g2)
	}
	h := kmstest.NewHost("tikv-1")
	var keys [][]byte
	for _, g := range []core.KeyRef{g1, g2} {
		if err := b.Deliver(ctx, h, g); err != nil {
			t.Fatal(err)
		}
		k, mode, _, ok := h.File(b.HostPath(g))
		if !ok || !hexLF.Match(k) || mode != 0o400 || core.Fingerprint(k) != g.Fingerprint {
			t.Fatalf("delivered generation %d: ok=%t mode=%#o", g.Generation, ok, mode)
		}
		keys = append(keys, k)
	}
	ev, err := b.Evidence(ctx, g2)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Accessor == "" || ev.Attrs["kek_type"] != "aes256-gcm96" || ev.Attrs["kek_latest_version"] != "1" || ev.State != "active" {
		t.Fatalf("evidence = %+v", ev)
	}
	for _, r := range rec.requests() {
		if strings.Contains(r, "datakey/plaintext") {
			t.Fatalf("tool asked Vault for a plaintext datakey: %s", r)
		}
	}
	blob, _ := json.Marshal([]any{g1, g2, ev, checks})
	for _, k := range keys {
		if bytes.Contains(blob, k[:64]) || bytes.Contains(blob, []byte(tok)) {
			t.Fatal("key hex or token leaked into refs, evidence or checks")
		}
	}
}

// caseAppRole: AppRole login, then the same flow; a wrong secret id fails
// preflight with the server's words and never shows the secret.
func caseAppRole(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	roleID, secretID := srv.appRole(t, "", sp.operator())
	mk := func(secret string) *Backend {
		return sp.backend(t, "", func(c *Config) {
			c.TokenFile, c.Auth = "", "approle"
			c.RoleIDFile = writeFile(t, "role", roleID+"\n")
			c.SecretIDFile = writeFile(t, "secret", secret+"\n")
		})
	}
	b := mk(secretID)
	mustPass(t, b.Preflight(ctx))
	ref, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Deliver(ctx, kmstest.NewHost("h"), ref); err != nil {
		t.Fatal(err)
	}
	bad := mustFail(t, mk("wrong-secret-id").Preflight(ctx), "vault auth", []string{"invalid role or secret ID"}, []string{"secret-id"})
	if strings.Contains(bad.Reason, "wrong-secret-id") {
		t.Fatal("secret id leaked into the check")
	}
}

// caseNamespace: with a namespace the health check goes without the header
// (sys/health answers 400 inside one) and everything else inside it; an
// unknown namespace fails auth with its own fix.
func caseNamespace(t *testing.T, srv server) {
	ctx := context.Background()
	ns := "ns-" + strings.ToLower(strings.ReplaceAll(t.Name()[len(t.Name())-9:], "/", ""))
	srv.namespace(t, ns)
	sp := newSpace(t, srv, ns)
	tok := srv.token(t, ns, sp.operator(), 0)
	b := sp.backend(t, tok, nil)
	checks := b.Preflight(ctx)
	mustPass(t, checks)
	if c := check(t, checks, "vault auth"); !strings.Contains(c.Reason, "namespace "+ns) {
		t.Fatalf("auth check = %+v, want the namespace", c)
	}
	ref, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Deliver(ctx, kmstest.NewHost("h"), ref); err != nil {
		t.Fatal(err)
	}
	if sp.kvVersions(t) != 1 {
		t.Fatal("the record is not in the namespace's KV mount")
	}
	// The namespace header really matters: the root namespace has no such mount.
	root := sp.backend(t, srv.root(), func(c *Config) { c.Namespace = "" })
	mustFail(t, root.Preflight(ctx), "vault kek", []string{"transit is not mounted at " + sp.transit + "/"}, []string{"secrets enable -path=" + sp.transit + " transit"})

	nope := sp.backend(t, srv.root(), func(c *Config) { c.Namespace = "no-such-ns" })
	mustFail(t, nope.Preflight(ctx), "vault auth", []string{"namespace no-such-ns not found"}, []string{"namespace create"})
}

// caseExpiredToken: preflight says the token is expired and how to fix it;
// deliver fails with one line and the same hint, no API dump.
func caseExpiredToken(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	ref, err := sp.backend(t, srv.root(), nil).Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	tok := srv.token(t, "", sp.operator(), 2*time.Second)
	b := sp.backend(t, tok, nil)
	mustPass(t, b.Preflight(ctx))
	srv.expire(t, tok)
	mustFail(t, b.Preflight(ctx), "vault auth", []string{"token rejected (permission denied): it is missing, expired or revoked"}, []string{"log in again"})
	hinted(t, b.Deliver(ctx, kmstest.NewHost("h"), ref), "token rejected", "log in again")

	none := sp.backend(t, "", func(c *Config) { c.TokenFile = "" })
	mustFail(t, none.Preflight(ctx), "vault auth", []string{"no Vault token"}, []string{"token-file"})
}

// caseCASConflict: another writer wins the race while Prepare makes a
// datakey; Prepare fails with check-and-set conflict and writes nothing.
func caseCASConflict(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	b := sp.backend(t, srv.root(), nil)
	if _, err := b.Prepare(ctx, core.PurposeCurrent); err != nil {
		t.Fatal(err)
	}
	root := sp.rootClient(t)
	var once sync.Once
	cfg := api.DefaultConfig()
	cfg.Address = srv.addr()
	cfg.MaxRetries = 0
	cfg.HttpClient = &http.Client{Transport: raceTransport{base: http.DefaultTransport, onKey: func() {
		once.Do(func() {
			if _, err := root.KVv2(sp.kv).Put(ctx, "tikv/"+sp.cluster+"/master-key", map[string]any{"ciphertext": "vault:v1:other", "generation": 2}); err != nil {
				t.Errorf("the other writer: %v", err)
			}
		})
	}}}
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(srv.root())
	b.client = c
	_, err = b.Prepare(ctx, core.PurposeNew)
	if err == nil || !strings.Contains(err.Error(), "check-and-set conflict") || !strings.Contains(err.Error(), "check-and-set parameter did not match the current version") {
		t.Fatalf("prepare under a concurrent write: %v", err)
	}
	if n := sp.kvVersions(t); n != 2 {
		t.Fatalf("record has %d versions, want 2 (ours + the other writer's)", n)
	}
}

// caseMissingCapability: a policy missing any one capability the run needs
// fails preflight naming that path and capability; the full policy passes.
func caseMissingCapability(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	full := sp.operator()
	mustPass(t, sp.backend(t, srv.token(t, "", full, 0), nil).PreflightKEK(ctx))
	paths := make([]string, 0, len(full))
	for p := range full {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for _, capability := range full[p] {
			pol := vaulttest.Policy{}
			for q, caps := range full {
				pol[q] = caps
			}
			pol[p] = slices.DeleteFunc(slices.Clone(full[p]), func(c string) bool { return c == capability })
			if len(pol[p]) == 0 {
				delete(pol, p)
			}
			b := sp.backend(t, srv.token(t, "", pol, 0), nil)
			mustFail(t, b.PreflightKEK(ctx), "vault capabilities", []string{p + " needs " + capability}, []string{"operator policy"})
		}
	}
	// Creating the KEK needs update, not create, on transit/keys/<kek>.
	k := sp.transit + "/keys/tikv-" + sp.cluster + "-kek"
	pol := vaulttest.Policy{}
	for q, caps := range full {
		pol[q] = caps
	}
	pol[k] = []string{"create", "read"}
	mustFail(t, sp.backend(t, srv.token(t, "", pol, 0), nil).Preflight(ctx), "vault capabilities", []string{k + " needs update"}, nil)
	// Without create-kek, read alone is enough.
	mustPass(t, sp.backend(t, srv.token(t, "", pol, 0), func(c *Config) { c.CreateKEK = false }).Preflight(ctx)[:3])
}

// caseTransitUnmounted: a server with no transit at the configured mount
// fails preflight with the command that mounts it; Prepare writes nothing.
func caseTransitUnmounted(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	sp.transit = "none-" + sp.transit
	for _, tok := range []string{srv.root(), srv.token(t, "", sp.operator(), 0)} {
		b := sp.backend(t, tok, nil)
		mustFail(t, b.Preflight(ctx), "vault kek", []string{"transit is not mounted at " + sp.transit + "/"},
			[]string{"vault secrets enable -path=" + sp.transit + " transit", "bao secrets enable -path=" + sp.transit + " transit"})
		_, err := b.Prepare(ctx, core.PurposeCurrent)
		hinted(t, err, "transit is not mounted", "secrets enable -path="+sp.transit+" transit")
	}
	if n := sp.kvVersions(t); n != 0 {
		t.Fatalf("a record was written: %d versions", n)
	}
	// Without create-kek the same: the missing mount, not a missing key.
	b := sp.backend(t, srv.root(), func(c *Config) { c.CreateKEK = false })
	c := mustFail(t, b.Preflight(ctx), "vault kek", []string{"transit is not mounted"}, []string{"secrets enable"})
	if strings.Contains(c.Fix, "vault write") {
		t.Fatalf("fix suggests writing a key into a missing mount: %q", c.Fix)
	}
}

// caseKVv1: a KV v1 mount fails preflight with the in-place upgrade; Prepare
// refuses before writing; a stray record left by an older run is named.
func caseKVv1(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	sp.kv = "v1-" + sp.kv
	srv.mount(t, "", sp.kv, "kv", 1)
	for _, tok := range []string{srv.root(), srv.token(t, "", sp.operator(), 0)} {
		b := sp.backend(t, tok, nil)
		mustFail(t, b.Preflight(ctx), "vault kv", []string{sp.kv + "/ is a KV version 1 mount"},
			[]string{"vault kv enable-versioning " + sp.kv + "/", "bao kv enable-versioning " + sp.kv + "/"})
		_, err := b.Prepare(ctx, core.PurposeCurrent)
		hinted(t, err, "KV version 1", "enable-versioning")
	}
	stray := sp.kv + "/data/tikv/" + sp.cluster + "/master-key"
	root := sp.rootClient(t)
	if s, err := root.Logical().Read(stray); err != nil || s != nil {
		t.Fatalf("prepare left a record at %s: %v %v", stray, s, err)
	}
	if _, err := root.Logical().Write(stray, map[string]any{"data": map[string]any{"generation": 1}, "options": map[string]any{"cas": 0}}); err != nil {
		t.Fatal(err)
	}
	mustFail(t, sp.backend(t, srv.root(), nil).Preflight(ctx), "vault kv", []string{"stray record at " + stray}, []string{"vault delete " + stray})
}

// caseBaoEnvironment: BAO_ADDR/BAO_TOKEN work when VAULT_* are unset, and
// VAULT_* win when both are set.
func caseBaoEnvironment(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	mk := func(env map[string]string) *Backend {
		b := sp.backend(t, "", func(c *Config) { c.TokenFile, c.Address = "", "" })
		for k, v := range env {
			t.Setenv(k, v)
		}
		b, err := New(b.cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mustPass(t, mk(map[string]string{"BAO_ADDR": srv.addr(), "BAO_TOKEN": srv.root()}).Preflight(ctx))
	closed := closedURL(t)
	mustPass(t, mk(map[string]string{"VAULT_ADDR": srv.addr(), "BAO_ADDR": closed, "VAULT_TOKEN": srv.root(), "BAO_TOKEN": "bogus"}).Preflight(ctx))
	mustFail(t, mk(map[string]string{"VAULT_ADDR": closed, "BAO_ADDR": srv.addr(), "BAO_TOKEN": srv.root()}).Preflight(ctx),
		"vault health", []string{"connection refused"}, []string{"VAULT_ADDR"})
}

// caseKEKLifecycle: rotate the KEK and rewrap, raise min_decryption_version,
// set auto_rotate_period; TiKV's key is unchanged throughout.
func caseKEKLifecycle(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	b := sp.backend(t, srv.token(t, "", sp.operator(), 0), nil)
	g1, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	h := kmstest.NewHost("h")
	if err := b.Deliver(ctx, h, g1); err != nil {
		t.Fatal(err)
	}
	k1, _, _, _ := h.File(b.HostPath(g1))
	mustPass(t, b.PreflightKEK(ctx))
	r, err := b.RotateKEK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Generation != 1 || r.Version != "2" || r.Attrs["transit_key_version"] != "2" || r.Fingerprint != g1.Fingerprint {
		t.Fatalf("rewrapped ref = %+v", r)
	}
	h2 := kmstest.NewHost("h2")
	if err := b.Deliver(ctx, h2, r); err != nil {
		t.Fatal(err)
	}
	if k, _, _, _ := h2.File(b.HostPath(r)); !bytes.Equal(k, k1) {
		t.Fatal("the rewrapped generation unwraps to another key")
	}
	// KV version 1 (KEK v1) is still live: the minimum stays 1.
	if m, err := b.RaiseMinDecryptionVersion(ctx); err != nil || m != 1 {
		t.Fatalf("min_decryption_version = %d, %v; want 1", m, err)
	}
	// Destroying the superseded wrapping (KV version 1) lets the minimum rise;
	// the key stays deliverable from the new version, the old ref no longer.
	if d, err := b.DestroySuperseded(ctx, []core.KeyRef{r}); err != nil || !slices.Equal(d, []int{1}) {
		t.Fatalf("destroy superseded = %v, %v; want [1]", d, err)
	}
	if d, err := b.DestroySuperseded(ctx, []core.KeyRef{r}); err != nil || d != nil {
		t.Fatalf("destroy superseded again = %v, %v; want nothing", d, err)
	}
	if m, err := b.RaiseMinDecryptionVersion(ctx); err != nil || m != 2 {
		t.Fatalf("min_decryption_version = %d, %v; want 2", m, err)
	}
	if err := b.Deliver(ctx, kmstest.NewHost("h3"), r); err != nil {
		t.Fatal(err)
	}
	if err := b.Deliver(ctx, kmstest.NewHost("h4"), g1); err == nil {
		t.Fatal("the destroyed KV version still delivers")
	}
	if err := b.SetAutoRotate(ctx, "2160h"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetAutoRotate(ctx, "30m"); err == nil {
		t.Fatal("auto_rotate_period 30m accepted; transit's minimum is 1h")
	}
	ev, err := b.Evidence(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if ev.RotationEnabled == nil || !*ev.RotationEnabled || ev.RotationPeriod != "2160h0m0s" || ev.Attrs["kek_latest_version"] != "2" || ev.Attrs["kek_min_decryption_version"] != "2" {
		t.Fatalf("evidence = %+v", ev)
	}
	// Without the rotate capability the KEK preflight names it.
	pol := sp.operator()
	delete(pol, sp.transit+"/keys/tikv-"+sp.cluster+"-kek/rotate")
	nb := sp.backend(t, srv.token(t, "", pol, 0), nil)
	mustPass(t, nb.Preflight(ctx))
	mustFail(t, nb.PreflightKEK(ctx), "vault capabilities", []string{"/rotate needs update"}, nil)
}

// caseSealed: preflight says sealed and how to unseal; Prepare and Deliver
// fail with one line and the hint; health is read without a namespace.
func caseSealed(t *testing.T, srv server) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	b := sp.backend(t, srv.root(), nil)
	ref, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	srv.seal(t, true)
	defer srv.seal(t, false)
	mustFail(t, b.Preflight(ctx), "vault health", []string{"is sealed"}, []string{"unseal Vault"})
	_, err = b.Prepare(ctx, core.PurposeNew)
	hinted(t, err, "is sealed", "unseal")
	hinted(t, b.Deliver(ctx, kmstest.NewHost("h"), ref), "is sealed", "unseal")
	withNS := sp.backend(t, srv.root(), func(c *Config) { c.Namespace = "any" })
	mustFail(t, withNS.Preflight(ctx), "vault health", []string{"is sealed"}, []string{"unseal"})
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// ---- the fake ----

// fakeServer gives each case a fresh vaulttest server.
type fakeServer struct{ s *vaulttest.Server }

func (f fakeServer) addr() string                        { return f.s.URL }
func (f fakeServer) root() string                        { return f.s.RootToken }
func (f fakeServer) namespace(_ *testing.T, name string) { f.s.AddNamespace(name) }
func (f fakeServer) expire(_ *testing.T, tok string)     { f.s.ExpireToken(tok) }
func (f fakeServer) seal(_ *testing.T, sealed bool)      { f.s.Seal(sealed) }
func (f fakeServer) mount(_ *testing.T, ns, path, engine string, version int) {
	typ := vaulttest.TypeTransit
	if engine == "kv" {
		typ = vaulttest.TypeKV
	}
	f.s.Mount(ns, path, typ, version)
}

func (f fakeServer) token(_ *testing.T, ns string, p vaulttest.Policy, ttl time.Duration) string {
	if ttl > 0 { // the fake's clock ticks a second per request: expire() ends the token instead
		ttl = time.Hour
	}
	return f.s.AddTokenNS(ns, p, ttl)
}

func (f fakeServer) appRole(t *testing.T, ns string, p vaulttest.Policy) (string, string) {
	roleID, secretID := "role-"+t.Name(), "secret-"+t.Name()
	f.s.AddAppRoleNS(ns, "tikv-ear", roleID, secretID, p)
	return roleID, secretID
}

// TestSuiteFake runs the Vault suite against the fake, a fresh one per case.
func TestSuiteFake(t *testing.T) {
	suite(t, func(t *testing.T) server { return fakeServer{vaulttest.New(t)} })
}
