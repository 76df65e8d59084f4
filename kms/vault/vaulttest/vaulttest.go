// Package vaulttest is an in-process fake of the HashiCorp Vault HTTP API for
// tests, driven through the real github.com/hashicorp/vault/api client. No Vault
// binary can be built here (reference kms-and-evidence.md §1.5), so it implements
// exactly the endpoints that section lists, with Vault's documented shapes:
//
//   - sys/health (503 when sealed unless sealedcode is given, as the api client does)
//   - auth/approle/login, auth/token/lookup-self, sys/capabilities-self
//   - transit/keys/:name (GET, POST), …/rotate, …/config, transit/datakey/{plaintext,wrapped}/:name,
//     transit/encrypt/:name, transit/decrypt/:name, transit/rewrap/:name, transit/sign/:name
//   - secret/data/:path (GET with ?version, POST/PUT with options.cas),
//     secret/metadata/:path (GET), secret/destroy/:path (POST)
//
// Errors are {"errors":[...]}; numbers are JSON numbers; a sealed server answers
// 503 "Vault is sealed"; a missing, unknown or expired token gets 403
// "permission denied"; a KV v2 check-and-set mismatch gets 400 "check-and-set
// parameter did not match the current version". Transit is real: AES-256-GCM
// with a 12-byte nonce, ciphertext "vault:v<N>:" + base64(nonce‖sealed), datakeys
// encrypt the raw key bytes. Signing supports ecdsa-p256 (ASN.1, SHA-256) and
// ed25519. The listener binds 127.0.0.1 only.
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Policy maps a path (exact, or a prefix ending in "*") to capabilities
// ("create", "read", "update", "delete", "list", "sudo", "root", "deny").
type Policy map[string][]string

// Server is a running fake Vault.
type Server struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// RootToken has every capability.
	RootToken string

	srv *httptest.Server
	mu  sync.Mutex
	now func() time.Time

	sealed   bool
	tokens   map[string]*token
	approles map[string]approle // role_id -> role
	keys     map[string]*transitKey
	kv       map[string]*kvSecret // "secret/<path>" -> secret
	requests []string             // "METHOD /v1/path" in arrival order (no bodies)
}

type token struct {
	id, accessor string
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
		tokens:   map[string]*token{},
		approles: map[string]approle{},
		keys:     map[string]*transitKey{},
		kv:       map[string]*kvSecret{},
	}
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	s.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	s.RootToken = s.addToken(Policy{"*": {"root"}}, 0, "root", []string{"root"})
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

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// addToken must be called with s.mu held or before the server starts.
func (s *Server) addToken(p Policy, ttl time.Duration, name string, policies []string) string {
	id := "hvs." + randHex(12)
	s.tokens[id] = &token{id: id, accessor: randHex(12), policy: p, created: s.now(), ttl: ttl, displayName: name, policies: policies}
	return id
}

// AddToken creates a token with the given policy and TTL (0 = no expiry).
func (s *Server) AddToken(p Policy, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addToken(p, ttl, "token", []string{"tikv-ear"})
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

// AddAppRole registers an AppRole login (mount "approle").
func (s *Server) AddAppRole(name, roleID, secretID string, p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approles[roleID] = approle{secretID: secretID, policy: p, name: name}
}

// Requests returns "METHOD /v1/path" for every request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// KeyInfo reports a transit key's latest and minimum decryption versions.
func (s *Server) KeyInfo(name string) (latest, minDecryption int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[name]
	if !ok {
		return 0, 0, false
	}
	return k.latest, k.minDecryption, true
}

// KVVersionDestroyed reports whether version v of secret/<path> is destroyed.
func (s *Server) KVVersionDestroyed(path string, v int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.kv[path]
	if !ok || sec.versions[v] == nil {
		return false
	}
	return sec.versions[v].destroyed
}

// PutKV writes a KV v2 secret directly (test setup, bypassing CAS).
func (s *Server) PutKV(path string, data map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kvWrite(path, data)
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
	if p == "sys/health" {
		s.health(w, r)
		return
	}
	if s.sealed {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []string{"Vault is sealed"}})
		return
	}
	data, status, aerr := s.route(r, method, p, body)
	switch {
	case aerr != nil:
		writeJSON(w, aerr.code, map[string]any{"errors": aerr.msgs})
	case status == http.StatusNoContent:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, status, data)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	if s.sealed {
		code = http.StatusServiceUnavailable
		if c, err := strconv.Atoi(r.URL.Query().Get("sealedcode")); err == nil {
			code = c
		}
	}
	writeJSON(w, code, map[string]any{
		"initialized": true, "sealed": s.sealed, "standby": false, "performance_standby": false,
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

// capabilities resolves a token's capabilities on path (longest match wins).
func capabilities(p Policy, path string) []string {
	best, bestLen := []string{"deny"}, -1
	for pat, caps := range p {
		prefix, glob := strings.CutSuffix(pat, "*")
		if (glob && strings.HasPrefix(path, prefix) || !glob && pat == path) && len(pat) > bestLen {
			best, bestLen = caps, len(pat)
		}
	}
	return best
}

func allowed(p Policy, path, method string) bool {
	need := map[string][]string{
		http.MethodGet: {"read"}, http.MethodPost: {"create", "update"}, http.MethodPut: {"create", "update"},
		http.MethodDelete: {"delete"}, "LIST": {"list"},
	}[method]
	for _, c := range capabilities(p, path) {
		if c == "root" {
			return true
		}
		if c == "deny" {
			return false
		}
		for _, n := range need {
			if c == n {
				return true
			}
		}
	}
	return false
}

func (s *Server) route(r *http.Request, method, p string, body map[string]any) (any, int, *apiError) {
	if p == "auth/approle/login" && method != http.MethodGet {
		return s.approleLogin(body)
	}
	t, aerr := s.auth(r)
	if aerr != nil {
		return nil, 0, aerr
	}
	switch p {
	case "auth/token/lookup-self":
		return s.lookupSelf(t), http.StatusOK, nil
	case "sys/capabilities-self":
		return s.capabilitiesSelf(t, body)
	}
	if !allowed(t.policy, p, method) {
		return nil, 0, fail(http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
	}
	switch {
	case strings.HasPrefix(p, "transit/"):
		return s.transit(method, strings.TrimPrefix(p, "transit/"), body)
	case strings.HasPrefix(p, "secret/"):
		return s.kvRoute(r, method, strings.TrimPrefix(p, "secret/"), body)
	}
	return nil, 0, fail(http.StatusNotFound, "no handler for route \""+p+"\". route entry not found.")
}

func (s *Server) approleLogin(body map[string]any) (any, int, *apiError) {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	role, ok := s.approles[roleID]
	if !ok || role.secretID != secretID {
		return nil, 0, fail(http.StatusBadRequest, "invalid role or secret ID")
	}
	id := s.addToken(role.policy, time.Hour, "approle", []string{"default", role.name})
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

func (s *Server) capabilitiesSelf(t *token, body map[string]any) (any, int, *apiError) {
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
	var all []string
	for _, p := range paths {
		caps := capabilities(t.policy, p)
		data[p] = caps
		all = append(all, caps...)
	}
	data["capabilities"] = all
	resp := envelope(data)
	for k, v := range data { // Vault repeats the map at the top level
		resp[k] = v
	}
	return resp, http.StatusOK, nil
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

func (s *Server) transit(method, p string, body map[string]any) (any, int, *apiError) {
	parts := strings.Split(p, "/")
	switch {
	case parts[0] == "keys" && len(parts) == 2:
		name := parts[1]
		k, ok := s.keys[name]
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
		s.keys[name] = k
		return envelope(s.keyData(k)), http.StatusOK, nil
	case parts[0] == "keys" && len(parts) == 3 && parts[2] == "rotate":
		k, ok := s.keys[parts[1]]
		if !ok {
			return nil, 0, fail(http.StatusBadRequest, "key not found")
		}
		if err := s.newVersion(k); err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
		return envelope(s.keyData(k)), http.StatusOK, nil
	case parts[0] == "keys" && len(parts) == 3 && parts[2] == "config":
		return s.keyConfig(parts[1], body)
	case (parts[0] == "datakey") && len(parts) == 3:
		return s.datakey(parts[1], parts[2], body)
	case parts[0] == "encrypt" && len(parts) == 2:
		pt, err := base64.StdEncoding.DecodeString(str(body["plaintext"]))
		if err != nil {
			return nil, 0, fail(http.StatusBadRequest, "failed to base64-decode plaintext")
		}
		k, aerr := s.encKey(parts[1])
		if aerr != nil {
			return nil, 0, aerr
		}
		ct, err := seal(k, pt)
		if err != nil {
			return nil, 0, fail(http.StatusInternalServerError, err.Error())
		}
		return envelope(map[string]any{"ciphertext": ct, "key_version": k.latest}), http.StatusOK, nil
	case parts[0] == "decrypt" && len(parts) == 2:
		k, ok := s.keys[parts[1]]
		if !ok {
			return nil, 0, fail(http.StatusBadRequest, "encryption key not found")
		}
		pt, aerr := open(k, str(body["ciphertext"]))
		if aerr != nil {
			return nil, 0, aerr
		}
		return envelope(map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}), http.StatusOK, nil
	case parts[0] == "rewrap" && len(parts) == 2:
		k, ok := s.keys[parts[1]]
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
		return s.sign(parts[1], body)
	}
	return nil, 0, fail(http.StatusNotFound, "no handler for route \"transit/"+p+"\". route entry not found.")
}

func str(v any) string { s, _ := v.(string); return s }

func (s *Server) keyConfig(name string, body map[string]any) (any, int, *apiError) {
	k, ok := s.keys[name]
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

func (s *Server) encKey(name string) (*transitKey, *apiError) {
	k, ok := s.keys[name]
	if !ok {
		return nil, fail(http.StatusBadRequest, "encryption key not found")
	}
	if k.typ != "aes256-gcm96" {
		return nil, fail(http.StatusBadRequest, "key type "+k.typ+" does not support encryption")
	}
	return k, nil
}

func (s *Server) datakey(kind, name string, body map[string]any) (any, int, *apiError) {
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
	k, aerr := s.encKey(name)
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

func (s *Server) sign(name string, body map[string]any) (any, int, *apiError) {
	k, ok := s.keys[name]
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

func (s *Server) kvWrite(path string, data map[string]any) int {
	sec, ok := s.kv[path]
	now := s.now()
	if !ok {
		sec = &kvSecret{versions: map[int]*kvVersion{}, created: now}
		s.kv[path] = sec
	}
	sec.current++
	sec.updated = now
	sec.versions[sec.current] = &kvVersion{data: data, created: now}
	return sec.current
}

func versionMeta(n int, v *kvVersion) map[string]any {
	return map[string]any{"created_time": timeStr(v.created), "custom_metadata": nil, "deletion_time": "", "destroyed": v.destroyed, "version": n}
}

func (s *Server) kvRoute(r *http.Request, method, p string, body map[string]any) (any, int, *apiError) {
	kind, path, ok := strings.Cut(p, "/")
	if !ok || path == "" {
		return nil, 0, fail(http.StatusNotFound)
	}
	switch {
	case kind == "data" && method == http.MethodGet:
		sec, ok := s.kv[path]
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
				if sec, ok := s.kv[path]; ok {
					cur = sec.current
				}
				if want != cur {
					return nil, 0, fail(http.StatusBadRequest, "check-and-set parameter did not match the current version")
				}
			}
		}
		n := s.kvWrite(path, data)
		return envelope(versionMeta(n, s.kv[path].versions[n])), http.StatusOK, nil
	case kind == "metadata" && method == http.MethodGet:
		sec, ok := s.kv[path]
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
		sec, ok := s.kv[path]
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
