// Package azurekmsfake is an in-process Azure Key Vault + Managed HSM +
// Microsoft Entra token endpoint over HTTPS, for tests and for the offline demo
// (`tikv-ear sim up --cloud-kms azure`). No Azure emulator can be installed here
// (reference kms-and-evidence.md §8), so it implements what tikv-ear's client
// (azkeys + azidentity) and TiKV's Azure KMS (tikv/tikv
// components/cloud/azure/src/kms.rs, azure_security_keyvault 0.18) call:
//
//   - POST {tenant}/oauth2/v2.0/token: client_credentials with client_secret or
//     a client_assertion JWT signed by a registered certificate's key
//   - GET  {tenant}/v2.0/.well-known/openid-configuration (MSAL authority metadata)
//   - GET  keys/{name}[/{version}]; POST keys/{name}/rotate; POST keys/{name}/create
//   - POST keys/{name}[/{version}]/encrypt|decrypt|wrapkey|unwrapkey (RSA-OAEP-256, RSA-OAEP)
//   - POST rng (Managed HSM random bytes)
//
// As Key Vault does, a request without a bearer token gets 401 with a
// WWW-Authenticate challenge naming the authority and resource; an operation
// without a version (TiKV writes "keys/{name}//decrypt") uses the key's latest
// version, so a ciphertext made before a rotation no longer decrypts through
// the bare key name. Values are base64url (standard base64 is accepted too, as
// TiKV's SDK sends it). Errors are {"error":{"code","message"}}. Three TLS
// listeners on 127.0.0.1 share one state: login, vault and managed HSM.
package azurekmsfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Tenant is the directory the fake serves.
const Tenant = "00000000-0000-0000-0000-00000000a2ce"

// Operations Deny can refuse.
const (
	OpGet     = "get"
	OpEncrypt = "encrypt"
	OpDecrypt = "decrypt"
	OpWrap    = "wrapKey"
	OpUnwrap  = "unwrapKey"
	OpRotate  = "rotate"
	OpCreate  = "create"
	OpRandom  = "random"
)

type version struct {
	id      string
	priv    *rsa.PrivateKey
	created time.Time
	enabled bool
}

type key struct {
	name     string
	versions []*version // last = latest
}

// Server is a running fake.
type Server struct {
	// AuthorityHost is the login endpoint root (https://127.0.0.1:P/).
	AuthorityHost string
	// VaultURL and HSMURL are the Key Vault and Managed HSM roots (https://127.0.0.1:P/).
	VaultURL, HSMURL string
	// CAPEM is the certificate every listener serves; trust it to connect.
	CAPEM []byte

	login, vault, hsm *httptest.Server

	mu      sync.Mutex
	keys    map[string]*key
	secrets map[string]string         // client id → secret
	certs   map[string]*rsa.PublicKey // client id → certificate key
	tokens  map[string]bool
	denied  map[string]bool
	calls   []string
}

// Start serves the fake on three TLS listeners; Close stops it.
func Start() (*Server, error) {
	s := &Server{keys: map[string]*key{}, secrets: map[string]string{}, certs: map[string]*rsa.PublicKey{},
		tokens: map[string]bool{}, denied: map[string]bool{}}
	start := func(h http.HandlerFunc) (*httptest.Server, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("azure kms fake: listening on 127.0.0.1: %w", err)
		}
		srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: log.New(io.Discard, "", 0)}} // an untrusting client's handshake error is the test's to report
		srv.StartTLS()
		return srv, nil
	}
	var err error
	if s.login, err = start(s.serveLogin); err != nil {
		return nil, err
	}
	if s.vault, err = start(func(w http.ResponseWriter, r *http.Request) { s.serveVault(w, r, false) }); err != nil {
		s.login.Close()
		return nil, err
	}
	if s.hsm, err = start(func(w http.ResponseWriter, r *http.Request) { s.serveVault(w, r, true) }); err != nil {
		s.login.Close()
		s.vault.Close()
		return nil, err
	}
	s.AuthorityHost, s.VaultURL, s.HSMURL = s.login.URL+"/", s.vault.URL+"/", s.hsm.URL+"/"
	s.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.vault.Certificate().Raw})
	return s, nil
}

// Close stops every listener.
func (s *Server) Close() {
	s.login.Close()
	s.vault.Close()
	s.hsm.Close()
}

// Client returns an HTTP client that trusts the fake.
func (s *Server) Client() *http.Client { return s.vault.Client() }

// CreateKey adds an RSA-2048 key with one version.
func (s *Server) CreateKey(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[name]; ok {
		return fmt.Errorf("azure kms fake: key %s exists", name)
	}
	k := &key{name: name}
	if err := k.addVersion(); err != nil {
		return err
	}
	s.keys[name] = k
	return nil
}

// SetEnabled enables or disables a key's latest version.
func (s *Server) SetEnabled(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[name]; ok {
		k.versions[len(k.versions)-1].enabled = on
	}
}

// AddClientSecret registers an application with a client secret and returns the secret.
func (s *Server) AddClientSecret(clientID string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	secret := "sim~" + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.secrets[clientID] = secret
	s.mu.Unlock()
	return secret
}

// AddClientCertificate registers an application with a self-signed
// certificate and returns it and its key as one PEM (CERTIFICATE + PRIVATE KEY).
func (s *Server) AddClientCertificate(clientID string) ([]byte, error) {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	tmpl.Subject.CommonName = clientID
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &pk.PublicKey, pk)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.certs[clientID] = &pk.PublicKey
	s.mu.Unlock()
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...), nil
}

// Deny refuses an operation (Op*) with 403 Forbidden.
func (s *Server) Deny(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[op] = true
}

// Calls returns "METHOD host-kind path" of every vault and HSM call so far.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (k *key) addVersion() error {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	k.versions = append(k.versions, &version{id: hex.EncodeToString(b), priv: pk, created: time.Now().UTC(), enabled: true})
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func vaultError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

// ---- login ----

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	base := s.login.URL + "/" + Tenant
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
		writeJSON(w, 200, map[string]any{
			"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer": base + "/v2.0", "jwks_uri": base + "/discovery/v2.0/keys", "tenant_region_scope": "NA",
			"response_types_supported": []string{"code", "id_token", "code id_token", "id_token token"},
		})
	case r.Method == http.MethodPost && r.URL.Path == "/"+Tenant+"/oauth2/v2.0/token":
		s.token(w, r)
	default:
		writeJSON(w, 400, map[string]any{"error": "invalid_request",
			"error_description": fmt.Sprintf("AADSTS90002: Tenant or endpoint %q not found.", r.URL.Path)})
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	f := r.PostForm
	id := f.Get("client_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := false
	switch {
	case f.Get("grant_type") != "client_credentials":
	case f.Get("client_secret") != "":
		ok = s.secrets[id] != "" && s.secrets[id] == f.Get("client_secret")
	case f.Get("client_assertion") != "":
		ok = s.verifyAssertion(id, f.Get("client_assertion"))
	}
	if !ok {
		writeJSON(w, 401, map[string]any{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + id + "'.",
			"error_codes":       []int{7000215}})
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJ.sim." + base64.RawURLEncoding.EncodeToString(b)
	s.tokens[tok] = true
	writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// verifyAssertion checks an RS256 (or PS256) client assertion signed by the client's certificate key.
func (s *Server) verifyAssertion(clientID, jwt string) bool {
	pub := s.certs[clientID]
	parts := strings.Split(jwt, ".")
	if pub == nil || len(parts) != 3 {
		return false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	sig, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch h.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, nil) == nil
	}
	return false
}

// ---- vault and HSM ----

func b64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func (s *Server) serveVault(w http.ResponseWriter, r *http.Request, hsm bool) {
	root := s.vault.URL
	if hsm {
		root = s.hsm.URL
	}
	tok, hasTok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, r.Method+" "+map[bool]string{false: "vault", true: "hsm"}[hsm]+" "+r.URL.Path)
	if !hasTok || !s.tokens[tok] {
		// The Key Vault challenge (azkeys and azure_security_keyvault parse it).
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s%s", resource="https://vault.azure.net"`, s.AuthorityHost, Tenant))
		vaultError(w, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		vaultError(w, 400, "BadParameter", err.Error())
		return
	}
	var in struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
		Count int    `json:"count"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			vaultError(w, 400, "BadParameter", "Property has invalid value")
			return
		}
	}
	deny := func(op string) bool {
		if s.denied[op] {
			vaultError(w, 403, "Forbidden", fmt.Sprintf("Operation %s is not permitted on this key.", op))
			return true
		}
		return false
	}
	path := strings.Trim(r.URL.Path, "/")
	if hsm && path == "rng" && r.Method == http.MethodPost {
		if deny(OpRandom) {
			return
		}
		if in.Count < 1 || in.Count > 128 {
			vaultError(w, 400, "BadParameter", "count must be between 1 and 128")
			return
		}
		out := make([]byte, in.Count)
		_, _ = rand.Read(out)
		writeJSON(w, 200, map[string]string{"value": base64.RawURLEncoding.EncodeToString(out)})
		return
	}
	seg := strings.Split(strings.TrimPrefix(path, "keys/"), "/") // name, [version], [op]; "name//op" keeps an empty version
	if !strings.HasPrefix(path, "keys/") || len(seg) == 0 || seg[0] == "" {
		vaultError(w, 404, "NotFound", "no route "+r.URL.Path)
		return
	}
	k, ok := s.keys[seg[0]]
	op, ver := "", ""
	switch len(seg) {
	case 1:
	case 2:
		if r.Method == http.MethodPost {
			op = seg[1]
		} else {
			ver = seg[1]
		}
	default:
		ver, op = seg[1], seg[2]
	}
	if op == "create" {
		if deny(OpCreate) {
			return
		}
		if ok {
			vaultError(w, 409, "Conflict", "key "+seg[0]+" exists")
			return
		}
		k = &key{name: seg[0]}
		if err := k.addVersion(); err != nil {
			vaultError(w, 500, "InternalError", err.Error())
			return
		}
		s.keys[seg[0]] = k
		writeJSON(w, 200, s.bundle(root, k, k.versions[len(k.versions)-1]))
		return
	}
	if !ok {
		vaultError(w, 404, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s was not found in this key vault.", seg[0]))
		return
	}
	v := k.versions[len(k.versions)-1]
	if ver != "" {
		v = nil
		for _, c := range k.versions {
			if c.id == ver {
				v = c
			}
		}
		if v == nil {
			vaultError(w, 404, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s/%s was not found in this key vault.", seg[0], ver))
			return
		}
	}
	kid := root + "/keys/" + k.name + "/" + v.id
	switch {
	case r.Method == http.MethodGet && op == "":
		if deny(OpGet) {
			return
		}
		writeJSON(w, 200, s.bundle(root, k, v))
	case op == "rotate":
		if deny(OpRotate) {
			return
		}
		if err := k.addVersion(); err != nil {
			vaultError(w, 500, "InternalError", err.Error())
			return
		}
		writeJSON(w, 200, s.bundle(root, k, k.versions[len(k.versions)-1]))
	case op == "encrypt" || op == "wrapkey" || op == "decrypt" || op == "unwrapkey":
		perm := map[string]string{"encrypt": OpEncrypt, "wrapkey": OpWrap, "decrypt": OpDecrypt, "unwrapkey": OpUnwrap}[op]
		if deny(perm) {
			return
		}
		if !v.enabled {
			vaultError(w, 403, "Forbidden", "Operation "+perm+" is not allowed on a disabled key.")
			return
		}
		var h crypto.Hash
		switch in.Alg {
		case "RSA-OAEP-256":
			h = crypto.SHA256
		case "RSA-OAEP":
			h = crypto.SHA1
		default:
			vaultError(w, 400, "BadParameter", "Invalid algorithm: "+in.Alg)
			return
		}
		data, err := b64(in.Value)
		if err != nil {
			vaultError(w, 400, "BadParameter", "Property value has invalid value")
			return
		}
		var out []byte
		if op == "encrypt" || op == "wrapkey" {
			out, err = rsa.EncryptOAEP(h.New(), rand.Reader, &v.priv.PublicKey, data, nil)
		} else {
			out, err = rsa.DecryptOAEP(h.New(), nil, v.priv, data, nil)
			if err != nil {
				vaultError(w, 400, "BadParameter", "Error occurred while decrypting the ciphertext.")
				return
			}
		}
		if err != nil {
			vaultError(w, 400, "BadParameter", err.Error())
			return
		}
		writeJSON(w, 200, map[string]string{"kid": kid, "value": base64.RawURLEncoding.EncodeToString(out)})
	default:
		vaultError(w, 405, "BadParameter", "operation "+op+" is not implemented by this fake")
	}
}

func (s *Server) bundle(root string, k *key, v *version) map[string]any {
	pub := v.priv.PublicKey
	e := big.NewInt(int64(pub.E)).Bytes()
	return map[string]any{
		"key": map[string]any{
			"kid": root + "/keys/" + k.name + "/" + v.id, "kty": "RSA",
			"key_ops": []string{"encrypt", "decrypt", "wrapKey", "unwrapKey"},
			"n":       base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(e),
		},
		"attributes": map[string]any{"enabled": v.enabled, "created": v.created.Unix(), "updated": v.created.Unix(),
			"recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
	}
}
