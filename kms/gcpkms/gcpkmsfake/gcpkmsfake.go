// Package gcpkmsfake is an in-process server that speaks the Cloud KMS v1 REST
// wire format, for tests and for the offline demo (`tikv-ear sim up --kms gcp`).
// No GCP emulator can be installed here (reference kms-and-evidence.md §6:
// gcp-kms-emulator and fake-cloud-kms are not available), so it implements
// exactly what tikv-ear's client (cloud.google.com/go/kms REST) and TiKV's own
// GCP KMS client (tikv/tikv components/cloud/gcp/src/kms.rs) call:
//
//   - GET    v1/{cryptoKey}, v1/{cryptoKey}/cryptoKeyVersions/{n}
//   - POST   v1/{cryptoKey}/cryptoKeyVersions (new version, ENABLED)
//   - PATCH  v1/{cryptoKey}/cryptoKeyVersions/{n}?updateMask=state
//   - POST   v1/{cryptoKey}:updatePrimaryVersion, :encrypt, :decrypt, :testIamPermissions
//   - POST   v1/projects/P/locations/L:generateRandomBytes
//   - POST   token (OAuth 2.0 JWT-bearer grant, RFC 7523) for service-account files
//
// TiKV writes the method as "{key}/:encrypt?alt=json" (format_call_url in
// kms.rs, tikv/tikv 8e964719); the Go client writes "{key}:encrypt?$alt=json;
// enum-encoding=int". Both are accepted; enums are answered as numbers only when
// the client asks for enum-encoding=int. Bodies are protojson of the
// google.cloud.kms.v1 messages (bytes base64, int64 CRC32C wrappers as strings),
// errors are {"error":{"code","message","status"}} as Google APIs answer them.
//
// Encryption is real: each CryptoKeyVersion has its own AES-256-GCM key and the
// ciphertext carries the version number, so a ciphertext made under an older
// primary still decrypts, and decrypting under a DISABLED version fails with
// FAILED_PRECONDITION. With RequireAuth, every API call needs a bearer token
// from the token endpoint or a self-signed JWT of a service account the server
// issued (ServiceAccountJSON). The server binds 127.0.0.1 only. Key material
// never leaves the process.
package gcpkmsfake

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// IAM permissions the handlers check (Cloud KMS permissions reference).
const (
	PermGet             = "cloudkms.cryptoKeys.get"
	PermUpdate          = "cloudkms.cryptoKeys.update"
	PermEncrypt         = "cloudkms.cryptoKeyVersions.useToEncrypt"
	PermDecrypt         = "cloudkms.cryptoKeyVersions.useToDecrypt"
	PermCreateVersion   = "cloudkms.cryptoKeyVersions.create"
	PermUpdateVersion   = "cloudkms.cryptoKeyVersions.update"
	PermGetVersion      = "cloudkms.cryptoKeyVersions.get"
	PermRandomBytes     = "cloudkms.locations.generateRandomBytes"
	jwtBearerGrant      = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	versionCiphertextSz = 4 + 12 + 16 // version number, GCM nonce, GCM tag
)

// Key describes a CryptoKey to create.
type Key struct {
	// Purpose defaults to ENCRYPT_DECRYPT.
	Purpose kmspb.CryptoKey_CryptoKeyPurpose
	// ProtectionLevel defaults to SOFTWARE.
	ProtectionLevel kmspb.ProtectionLevel
	// RotationPeriod, when set, is reported with a next rotation time.
	RotationPeriod time.Duration
}

type version struct {
	n       int
	state   kmspb.CryptoKeyVersion_CryptoKeyVersionState
	created time.Time
	aead    cipher.AEAD
}

type cryptoKey struct {
	name     string
	spec     Key
	created  time.Time
	versions []*version // versions[i].n == i+1
	primary  int        // version number; 0 = none
}

// Server is a running fake Cloud KMS.
type Server struct {
	// URL is the endpoint root, http://127.0.0.1:PORT (the API is under /v1/).
	URL string
	// TokenURI is where service-account credentials exchange their JWT.
	TokenURI string

	srv         *httptest.Server
	requireAuth bool

	mu       sync.Mutex
	keys     map[string]*cryptoKey
	denied   map[string]bool
	accounts map[string]*rsa.PublicKey // client_email → public key
	tokens   map[string]string         // access token → client_email
	calls    []string
}

// Options configure Start.
type Options struct {
	// RequireAuth makes every v1 call need a bearer token (see package comment).
	RequireAuth bool
}

// Start serves a fake on 127.0.0.1; Close stops it.
func Start(opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gcp kms fake: listening on 127.0.0.1: %w", err)
	}
	s := &Server{requireAuth: opts.RequireAuth, keys: map[string]*cryptoKey{}, denied: map[string]bool{},
		accounts: map[string]*rsa.PublicKey{}, tokens: map[string]string{}}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	s.URL = s.srv.URL
	s.TokenURI = s.URL + "/token"
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// keyPattern is TiKV's key-id pattern (components/cloud/gcp/src/kms.rs KEY_ID_PATTERN).
var keyPattern = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/cryptoKeys/([^/]+)$`)

// CreateKey adds a CryptoKey with one ENABLED primary version.
func (s *Server) CreateKey(name string, k Key) error {
	if !keyPattern.MatchString(name) {
		return fmt.Errorf("gcp kms fake: %q is not projects/P/locations/L/keyRings/R/cryptoKeys/K", name)
	}
	if k.Purpose == kmspb.CryptoKey_CRYPTO_KEY_PURPOSE_UNSPECIFIED {
		k.Purpose = kmspb.CryptoKey_ENCRYPT_DECRYPT
	}
	if k.ProtectionLevel == kmspb.ProtectionLevel_PROTECTION_LEVEL_UNSPECIFIED {
		k.ProtectionLevel = kmspb.ProtectionLevel_SOFTWARE
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[name]; ok {
		return fmt.Errorf("gcp kms fake: key %s exists", name)
	}
	ck := &cryptoKey{name: name, spec: k, created: time.Now().UTC()}
	if _, err := ck.newVersion(); err != nil {
		return err
	}
	ck.primary = 1
	s.keys[name] = ck
	return nil
}

// SetVersionState sets a version's state (e.g. DISABLED) as an operator would.
func (s *Server) SetVersionState(key string, n int, st kmspb.CryptoKeyVersion_CryptoKeyVersionState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ck, ok := s.keys[key]
	if !ok || n < 1 || n > len(ck.versions) {
		return fmt.Errorf("gcp kms fake: no version %d of %s", n, key)
	}
	ck.versions[n-1].state = st
	return nil
}

// Deny removes an IAM permission from every caller (testIamPermissions omits it
// and the calls that need it answer 403 PERMISSION_DENIED).
func (s *Server) Deny(perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[perm] = true
}

// Calls returns "METHOD path" of every API call so far, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// ServiceAccountJSON makes a service-account credential file whose token_uri
// is this server; the server accepts its tokens and its self-signed JWTs.
func (s *Server) ServiceAccountJSON(email, project string) ([]byte, error) {
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("gcp kms fake: generating a service-account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return nil, err
	}
	kid := make([]byte, 20)
	if _, err := rand.Read(kid); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.accounts[email] = &pk.PublicKey
	s.mu.Unlock()
	// Field names of a Google service-account key file (the "type" switch is
	// CredentialType in tikv/tikv components/cloud/gcp/src/client.rs).
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              hex.EncodeToString(kid),
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    s.URL + "/auth",
		"token_uri":                   s.TokenURI,
		"auth_provider_x509_cert_url": s.URL + "/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
}

func (ck *cryptoKey) newVersion() (*version, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	v := &version{n: len(ck.versions) + 1, state: kmspb.CryptoKeyVersion_ENABLED, created: time.Now().UTC(), aead: g}
	ck.versions = append(ck.versions, v)
	return v, nil
}

func (ck *cryptoKey) versionPB(v *version) *kmspb.CryptoKeyVersion {
	return &kmspb.CryptoKeyVersion{
		Name:            ck.name + "/cryptoKeyVersions/" + strconv.Itoa(v.n),
		State:           v.state,
		ProtectionLevel: ck.spec.ProtectionLevel,
		Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		CreateTime:      timestamppb.New(v.created),
		GenerateTime:    timestamppb.New(v.created),
	}
}

func (ck *cryptoKey) pb() *kmspb.CryptoKey {
	k := &kmspb.CryptoKey{
		Name: ck.name, Purpose: ck.spec.Purpose, CreateTime: timestamppb.New(ck.created),
		VersionTemplate: &kmspb.CryptoKeyVersionTemplate{ProtectionLevel: ck.spec.ProtectionLevel,
			Algorithm: kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION},
	}
	if ck.primary > 0 {
		k.Primary = ck.versionPB(ck.versions[ck.primary-1])
	}
	if ck.spec.RotationPeriod > 0 {
		k.RotationSchedule = &kmspb.CryptoKey_RotationPeriod{RotationPeriod: durationpb.New(ck.spec.RotationPeriod)}
		last := ck.versions[len(ck.versions)-1].created
		k.NextRotationTime = timestamppb.New(last.Add(ck.spec.RotationPeriod))
	}
	return k
}

// apiError is a Google API error (google.rpc.Status as REST returns it).
type apiError struct {
	code   int
	status string
	msg    string
}

func errf(code int, status, format string, args ...any) *apiError {
	return &apiError{code: code, status: status, msg: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": e.code, "message": e.msg, "status": e.status}})
}

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// ServeHTTP routes the REST calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeError(w, errf(404, "NOT_FOUND", "The requested URL %s was not found on this server.", r.URL.Path))
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	if s.requireAuth {
		if e := s.authenticate(r); e != nil {
			writeError(w, e)
			return
		}
	}
	// enum-encoding=int is what the Go REST client asks for ($alt=json;enum-encoding=int).
	numbers := strings.Contains(r.URL.Query().Get("$alt"), "enum-encoding=int")
	name, method, _ := strings.Cut(rest, ":")
	name = strings.TrimSuffix(name, "/") // TiKV's "{key}/:encrypt" form
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, errf(400, "INVALID_ARGUMENT", "reading the request: %v", err))
		return
	}
	resp, e := s.dispatch(r.Method, name, method, body, r.URL.Query())
	if e != nil {
		writeError(w, e)
		return
	}
	out, err := protojson.MarshalOptions{UseEnumNumbers: numbers}.Marshal(resp)
	if err != nil {
		writeError(w, errf(500, "INTERNAL", "encoding the response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(out)
}

func (s *Server) dispatch(httpMethod, name, method string, body []byte, q map[string][]string) (proto.Message, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parse := func(m proto.Message) *apiError {
		if len(body) == 0 {
			return nil
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, m); err != nil {
			return errf(400, "INVALID_ARGUMENT", "Invalid JSON payload received. %v", err)
		}
		return nil
	}
	need := func(perm, resource string) *apiError {
		if s.denied[perm] {
			return errf(403, "PERMISSION_DENIED", "Permission '%s' denied on resource '%s' (or it may not exist).", perm, resource)
		}
		return nil
	}
	if method == "generateRandomBytes" {
		req := &kmspb.GenerateRandomBytesRequest{}
		if e := parse(req); e != nil {
			return nil, e
		}
		if e := need(PermRandomBytes, name); e != nil {
			return nil, e
		}
		if req.GetLengthBytes() < 8 || req.GetLengthBytes() > 1024 {
			return nil, errf(400, "INVALID_ARGUMENT", "length_bytes must be between 8 and 1024")
		}
		if req.GetProtectionLevel() != kmspb.ProtectionLevel_HSM {
			return nil, errf(400, "INVALID_ARGUMENT", "protection_level must be HSM")
		}
		data := make([]byte, req.GetLengthBytes())
		if _, err := rand.Read(data); err != nil {
			return nil, errf(500, "INTERNAL", "%v", err)
		}
		return &kmspb.GenerateRandomBytesResponse{Data: data, DataCrc32C: wrapperspb.Int64(crc(data))}, nil
	}
	keyName, verPart, isVersion := strings.Cut(name, "/cryptoKeyVersions")
	ck, ok := s.keys[keyName]
	if !ok {
		return nil, errf(404, "NOT_FOUND", "%s not found.", keyName)
	}
	if isVersion {
		return s.versionCall(ck, httpMethod, strings.TrimPrefix(verPart, "/"), body, q, parse, need)
	}
	switch {
	case httpMethod == http.MethodGet && method == "":
		if e := need(PermGet, name); e != nil {
			return nil, e
		}
		return ck.pb(), nil
	case method == "encrypt":
		req := &kmspb.EncryptRequest{}
		if e := parse(req); e != nil {
			return nil, e
		}
		if e := need(PermEncrypt, name); e != nil {
			return nil, e
		}
		if ck.spec.Purpose != kmspb.CryptoKey_ENCRYPT_DECRYPT {
			return nil, errf(400, "FAILED_PRECONDITION", "%s does not have purpose ENCRYPT_DECRYPT.", name)
		}
		if c := req.GetPlaintextCrc32C(); c != nil && c.GetValue() != crc(req.GetPlaintext()) {
			return nil, errf(400, "INVALID_ARGUMENT", "The checksum in field plaintext_crc32c did not match the data in field plaintext.")
		}
		v := ck.versions[ck.primary-1]
		if v.state != kmspb.CryptoKeyVersion_ENABLED {
			return nil, errf(400, "FAILED_PRECONDITION", "%s is not enabled, current state is: %s.", ck.versionPB(v).GetName(), v.state)
		}
		nonce := make([]byte, 12)
		if _, err := rand.Read(nonce); err != nil {
			return nil, errf(500, "INTERNAL", "%v", err)
		}
		ct := binary.BigEndian.AppendUint32(nil, uint32(v.n))
		ct = append(ct, nonce...)
		ct = v.aead.Seal(ct, nonce, req.GetPlaintext(), req.GetAdditionalAuthenticatedData())
		return &kmspb.EncryptResponse{Name: ck.versionPB(v).GetName(), Ciphertext: ct, CiphertextCrc32C: wrapperspb.Int64(crc(ct)),
			VerifiedPlaintextCrc32C: req.GetPlaintextCrc32C() != nil, ProtectionLevel: ck.spec.ProtectionLevel}, nil
	case method == "decrypt":
		req := &kmspb.DecryptRequest{}
		if e := parse(req); e != nil {
			return nil, e
		}
		if e := need(PermDecrypt, name); e != nil {
			return nil, e
		}
		ct := req.GetCiphertext()
		if c := req.GetCiphertextCrc32C(); c != nil && c.GetValue() != crc(ct) {
			return nil, errf(400, "INVALID_ARGUMENT", "The checksum in field ciphertext_crc32c did not match the data in field ciphertext.")
		}
		invalid := errf(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
		if len(ct) < versionCiphertextSz {
			return nil, invalid
		}
		n := int(binary.BigEndian.Uint32(ct))
		if n < 1 || n > len(ck.versions) {
			return nil, invalid
		}
		v := ck.versions[n-1]
		if v.state != kmspb.CryptoKeyVersion_ENABLED {
			return nil, errf(400, "FAILED_PRECONDITION", "%s is not enabled, current state is: %s.", ck.versionPB(v).GetName(), v.state)
		}
		pt, err := v.aead.Open(nil, ct[4:16], ct[16:], req.GetAdditionalAuthenticatedData())
		if err != nil {
			return nil, invalid
		}
		return &kmspb.DecryptResponse{Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc(pt)), UsedPrimary: n == ck.primary,
			ProtectionLevel: ck.spec.ProtectionLevel}, nil
	case method == "updatePrimaryVersion":
		req := &kmspb.UpdateCryptoKeyPrimaryVersionRequest{}
		if e := parse(req); e != nil {
			return nil, e
		}
		if e := need(PermUpdate, name); e != nil {
			return nil, e
		}
		n, err := strconv.Atoi(req.GetCryptoKeyVersionId())
		if err != nil || n < 1 || n > len(ck.versions) {
			return nil, errf(404, "NOT_FOUND", "%s/cryptoKeyVersions/%s not found.", name, req.GetCryptoKeyVersionId())
		}
		if ck.versions[n-1].state != kmspb.CryptoKeyVersion_ENABLED {
			return nil, errf(400, "FAILED_PRECONDITION", "%s/cryptoKeyVersions/%d is not enabled.", name, n)
		}
		ck.primary = n
		return ck.pb(), nil
	case method == "testIamPermissions":
		req := &iampb.TestIamPermissionsRequest{}
		if e := parse(req); e != nil {
			return nil, e
		}
		out := &iampb.TestIamPermissionsResponse{}
		for _, p := range req.GetPermissions() {
			if !s.denied[p] {
				out.Permissions = append(out.Permissions, p)
			}
		}
		return out, nil
	}
	return nil, errf(404, "NOT_FOUND", "no method %s %s:%s", httpMethod, name, method)
}

func (s *Server) versionCall(ck *cryptoKey, httpMethod, ver string, body []byte, q map[string][]string,
	parse func(proto.Message) *apiError, need func(string, string) *apiError) (proto.Message, *apiError) {
	if ver == "" {
		if httpMethod != http.MethodPost {
			return nil, errf(404, "NOT_FOUND", "listing versions is not implemented by this fake")
		}
		if e := need(PermCreateVersion, ck.name); e != nil {
			return nil, e
		}
		v, err := ck.newVersion()
		if err != nil {
			return nil, errf(500, "INTERNAL", "%v", err)
		}
		return ck.versionPB(v), nil
	}
	n, err := strconv.Atoi(ver)
	if err != nil || n < 1 || n > len(ck.versions) {
		return nil, errf(404, "NOT_FOUND", "%s/cryptoKeyVersions/%s not found.", ck.name, ver)
	}
	v := ck.versions[n-1]
	switch httpMethod {
	case http.MethodGet:
		if e := need(PermGetVersion, ck.name); e != nil {
			return nil, e
		}
	case http.MethodPatch:
		if e := need(PermUpdateVersion, ck.name); e != nil {
			return nil, e
		}
		req := &kmspb.CryptoKeyVersion{}
		if e := parse(req); e != nil {
			return nil, e
		}
		if m := strings.Join(q["updateMask"], ","); m != "state" {
			return nil, errf(400, "INVALID_ARGUMENT", "updateMask %q: this fake updates only state", m)
		}
		if st := req.GetState(); st != kmspb.CryptoKeyVersion_ENABLED && st != kmspb.CryptoKeyVersion_DISABLED {
			return nil, errf(400, "INVALID_ARGUMENT", "state must be ENABLED or DISABLED")
		}
		// Cloud KMS allows disabling the primary version; encrypt then fails.
		v.state = req.GetState()
	default:
		return nil, errf(405, "INVALID_ARGUMENT", "method %s not allowed", httpMethod)
	}
	return ck.versionPB(v), nil
}

// ---- OAuth ----

// verifyJWT checks an RS256 JWT signed by a known service account and returns its claims.
func (s *Server) verifyJWT(tok string) (map[string]any, string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, "", fmt.Errorf("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, "", fmt.Errorf("JWT payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, "", fmt.Errorf("JWT claims: %w", err)
	}
	iss, _ := claims["iss"].(string)
	pub, ok := s.accounts[iss]
	if !ok {
		return nil, "", fmt.Errorf("unknown issuer %q", iss)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, "", fmt.Errorf("JWT signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, "", fmt.Errorf("JWT signature does not verify")
	}
	if exp, ok := claims["exp"].(float64); ok && time.Unix(int64(exp), 0).Before(time.Now()) {
		return nil, "", fmt.Errorf("JWT expired")
	}
	return claims, iss, nil
}

func (s *Server) authenticate(r *http.Request) *apiError {
	unauth := errf(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return unauth
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[tok]; ok {
		return nil
	}
	if _, _, err := s.verifyJWT(tok); err == nil { // a self-signed JWT (Google auth libraries send these)
		return nil
	}
	return unauth
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != jwtBearerGrant {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"error":"unsupported_grant_type","error_description":"Invalid grant_type"}`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	claims, iss, err := s.verifyJWT(r.PostForm.Get("assertion"))
	if err == nil && claims["aud"] != s.TokenURI {
		err = fmt.Errorf("aud %v is not %s", claims["aud"], s.TokenURI)
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": err.Error()})
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.fake-" + base64.RawURLEncoding.EncodeToString(b)
	s.tokens[tok] = iss
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
}
