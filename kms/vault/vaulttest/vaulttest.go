// Package vaulttest is an in-process fake of the HashiCorp Vault HTTP API for
// tests, driven through the real github.com/hashicorp/vault/api client. The
// same suite in kms/vault runs against it and against a real OpenBao dev server
// (build tag realparts), and every difference found there is reproduced here.
// Facts marked "OpenBao v2.6.2" were measured against that server
// (../shared/realparts/README.md) and read in its source (openbao/openbao tag
// v2.6.2, commit dd9c19c37a878cf4a81b18efb8d6f0599c7da923).
//
// It serves:
//
//   - sys/health (503 when sealed unless sealedcode is given, as the api client does)
//   - auth/approle/login, auth/token/lookup-self, sys/capabilities-self,
//     sys/internal/ui/mounts/:path (what `vault kv` uses to find a mount's type
//     and KV version: command/kv_helpers.go kvPreflightVersionRequest)
//   - a transit mount: keys/:name (GET, POST), …/rotate, …/config,
//     datakey/{plaintext,wrapped}/:name, encrypt/:name, decrypt/:name,
//     rewrap/:name, sign/:name
//   - KV v2 mounts: data/:path (GET with ?version, POST/PUT with options.cas),
//     metadata/:path (GET), destroy/:path (POST); KV v1 mounts: :path (GET, POST)
//
// New starts with KV v2 at secret/ (as a dev server has) and transit at
// transit/ (which a dev server does NOT have: `vault secrets enable transit`);
// Mount and Unmount change that, AddNamespace adds namespaces with no mounts.
//
// Behaviour copied from OpenBao v2.6.2:
//   - Errors are {"errors":[...]}; numbers are JSON numbers.
//   - A sealed server answers 503 "Vault is sealed" (sdk/helper/consts/error.go ErrSealed).
//   - A missing, unknown or expired token gets 403 "permission denied"; an ACL
//     refusal gets 403 "1 error occurred:\n\t* permission denied\n\n".
//   - A path under no mount: 404 "no handler for route \"<path>\". route entry
//     not found." (vault/routing/router.go) when the policy lets the caller try,
//     else 403; a missing transit key or KV secret: 404 with no error text.
//   - POST to transit/keys/:name needs "update" even to create the key (the path
//     has no existence check: builtin/logical/transit/path_keys.go); POST to a
//     KV path needs "create" when the secret does not exist and "update" when
//     it does (builtin/logical/kv/path_data.go dataExistenceCheck).
//   - With an X-Vault-Namespace header, sys/health and sys/seal answer 400
//     "operation unavailable in namespaces" (http/handler.go
//     restrictedSysAPIsNonLogical); an unknown namespace answers 404
//     "namespace not found".
//   - sys/internal/ui/mounts/:path answers 403 "preflight capability check
//     returned 403, please ensure client's policies grant access to path
//     \"<path>/\"" when nothing is mounted there or the token has no capability
//     on it (vault/logical_system.go pathInternalUIMountRead).
//   - A KV v2 check-and-set mismatch gets 400 "check-and-set parameter did not
//     match the current version" (builtin/logical/kv/path_data.go).
//
// Transit is real: AES-256-GCM with a 12-byte nonce, ciphertext "vault:v<N>:" +
// base64(nonce‖sealed), datakeys encrypt the raw key bytes. Signing supports
// ecdsa-p256 (ASN.1, SHA-256) and ed25519. The listener binds 127.0.0.1 only.
package vaulttest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Policy maps a path (exact, or a prefix ending in "*") to capabilities
// ("create", "read", "update", "delete", "list", "sudo", "root", "deny").
// Paths are relative to the namespace the token was created in.
type Policy map[string][]string

// Mount types.
const (
	TypeTransit = "transit"
	TypeKV      = "kv"
)

// Server is a running fake Vault.
type Server struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// RootToken has every capability in every namespace.
	RootToken string

	srv *httptest.Server
	mu  sync.Mutex
	now func() time.Time

	sealed     bool
	namespaces map[string]bool              // "" is the root namespace
	mounts     map[string]map[string]*mount // namespace -> "transit/" -> mount
	tokens     map[string]*token
	approles   map[string]approle // "<ns>|<role_id>" -> role
	requests   []string           // "METHOD /v1/path" in arrival order (no bodies)
}

type mount struct {
	typ     string
	version int                       // KV only: 1 or 2
	keys    map[string]*transitKey    // transit
	kv      map[string]*kvSecret      // KV v2
	kv1     map[string]map[string]any // KV v1
	created time.Time
}

type token struct {
	id, accessor string
	ns           string
	policy       Policy
	created      time.Time
	ttl          time.Duration // 0 = never expires
	displayName  string
	policies     []string
}

type approle struct {
	secretID string
	policy   Policy
	name     string
}

type keyVersion struct {
	aes     []byte
	ecdsa   *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	created time.Time
}

type transitKey struct {
	name                 string
	typ                  string
	exportable           bool
	allowPlaintextBackup bool
	deletionAllowed      bool
	minDecryption        int
	minEncryption        int
	autoRotate           time.Duration
	versions             map[int]*keyVersion
	latest               int
}

type kvVersion struct {
	data      map[string]any
	created   time.Time
	destroyed bool
}

type kvSecret struct {
	versions map[int]*kvVersion
	current  int
	created  time.Time
	updated  time.Time
}

// New starts a fake Vault on 127.0.0.1 and stops it when the test ends. The
// clock defaults to a fixed instant that advances one second per request, so
// creation times are distinct and deterministic.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		namespaces: map[string]bool{"": true},
		mounts:     map[string]map[string]*mount{"": {}},
		tokens:     map[string]*token{},
		approles:   map[string]approle{},
	}
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	s.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	s.RootToken = s.addToken("", Policy{"*": {"root"}}, 0, "root", []string{"root"})
	s.mount("", "secret", TypeKV, 2)
	s.mount("", "transit", TypeTransit, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// SetClock replaces the server clock (called under the server lock).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Seal seals (true) or unseals (false) the server.
func (s *Server) Seal(sealed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = sealed
}

// AddNamespace creates a child namespace of the root namespace; like a real
// one it starts with no secrets engine and no auth method mounted.
func (s *Server) AddNamespace(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.Trim(name, "/")
	s.namespaces[name] = true
	if s.mounts[name] == nil {
		s.mounts[name] = map[string]*mount{}
	}
}

func mountPath(path string) string { return strings.Trim(path, "/") + "/" }

func (s *Server) mount(ns, path, typ string, version int) {
	ns = strings.Trim(ns, "/")
	if s.mounts[ns] == nil {
		s.mounts[ns] = map[string]*mount{}
	}
	s.mounts[ns][mountPath(path)] = &mount{typ: typ, version: version, keys: map[string]*transitKey{},
		kv: map[string]*kvSecret{}, kv1: map[string]map[string]any{}, created: s.now()}
}

// Mount mounts a secrets engine at path in namespace ns ("" = root): typ is
// TypeTransit or TypeKV with version 1 or 2. It replaces what was there.
func (s *Server) Mount(ns, path, typ string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mount(ns, path, typ, version)
}

// Unmount removes the engine at path in namespace ns with all its data.
func (s *Server) Unmount(ns, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mounts[strings.Trim(ns, "/")], mountPath(path))
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// addToken must be called with s.mu held or before the server starts.
func (s *Server) addToken(ns string, p Policy, ttl time.Duration, name string, policies []string) string {
	id := "hvs." + randHex(12)
	s.tokens[id] = &token{id: id, accessor: randHex(12), ns: ns, policy: p, created: s.now(), ttl: ttl, displayName: name, policies: policies}
	return id
}

// AddToken creates a root-namespace token with the given policy and TTL (0 = no expiry).
func (s *Server) AddToken(p Policy, ttl time.Duration) string {
	return s.AddTokenNS("", p, ttl)
}

// AddTokenNS creates a token in namespace ns whose policy paths are relative to ns.
func (s *Server) AddTokenNS(ns string, p Policy, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addToken(strings.Trim(ns, "/"), p, ttl, "token", []string{"tikv-ear"})
}

// ExpireToken makes a token invalid, as when its TTL ran out.
func (s *Server) ExpireToken(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[id]; ok {
		t.ttl = time.Nanosecond
		t.created = time.Time{}
	}
}

// Accessor returns a token's accessor.
func (s *Server) Accessor(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[id]; ok {
		return t.accessor
	}
	return ""
}

// AddAppRole registers an AppRole login at auth/approle in the root namespace.
func (s *Server) AddAppRole(name, roleID, secretID string, p Policy) {
	s.AddAppRoleNS("", name, roleID, secretID, p)
}

// AddAppRoleNS registers an AppRole login at auth/approle in namespace ns.
func (s *Server) AddAppRoleNS(ns, name, roleID, secretID string, p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approles[strings.Trim(ns, "/")+"|"+roleID] = approle{secretID: secretID, policy: p, name: name}
}

// Requests returns "METHOD /v1/path" for every request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// KeyInfo reports a transit key's latest and minimum decryption versions
// (root namespace, mount transit/).
func (s *Server) KeyInfo(name string) (latest, minDecryption int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mounts[""]["transit/"]
	if m == nil {
		return 0, 0, false
	}
	k, ok := m.keys[name]
	if !ok {
		return 0, 0, false
	}
	return k.latest, k.minDecryption, true
}

// KVVersionDestroyed reports whether version v of secret/<path> (root
// namespace) is destroyed.
func (s *Server) KVVersionDestroyed(path string, v int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mounts[""]["secret/"]
	if m == nil {
		return false
	}
	sec, ok := m.kv[path]
	if !ok || sec.versions[v] == nil {
		return false
	}
	return sec.versions[v].destroyed
}

// PutKV writes a KV v2 secret at secret/<path> in the root namespace directly
// (test setup, bypassing CAS).
func (s *Server) PutKV(path string, data map[string]any) int {
	return s.PutKVAt("", "secret", path, data)
}

// PutKVAt writes a KV v2 secret at <mount>/<path> in namespace ns directly
// and returns its new version (0 when no KV v2 is mounted there).
func (s *Server) PutKVAt(ns, mountDir, path string, data map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mounts[strings.Trim(ns, "/")][mountPath(mountDir)]
	if m == nil || m.typ != TypeKV || m.version != 2 {
		return 0
	}
	return s.kvWrite(m, path, data)
}

// ---- HTTP plumbing ----

type apiError struct {
	code int
	msgs []string
}

func fail(code int, msgs ...string) *apiError {
	if msgs == nil {
		msgs = []string{}
	}
	return &apiError{code: code, msgs: msgs}
}

// aclDenied is the text of an ACL refusal (OpenBao v2.6.2, measured).
const aclDenied = "1 error occurred:\n\t* permission denied\n\n"

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// envelope is Vault's logical response wrapper.
func envelope(data map[string]any) map[string]any {
	return map[string]any{
		"request_id": randHex(8), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": data, "wrap_info": nil, "warnings": nil, "auth": nil,
	}
}

// restrictedInNamespace are the sys/ paths refused with a namespace header
// (OpenBao v2.6.2 http/handler.go restrictedSysAPIsNonLogical, the ones the
// fake serves).
var restrictedInNamespace = []string{"sys/health", "sys/seal", "sys/unseal"}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	method := r.Method
	if method == http.MethodGet && r.URL.Query().Get("list") == "true" {
		method = "LIST"
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	s.requests = append(s.requests, method+" /v1/"+p)
	var body map[string]any
	if r.Body != nil && (method == http.MethodPost || method == http.MethodPut) {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil && err.Error() != "EOF" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"failed to parse JSON input: " + err.Error()}})
			return
		}
	}
	ns := strings.Trim(r.Header.Get("X-Vault-Namespace"), "/")
	if ns != "" && slices.Contains(restrictedInNamespace, p) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"operation unavailable in namespaces"}})
		return
	}
	if p == "sys/health" {
		s.health(w, r)
		return
	}
	if s.sealed {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []string{"Vault is sealed"}})
		return
	}
	if !s.namespaces[ns] {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{"namespace not found"}})
		return
	}
	data, status, aerr := s.route(r, ns, method, p, body)
	switch {
	case aerr != nil:
		writeJSON(w, aerr.code, map[string]any{"errors": aerr.msgs})
	case status == http.StatusNoContent:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, status, data)
	}
}

// health answers like OpenBao v2.6.2 (measured): a sealed server reports
// standby true and replication modes "unknown".
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.sealed {
		code := http.StatusServiceUnavailable
		if c, err := strconv.Atoi(r.URL.Query().Get("sealedcode")); err == nil {
			code = c
		}
		writeJSON(w, code, map[string]any{"initialized": true, "sealed": true, "standby": true,
			"replication_performance_mode": "unknown", "replication_dr_mode": "unknown",
			"server_time_utc": s.now().Unix(), "version": "1.21.4"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"initialized": true, "sealed": false, "standby": false, "performance_standby": false,
		"replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
		"server_time_utc": s.now().Unix(), "version": "1.21.4", "enterprise": false,
		"cluster_name": "vault-cluster-fake", "cluster_id": "00000000-0000-0000-0000-000000000000",
		"echo_duration_ms": 0, "clock_skew_ms": 0, "replication_primary_canary_age_ms": 0,
	})
}

// auth returns the caller's token, or a 403.
func (s *Server) auth(r *http.Request) (*token, *apiError) {
	t, ok := s.tokens[r.Header.Get("X-Vault-Token")]
	if !ok || (t.ttl > 0 && s.now().After(t.created.Add(t.ttl))) {
		return nil, fail(http.StatusForbidden, "permission denied")
	}
	return t, nil
}

// capabilities resolves a token's capabilities on path p of namespace ns
// (longest match wins). A token sees its own namespace and, from the root
// namespace, its children as "<ns>/<path>".
func capabilities(t *token, ns, p string) []string {
	switch {
	case t.ns == ns:
	case t.ns == "":
		p = ns + "/" + p
	default:
		return []string{"deny"}
	}
	best, bestLen := []string{"deny"}, -1
	for pat, caps := range t.policy {
		prefix, glob := strings.CutSuffix(pat, "*")
		if (glob && strings.HasPrefix(p, prefix) || !glob && pat == p) && len(pat) > bestLen {
			best, bestLen = caps, len(pat)
		}
	}
	return best
}

// allowed reports whether caps grant op ("create", "read", "update", "delete", "list").
func allowed(caps []string, op string) bool {
	if slices.Contains(caps, "deny") {
		return false
	}
	return slices.Contains(caps, "root") || slices.Contains(caps, op)
}

// findMount returns the mount holding p in namespace ns, its path ("transit/")
// and p relative to it (with a trailing slash).
func (s *Server) findMount(ns, p string) (*mount, string, string) {
	best := ""
	for mp := range s.mounts[ns] {
		if strings.HasPrefix(p+"/", mp) && len(mp) > len(best) {
			best = mp
		}
	}
	if best == "" {
		return nil, "", ""
	}
	return s.mounts[ns][best], best, strings.TrimPrefix(p+"/", best)
}

// operation is the ACL operation a request needs: POST/PUT is "create" only
// on paths with an existence check whose target does not exist yet.
func (m *mount) operation(method, rel string) string {
	switch method {
	case http.MethodGet:
		return "read"
	case "LIST":
		return "list"
	case http.MethodDelete:
		return "delete"
	}
	rel = strings.TrimSuffix(rel, "/")
	if m.typ == TypeKV && m.version == 2 {
		if path, ok := strings.CutPrefix(rel, "data/"); ok {
			if _, exists := m.kv[path]; !exists {
				return "create"
			}
		}
	}
	if m.typ == TypeKV && m.version == 1 {
		if _, exists := m.kv1[rel]; !exists {
			return "create"
		}
	}
	return "update"
}

func (s *Server) route(r *http.Request, ns, method, p string, body map[string]any) (any, int, *apiError) {
	if p == "auth/approle/login" && method != http.MethodGet {
		return s.approleLogin(ns, body)
	}
	t, aerr := s.auth(r)
	if aerr != nil {
		return nil, 0, aerr
	}
	switch p {
	case "auth/token/lookup-self":
		return s.lookupSelf(t), http.StatusOK, nil
	case "sys/capabilities-self":
		return s.capabilitiesSelf(t, ns, body)
	}
	if mp, ok := strings.CutPrefix(p, "sys/internal/ui/mounts/"); ok && method == http.MethodGet {
		return s.uiMount(t, ns, mp)
	}
	m, _, rel := s.findMount(ns, p)
	if m == nil {
		op := map[string]string{http.MethodGet: "read", "LIST": "list", http.MethodDelete: "delete"}[method]
		if op == "" {
			op = "update"
		}
		if !allowed(capabilities(t, ns, p), op) {
			return nil, 0, fail(http.StatusForbidden, aclDenied)
		}
		return nil, 0, fail(http.StatusNotFound, "no handler for route \""+p+"\". route entry not found.")
	}
	if !allowed(capabilities(t, ns, p), m.operation(method, rel)) {
		return nil, 0, fail(http.StatusForbidden, aclDenied)
	}
	rel = strings.TrimSuffix(rel, "/")
	switch {
	case m.typ == TypeTransit:
		return s.transit(m, method, rel, body)
	case m.typ == TypeKV && m.version == 2:
		return s.kvRoute(m, r, method, rel, body)
	case m.typ == TypeKV:
		return s.kv1Route(m, method, rel, body)
	}
	return nil, 0, fail(http.StatusNotFound, "no handler for route \""+p+"\". route entry not found.")
}

// uiMount answers sys/internal/ui/mounts/<path> with the mount's type and options.
func (s *Server) uiMount(t *token, ns, p string) (any, int, *apiError) {
	p = strings.Trim(p, "/")
	denied := fail(http.StatusForbidden, fmt.Sprintf("preflight capability check returned 403, please ensure client's policies grant access to path %q", p+"/"))
	m, mp, _ := s.findMount(ns, p)
	if m == nil {
		return nil, 0, denied
	}
	// Access is judged on the mount path: a capability on it or on any
	// policy path below it (vault/logical_system.go hasMountAccess).
	if caps := capabilities(t, ns, mp); slices.Contains(caps, "deny") && !s.anyCapBelow(t, ns, mp) {
		return nil, 0, denied
	}
	var options any
	if m.typ == TypeKV {
		options = map[string]any{"version": strconv.Itoa(m.version)}
	}
	return envelope(map[string]any{
		"accessor": m.typ + "_" + randHex(4), "config": map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
		"description": "", "external_entropy_access": false, "local": false, "options": options, "path": mp,
		"plugin_version": "", "seal_wrap": false, "type": m.typ, "uuid": "00000000-0000-0000-0000-" + randHex(6),
	}), http.StatusOK, nil
}

// anyCapBelow reports whether some policy path of t lies under p.
func (s *Server) anyCapBelow(t *token, ns, p string) bool {
	full := p
	if t.ns != ns {
		if t.ns != "" {
			return false
		}
		full = ns + "/" + p
	}
	for pat, caps := range t.policy {
		if strings.HasPrefix(strings.TrimSuffix(pat, "*"), full) && !slices.Contains(caps, "deny") {
			return true
		}
	}
	return false
}

func (s *Server) approleLogin(ns string, body map[string]any) (any, int, *apiError) {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	role, ok := s.approles[ns+"|"+roleID]
	if !ok || role.secretID != secretID {
		return nil, 0, fail(http.StatusBadRequest, "invalid role or secret ID")
	}
	id := s.addToken(ns, role.policy, time.Hour, "approle", []string{"default", role.name})
	tk := s.tokens[id]
	return map[string]any{
		"request_id": randHex(8), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil,
		"wrap_info": nil, "warnings": nil,
		"auth": map[string]any{
			"client_token": id, "accessor": tk.accessor, "policies": tk.policies, "token_policies": tk.policies,
			"metadata": map[string]any{"role_name": role.name}, "lease_duration": 3600, "renewable": true,
			"entity_id": "", "token_type": "service", "orphan": true,
		},
	}, http.StatusOK, nil
}

func (s *Server) lookupSelf(t *token) map[string]any {
	ttl, expire := int64(0), any(nil)
	if t.ttl > 0 {
		ttl = int64(t.created.Add(t.ttl).Sub(s.now()).Seconds())
		expire = t.created.Add(t.ttl).Format(time.RFC3339Nano)
	}
	return envelope(map[string]any{
		"accessor": t.accessor, "creation_time": t.created.Unix(), "creation_ttl": int64(t.ttl.Seconds()),
		"display_name": t.displayName, "entity_id": "", "expire_time": expire, "explicit_max_ttl": 0,
		"id": t.id, "issue_time": t.created.Format(time.RFC3339Nano), "meta": nil, "num_uses": 0,
		"orphan": true, "path": "auth/token/create", "policies": t.policies, "renewable": t.ttl > 0,
		"ttl": ttl, "type": "service",
	})
}

// capabilitiesSelf answers like OpenBao v2.6.2 (measured): one key per path,
// plus "capabilities" only when a single path was asked.
func (s *Server) capabilitiesSelf(t *token, ns string, body map[string]any) (any, int, *apiError) {
	var paths []string
	if p, ok := body["path"].(string); ok && p != "" {
		paths = append(paths, p)
	}
	if ps, ok := body["paths"].([]any); ok {
		for _, p := range ps {
			if s, ok := p.(string); ok {
				paths = append(paths, s)
			}
		}
	}
	if len(paths) == 0 {
		return nil, 0, fail(http.StatusBadRequest, "missing paths")
	}
	data := map[string]any{}
	for _, p := range paths {
		caps := capabilities(t, ns, p)
		if slices.Contains(caps, "root") {
			caps = []string{"root"}
		}
		data[p] = caps
	}
	if len(paths) == 1 {
		data["capabilities"] = data[paths[0]]
	}
	resp := envelope(data)
	for k, v := range data { // Vault repeats the map at the top level
		resp[k] = v
	}
	return resp, http.StatusOK, nil
}

// kv1Route serves a KV v1 mount: the body is stored as given, reads return it.
func (s *Server) kv1Route(m *mount, method, p string, body map[string]any) (any, int, *apiError) {
	switch method {
	case http.MethodGet:
		d, ok := m.kv1[p]
		if !ok {
			return nil, 0, fail(http.StatusNotFound)
		}
		resp := envelope(d)
		resp["lease_duration"] = 2764800 // OpenBao v2.6.2 (measured): KV v1 reads carry the mount's 768h lease
		return resp, http.StatusOK, nil
	case http.MethodPost, http.MethodPut:
		if body == nil {
			body = map[string]any{}
		}
		m.kv1[p] = body
		return nil, http.StatusNoContent, nil
	case http.MethodDelete:
		delete(m.kv1, p)
		return nil, http.StatusNoContent, nil
	}
	return nil, 0, fail(http.StatusMethodNotAllowed, "unsupported operation")
}

// ---- transit ----

func num(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

func boolean(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		x, err := strconv.ParseBool(b)
		return x, err == nil
	}
	return false, false
}

func duration(v any) (time.Duration, *apiError) {
	switch d := v.(type) {
	case json.Number:
		n, _ := d.Int64()
		return time.Duration(n) * time.Second, nil
	case string:
		if d == "0" || d == "" {
			return 0, nil
		}
		dd, err := time.ParseDuration(d)
		if err != nil {
			return 0, fail(http.StatusBadRequest, "error parsing auto_rotate_period: "+err.Error())
		}
		return dd, nil
	}
	return 0, fail(http.StatusBadRequest, "error parsing auto_rotate_period")
}

func (s *Server) newVersion(k *transitKey) error {
	v := &keyVersion{created: s.now()}
	switch k.typ {
	case "aes256-gcm96":
		v.aes = make([]byte, 32)
		if _, err := rand.Read(v.aes); err != nil {
			return err
		}
	case "ecdsa-p256":
		pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		v.ecdsa = pk
	case "ed25519":
		_, pk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		v.ed = pk
	}
	k.latest++
	k.versions[k.latest] = v
	return nil
}

func (s *Server) keyData(k *transitKey) map[string]any {
	keys := map[string]any{}
	for n, v := range k.versions {
		switch k.typ {
		case "aes256-gcm96":
			keys[strconv.Itoa(n)] = v.created.Unix()
		case "ecdsa-p256":
			der, _ := x509.MarshalPKIXPublicKey(&v.ecdsa.PublicKey)
			keys[strconv.Itoa(n)] = map[string]any{"name": "P-256", "creation_time": v.created.Format(time.RFC3339Nano),
				"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "certificate_chain": ""}
		case "ed25519":
			keys[strconv.Itoa(n)] = map[string]any{"name": "ed25519", "creation_time": v.created.Format(time.RFC3339Nano),
				"public_key": base64.StdEncoding.EncodeToString(v.ed.Public().(ed25519.PublicKey)), "certificate_chain": ""}
		}
	}
	enc := k.typ == "aes256-gcm96"
	return map[string]any{
		"name": k.name, "type": k.typ, "derived": false, "deletion_allowed": k.deletionAllowed,
		"min_available_version": 0, "min_decryption_version": k.minDecryption, "min_encryption_version": k.minEncryption,
		"latest_version": k.latest, "exportable": k.exportable, "allow_plaintext_backup": k.allowPlaintextBackup,
		"supports_encryption": enc, "supports_decryption": enc, "supports_signing": !enc, "supports_derivation": enc,
		"auto_rotate_period": int64(k.autoRotate.Seconds()), "imported_key": false, "keys": keys,
	}
}

func (s *Server) transit(m *mount, method, p string, body map[string]any) (any, int, *apiError) {
	parts := strings.Split(p, "/")
	switch {
	case parts[0] == "keys" && len(parts) == 2:
		name := parts[1]
		k, ok := m.keys[name]
		if method == http.MethodGet {
			if !ok {
				return nil, 0, fail(http.StatusNotFound)
			}
			return envelope(s.keyData(k)), http.StatusOK, nil
		}
		if ok {
			resp := envelope(s.keyData(k))
			resp["warnings"] = []string{fmt.Sprintf("key %s already existed", name)}
			return resp, http.StatusOK, nil
		}
		typ := "aes256-gcm96"
		if t, ok := body["type"].(string); ok && t != "" {
			typ = t
		}
		if typ != "aes256-gcm96" && typ != "ecdsa-p256" && typ != "ed25519" {
			return nil, 0, fail(http.StatusBadRequest, "unknown key type: "+typ+" (fake supports aes256-gcm96, ecdsa-p256, ed25519)")
		}
		k = &transitKey{name: name, typ: typ, versions: map[int]*keyVersion{}, minDecryption: 1}
		k.exportable, _ = boolean(body["exportable"])
		k.allowPlaintextBackup, _ = boolean(body["allow_plaintext_backup"])
		if v, ok := body["auto_rotate_period"]; ok {
			d, aerr := duration(v)
			if aerr != nil {
				return nil, 0, aerr
			}
			if d != 0 && d < time.Hour {
				return nil, 0, fail(http.StatusBadRequest, "auto rotate period must be 0 to disable or at least an hour")
			}
			k.autoRotate = d
		}
		if err := s.newVersion(k); err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
		m.keys[name] = k
		return envelope(s.keyData(k)), http.StatusOK, nil
	case parts[0] == "keys" && len(parts) == 3 && parts[2] == "rotate":
		k, ok := m.keys[parts[1]]
		if !ok {
			return nil, 0, fail(http.StatusBadRequest, "key not found")
		}
		if err := s.newVersion(k); err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
		return envelope(s.keyData(k)), http.StatusOK, nil
	case parts[0] == "keys" && len(parts) == 3 && parts[2] == "config":
		return s.keyConfig(m, parts[1], body)
	case (parts[0] == "datakey") && len(parts) == 3:
		return s.datakey(m, parts[1], parts[2], body)
	case parts[0] == "encrypt" && len(parts) == 2:
		pt, err := base64.StdEncoding.DecodeString(str(body["plaintext"]))
		if err != nil {
			return nil, 0, fail(http.StatusBadRequest, "failed to base64-decode plaintext")
		}
		k, aerr := s.encKey(m, parts[1])
		if aerr != nil {
			return nil, 0, aerr
		}
		ct, err := seal(k, pt)
		if err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
		return envelope(map[string]any{"ciphertext": ct, "key_version": k.latest}), http.StatusOK, nil
	case parts[0] == "decrypt" && len(parts) == 2:
		k, ok := m.keys[parts[1]]
		if !ok {
			return nil, 0, fail(http.StatusBadRequest, "encryption key not found")
		}
		pt, aerr := open(k, str(body["ciphertext"]))
		if aerr != nil {
			return nil, 0, aerr
		}
		return envelope(map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}), http.StatusOK, nil
	case parts[0] == "rewrap" && len(parts) == 2:
		k, ok := m.keys[parts[1]]
		if !ok {
			return nil, 0, fail(http.StatusBadRequest, "encryption key not found")
		}
		pt, aerr := open(k, str(body["ciphertext"]))
		if aerr != nil {
			return nil, 0, aerr
		}
		ct, err := seal(k, pt)
		if err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
		return envelope(map[string]any{"ciphertext": ct, "key_version": k.latest}), http.StatusOK, nil
	case parts[0] == "sign" && (len(parts) == 2 || len(parts) == 3):
		return s.sign(m, parts[1], body)
	}
	return nil, 0, fail(http.StatusNotFound, "no handler for route \"transit/"+p+"\". route entry not found.")
}

func str(v any) string { s, _ := v.(string); return s }

func (s *Server) keyConfig(m *mount, name string, body map[string]any) (any, int, *apiError) {
	k, ok := m.keys[name]
	if !ok {
		return nil, 0, fail(http.StatusBadRequest, "no existing key named "+name+" could be found")
	}
	if v, ok := body["min_decryption_version"]; ok {
		n, _ := num(v)
		if n > k.latest {
			return nil, 0, fail(http.StatusBadRequest, "cannot set min decryption version greater than latest version")
		}
		if n > 0 {
			k.minDecryption = n
		}
	}
	if v, ok := body["min_encryption_version"]; ok {
		n, _ := num(v)
		if n != 0 && n < k.minDecryption {
			return nil, 0, fail(http.StatusBadRequest, "cannot set min encryption/decryption values; min encryption version must be greater than or equal to min decryption version")
		}
		k.minEncryption = n
	}
	if b, ok := boolean(body["deletion_allowed"]); ok {
		k.deletionAllowed = b
	}
	if b, ok := boolean(body["exportable"]); ok && b {
		k.exportable = true
	}
	if b, ok := boolean(body["allow_plaintext_backup"]); ok && b {
		k.allowPlaintextBackup = true
	}
	if v, ok := body["auto_rotate_period"]; ok {
		d, aerr := duration(v)
		if aerr != nil {
			return nil, 0, aerr
		}
		if d != 0 && d < time.Hour {
			return nil, 0, fail(http.StatusBadRequest, "auto rotate period must be 0 to disable or at least an hour")
		}
		k.autoRotate = d
	}
	return envelope(s.keyData(k)), http.StatusOK, nil
}

func (s *Server) encKey(m *mount, name string) (*transitKey, *apiError) {
	k, ok := m.keys[name]
	if !ok {
		return nil, fail(http.StatusBadRequest, "encryption key not found")
	}
	if k.typ != "aes256-gcm96" {
		return nil, fail(http.StatusBadRequest, "key type "+k.typ+" does not support encryption")
	}
	return k, nil
}

func (s *Server) datakey(m *mount, kind, name string, body map[string]any) (any, int, *apiError) {
	if kind != "plaintext" && kind != "wrapped" {
		return nil, 0, fail(http.StatusBadRequest, "invalid path: plaintext or wrapped expected")
	}
	bits := 256
	if v, ok := body["bits"]; ok {
		bits, _ = num(v)
	}
	if bits != 128 && bits != 256 && bits != 512 {
		return nil, 0, fail(http.StatusBadRequest, "invalid bits value")
	}
	k, aerr := s.encKey(m, name)
	if aerr != nil {
		return nil, 0, aerr
	}
	raw := make([]byte, bits/8)
	if _, err := rand.Read(raw); err != nil {
		return nil, 0, fail(http.StatusInternalServerError, err.Error())
	}
	ct, err := seal(k, raw)
	if err != nil {
		return nil, 0, fail(http.StatusInternalServerError, err.Error())
	}
	data := map[string]any{"ciphertext": ct, "key_version": k.latest}
	if kind == "plaintext" {
		data["plaintext"] = base64.StdEncoding.EncodeToString(raw)
	}
	return envelope(data), http.StatusOK, nil
}

func seal(k *transitKey, pt []byte) (string, error) {
	v := k.latest
	if k.minEncryption > 0 {
		v = max(v, k.minEncryption)
	}
	block, err := aes.NewCipher(k.versions[v].aes)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := gcm.Seal(nonce, nonce, pt, nil)
	return fmt.Sprintf("vault:v%d:%s", v, base64.StdEncoding.EncodeToString(out)), nil
}

func open(k *transitKey, ct string) ([]byte, *apiError) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	vs, b64, ok2 := strings.Cut(rest, ":")
	v, err := strconv.Atoi(vs)
	if !ok || !ok2 || err != nil {
		return nil, fail(http.StatusBadRequest, "invalid ciphertext: no prefix")
	}
	if v < k.minDecryption {
		return nil, fail(http.StatusBadRequest, "ciphertext or signature version is disallowed by policy (too old)")
	}
	kv, ok := k.versions[v]
	if !ok || kv.aes == nil {
		return nil, fail(http.StatusBadRequest, "invalid ciphertext: version is too new")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "invalid ciphertext: could not decode base64")
	}
	block, _ := aes.NewCipher(kv.aes)
	gcm, _ := cipher.NewGCM(block)
	if len(raw) < gcm.NonceSize() {
		return nil, fail(http.StatusBadRequest, "invalid ciphertext: too short")
	}
	pt, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "cipher: message authentication failed")
	}
	return pt, nil
}

func (s *Server) sign(m *mount, name string, body map[string]any) (any, int, *apiError) {
	k, ok := m.keys[name]
	if !ok {
		return nil, 0, fail(http.StatusBadRequest, "signing key not found")
	}
	input, err := base64.StdEncoding.DecodeString(str(body["input"]))
	if err != nil {
		return nil, 0, fail(http.StatusBadRequest, "unable to decode input as base64: "+err.Error())
	}
	v := k.versions[k.latest]
	var sig []byte
	switch k.typ {
	case "ecdsa-p256":
		sum := sha256.Sum256(input)
		sig, err = ecdsa.SignASN1(rand.Reader, v.ecdsa, sum[:])
		if err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
	case "ed25519":
		sig = ed25519.Sign(v.ed, input)
	default:
		return nil, 0, fail(http.StatusBadRequest, "key type "+k.typ+" does not support signing")
	}
	return envelope(map[string]any{
		"signature":   fmt.Sprintf("vault:v%d:%s", k.latest, base64.StdEncoding.EncodeToString(sig)),
		"key_version": k.latest,
	}), http.StatusOK, nil
}

// ---- KV v2 (mount "secret") ----

func timeStr(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (s *Server) kvWrite(m *mount, path string, data map[string]any) int {
	sec, ok := m.kv[path]
	now := s.now()
	if !ok {
		sec = &kvSecret{versions: map[int]*kvVersion{}, created: now}
		m.kv[path] = sec
	}
	sec.current++
	sec.updated = now
	sec.versions[sec.current] = &kvVersion{data: data, created: now}
	return sec.current
}

func versionMeta(n int, v *kvVersion) map[string]any {
	return map[string]any{"created_time": timeStr(v.created), "custom_metadata": nil, "deletion_time": "", "destroyed": v.destroyed, "version": n}
}

func (s *Server) kvRoute(m *mount, r *http.Request, method, p string, body map[string]any) (any, int, *apiError) {
	kind, path, ok := strings.Cut(p, "/")
	if !ok || path == "" {
		return nil, 0, fail(http.StatusNotFound)
	}
	switch {
	case kind == "data" && method == http.MethodGet:
		sec, ok := m.kv[path]
		if !ok {
			return nil, 0, fail(http.StatusNotFound)
		}
		n := sec.current
		if q := r.URL.Query().Get("version"); q != "" && q != "0" {
			n, _ = strconv.Atoi(q)
		}
		v, ok := sec.versions[n]
		if !ok {
			return nil, 0, fail(http.StatusNotFound)
		}
		if v.destroyed {
			return envelope(map[string]any{"data": nil, "metadata": versionMeta(n, v)}), http.StatusNotFound, nil
		}
		return envelope(map[string]any{"data": v.data, "metadata": versionMeta(n, v)}), http.StatusOK, nil
	case kind == "data":
		data, ok := body["data"].(map[string]any)
		if !ok {
			return nil, 0, fail(http.StatusBadRequest, "no data provided")
		}
		if opts, ok := body["options"].(map[string]any); ok {
			if c, ok := opts["cas"]; ok {
				want, _ := num(c)
				cur := 0
				if sec, ok := m.kv[path]; ok {
					cur = sec.current
				}
				if want != cur {
					return nil, 0, fail(http.StatusBadRequest, "check-and-set parameter did not match the current version")
				}
			}
		}
		n := s.kvWrite(m, path, data)
		return envelope(versionMeta(n, m.kv[path].versions[n])), http.StatusOK, nil
	case kind == "metadata" && method == http.MethodGet:
		sec, ok := m.kv[path]
		if !ok {
			return nil, 0, fail(http.StatusNotFound)
		}
		versions := map[string]any{}
		oldest := 0
		var ns []int
		for n := range sec.versions {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		for _, n := range ns {
			v := sec.versions[n]
			if oldest == 0 {
				oldest = n
			}
			versions[strconv.Itoa(n)] = map[string]any{"created_time": timeStr(v.created), "deletion_time": "", "destroyed": v.destroyed}
		}
		return envelope(map[string]any{
			"cas_required": false, "created_time": timeStr(sec.created), "current_version": sec.current,
			"custom_metadata": nil, "delete_version_after": "0s", "max_versions": 0, "oldest_version": 0,
			"updated_time": timeStr(sec.updated), "versions": versions,
		}), http.StatusOK, nil
	case kind == "destroy" && method != http.MethodGet:
		sec, ok := m.kv[path]
		vs, _ := body["versions"].([]any)
		if len(vs) == 0 {
			return nil, 0, fail(http.StatusBadRequest, "no version number provided")
		}
		if ok {
			for _, x := range vs {
				if n, ok := num(x); ok && sec.versions[n] != nil {
					sec.versions[n].destroyed = true
					sec.versions[n].data = nil
				}
			}
		}
		return nil, http.StatusNoContent, nil
	}
	return nil, 0, fail(http.StatusMethodNotAllowed, "unsupported operation")
}
