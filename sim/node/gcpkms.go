package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// GCPKMSEndpoint is TiKV's hard-coded Cloud KMS endpoint (GCP_KMS_ENDPOINT in
// tikv/tikv components/cloud/gcp/src/kms.rs, 8e964719); TiKV ignores the
// master key's `endpoint` for vendor "gcp". The sim replaces it only through
// Spec.GCPKMSEndpoint, the stand-in for name resolution on an offline machine.
const GCPKMSEndpoint = "https://cloudkms.googleapis.com/v1/"

// Source files of the GCP errors (paths as Rust's file!() prints them).
const (
	srcGCPKms    = "components/cloud/gcp/src/kms.rs"
	srcAzureKms  = "components/cloud/azure/src/kms.rs"
	gcpScope     = "https://www.googleapis.com/auth/cloud-platform" // tame_gcs::Scopes::CloudPlatform
	jwtGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"    // RFC 7523, tame_oauth service_account
)

// cloudErr renders a cloud::Error wrapped by cloud_convert_error(msg) as
// create_cloud_backend does ("{cloud error} {msg}", CloudConvertError in
// components/encryption/src/errors.rs): an encryption Error::RetryCodedError,
// displayed "Cloud KMS error …".
func cloudErr(inner, what string) *encErr {
	return &encErr{kind: kindCloud, msg: inner + " " + what}
}

// gcpCredential is the part of a credential file TiKV reads
// (CredentialType and ServiceAccountInfo, components/cloud/gcp/src/client.rs, tame_oauth).
type gcpCredential struct {
	Type        string `json:"type"`
	PrivateKey  string `json:"private_key"`
	ClientEmail string `json:"client_email"`
	TokenURI    string `json:"token_uri"`
}

// gcpProvider is GcpKms: generateRandomBytes (HSM) + encrypt to make a data
// key, decrypt to unwrap it, each a JSON POST to "{endpoint}{name}/:{method}?alt=json"
// with CRC32C fields (kms.rs format_call_url, check_crc32).
type gcpProvider struct {
	endpoint, keyID, location string
	cred                      *gcpCredential // nil: application-default credentials (none on a sim host)
	client                    *http.Client
	down                      func() bool

	mu    sync.Mutex
	token string
	exp   time.Time
}

// newGCPProvider mirrors GcpKms::new: the key-id check, then the credential file.
func (n *Node) newGCPProvider(mk masterKeyConfig) (kmsProvider, *encErr) {
	const what = "new GCP KMS"
	if !gcpKeyID.MatchString(mk.KeyID) {
		return nil, cloudErr("Key error: Wrong master key "+boxErr(srcGCPKms, 62, fmt.Sprintf("invalid key: '%s'", mk.KeyID)), what)
	}
	key := strings.TrimSuffix(mk.KeyID, "/")
	p := &gcpProvider{endpoint: n.spec.GCPKMSEndpoint, keyID: key, client: &http.Client{Timeout: 10 * time.Second}, down: n.kmsDown}
	if p.endpoint == "" {
		p.endpoint = GCPKMSEndpoint
	}
	parts := strings.SplitN(key, "/", 5)
	p.location = strings.Join(parts[:4], "/")
	if path := str(mk.GCP, "credential-file-path"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			// std::fs::read's io::Error through cloud::Error::Io ("IO error {0}"). DERIVED.
			return nil, cloudErr("IO error "+ioErr(err).msg, what)
		}
		var c gcpCredential
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, cloudErr("IO error "+err.Error(), what)
		}
		switch c.Type {
		case "service_account", "authorized_user":
		default:
			// serde's unknown-variant error for CredentialType. DERIVED.
			return nil, cloudErr(fmt.Sprintf("IO error unknown variant `%s`, expected `service_account` or `authorized_user`", c.Type), what)
		}
		p.cred = &c
	}
	return p, nil
}

func (p *gcpProvider) name() string { return tikv.StoredVendorGCP }

// accessToken exchanges a service-account JWT for a token at token_uri (tame_oauth).
func (p *gcpProvider) accessToken(ctx context.Context) (string, error) {
	if p.cred == nil {
		return "", nil // ADC finds nothing on a sim host: requests go unauthenticated
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token != "" && time.Now().Before(p.exp) {
		return p.token, nil
	}
	if p.cred.Type != "service_account" {
		return "", fmt.Errorf("authorized_user credentials are not simulated")
	}
	block, _ := pem.Decode([]byte(p.cred.PrivateKey))
	if block == nil {
		return "", fmt.Errorf("invalid credentials_blob")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("invalid credentials_blob: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return "", fmt.Errorf("invalid credentials_blob: not an RSA key")
	}
	now := time.Now()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": p.cred.ClientEmail, "scope": gcpScope, "aud": p.cred.TokenURI, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	form := url.Values{"grant_type": {jwtGrantType}, "assertion": {signing + "." + base64.RawURLEncoding.EncodeToString(sig)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cred.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("set auth request: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("set auth request: HTTP status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&tok); err != nil {
		return "", fmt.Errorf("set auth parse token: %v", err)
	}
	p.token, p.exp = tok.AccessToken, now.Add(time.Duration(tok.ExpiresIn)*time.Second/2)
	return p.token, nil
}

// call POSTs body to "{endpoint}{name}/:{method}?alt=json" and decodes the answer.
func (p *gcpProvider) call(ctx context.Context, name, method string, body, out any) error {
	if p.down() {
		return errKMSDown
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tok, err := p.accessToken(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint+name+"/:"+method+"?alt=json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP status %d", resp.StatusCode) // tame_gcs HttpStatusError
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}

// crc32c is what kms.rs checks every payload with.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// u32s decodes a CRC32C that Google sends as a JSON string (deseralize_u32_from_str).
type u32s uint32

func (u *u32s) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseUint(strings.Trim(string(b), `"`), 10, 32)
	*u = u32s(v)
	return err
}

func checkCRC(data []byte, want u32s) error {
	if got := crc32c(data); got != uint32(want) {
		return fmt.Errorf("crc32c mismatch, expected %d got %d", uint32(want), got)
	}
	return nil
}

func (p *gcpProvider) generate(ctx context.Context) ([]byte, []byte, error) {
	var rb struct {
		Data       []byte `json:"data"`
		DataCrc32c u32s   `json:"dataCrc32c"`
	}
	if err := p.call(ctx, p.location, "generateRandomBytes", map[string]any{"lengthBytes": 32, "protectionLevel": "HSM"}, &rb); err != nil {
		return nil, nil, err
	}
	if err := checkCRC(rb.Data, rb.DataCrc32c); err != nil {
		return nil, nil, err
	}
	var enc struct {
		Ciphertext       []byte `json:"ciphertext"`
		CiphertextCrc32c u32s   `json:"ciphertextCrc32c"`
	}
	if err := p.call(ctx, p.keyID, "encrypt", map[string]any{"plaintext": rb.Data, "plaintextCrc32c": crc32c(rb.Data)}, &enc); err != nil {
		return nil, nil, err
	}
	if err := checkCRC(enc.Ciphertext, enc.CiphertextCrc32c); err != nil {
		return nil, nil, err
	}
	return rb.Data, enc.Ciphertext, nil
}

func (p *gcpProvider) unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	var dec struct {
		Plaintext       []byte `json:"plaintext"`
		PlaintextCrc32c u32s   `json:"plaintextCrc32c"`
	}
	if err := p.call(ctx, p.keyID, "decrypt", map[string]any{"ciphertext": wrapped, "ciphertextCrc32c": crc32c(wrapped)}, &dec); err != nil {
		return nil, err
	}
	if err := checkCRC(dec.Plaintext, dec.PlaintextCrc32c); err != nil {
		return nil, err
	}
	return dec.Plaintext, nil
}
