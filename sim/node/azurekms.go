package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/pkcs12"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// AzureAuthorityHost is the Microsoft Entra authority azure_identity signs in
// at by default. The sim replaces it only through Spec.AzureAuthorityHost, the
// stand-in for name resolution on an offline machine.
const AzureAuthorityHost = "https://login.microsoftonline.com/"

// azureScope is the token scope for Key Vault and Managed HSM (UNCONFIRMED
// string for azure_security_keyvault 0.18; the offline fake does not check it).
const azureScope = "https://vault.azure.net/.default"

// azureProvider is AzureKms: Managed HSM random bytes, then RSA-OAEP-256
// encrypt with the Key Vault key; decrypt through the bare key name
// (components/cloud/azure/src/kms.rs; the path is
// format!("keys/{}/{}/decrypt", name, version) with an empty version in
// azure_security_keyvault, so "keys/<name>//decrypt").
type azureProvider struct {
	tenant, clientID, keyID string
	vaultURL, hsmURL        string
	authority               string
	secret                  string
	certKey                 *rsa.PrivateKey // client-certificate(-path) credential
	certThumb               string
	client                  *http.Client
	down                    func() bool

	mu    sync.Mutex
	token string
	exp   time.Time
}

// newAzureProvider mirrors AzureKms::new: credential priority certificate >
// certificate path > secret; a certificate file that cannot be read fails here.
func (n *Node) newAzureProvider(mk masterKeyConfig) (kmsProvider, *encErr) {
	const what = "new Azure KMS"
	a := mk.Azure
	p := &azureProvider{tenant: str(a, "tenant-id"), clientID: str(a, "client-id"), keyID: mk.KeyID,
		vaultURL: str(a, "keyvault-url"), hsmURL: str(a, "hsm-url"), authority: n.spec.AzureAuthorityHost, down: n.kmsDown}
	if p.authority == "" {
		p.authority = AzureAuthorityHost
	}
	for _, u := range []string{p.vaultURL, p.hsmURL} {
		if _, err := url.ParseRequestURI(u); err != nil {
			// KeyClient::new's url parse error, through CloudError::Other. DERIVED.
			return nil, cloudErr("Other error "+err.Error(), what)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f := n.spec.CloudCAFile; f != "" {
		pemData, err := os.ReadFile(f)
		if err != nil {
			return nil, cloudErr("IO error "+ioErr(err).msg, what)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pemData)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	password := str(a, "client-certificate-password")
	switch {
	case str(a, "client-certificate") != "":
		raw, err := base64.StdEncoding.DecodeString(str(a, "client-certificate"))
		if err != nil {
			return nil, cloudErr("Other error "+err.Error(), what)
		}
		if e := p.loadCertificate(raw, password); e != nil {
			return nil, cloudErr("Other error "+e.Error(), what)
		}
	case str(a, "client-certificate-path") != "":
		raw, err := os.ReadFile(str(a, "client-certificate-path"))
		if err != nil {
			return nil, cloudErr("Other error "+ioErr(err).msg, what)
		}
		if e := p.loadCertificate(raw, password); e != nil {
			return nil, cloudErr("Other error "+e.Error(), what)
		}
	default:
		p.secret = str(a, "client-secret")
	}
	return p, nil
}

// loadCertificate reads a PKCS12 bundle (what TiKV expects) or, for the
// offline demo, a PEM certificate + key.
func (p *azureProvider) loadCertificate(raw []byte, password string) error {
	var key any
	var cert *x509.Certificate
	if k, c, err := pkcs12.Decode(raw, password); err == nil {
		key, cert = k, c
	} else {
		for rest := raw; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch b.Type {
			case "CERTIFICATE":
				cert, _ = x509.ParseCertificate(b.Bytes)
			case "PRIVATE KEY":
				key, _ = x509.ParsePKCS8PrivateKey(b.Bytes)
			}
		}
	}
	rk, ok := key.(*rsa.PrivateKey)
	if cert == nil || !ok {
		return fmt.Errorf("invalid client certificate: want PKCS12 with an RSA key")
	}
	sum := sha1.Sum(cert.Raw) // x5t is the SHA-1 thumbprint (RFC 7515 §4.1.7)
	p.certKey, p.certThumb = rk, base64.RawURLEncoding.EncodeToString(sum[:])
	return nil
}

func (p *azureProvider) name() string { return tikv.StoredVendorAzure }

// accessToken signs in with client credentials (secret, or a certificate's client assertion).
func (p *azureProvider) accessToken(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token != "" && time.Now().Before(p.exp) {
		return p.token, nil
	}
	tokenURL := strings.TrimSuffix(p.authority, "/") + "/" + p.tenant + "/oauth2/v2.0/token"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {p.clientID}, "scope": {azureScope}}
	if p.certKey != nil {
		now := time.Now()
		jti := make([]byte, 16)
		_, _ = rand.Read(jti)
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "x5t": p.certThumb}) + "." + enc(map[string]any{
			"aud": tokenURL, "iss": p.clientID, "sub": p.clientID, "jti": hex.EncodeToString(jti), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
		sum := sha256.Sum256([]byte(signing))
		sig, err := rsa.SignPKCS1v15(rand.Reader, p.certKey, crypto.SHA256, sum[:])
		if err != nil {
			return "", err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", signing+"."+base64.RawURLEncoding.EncodeToString(sig))
	} else {
		form.Set("client_secret", p.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&tok)
	if resp.StatusCode/100 != 2 || tok.AccessToken == "" {
		return "", fmt.Errorf("sign-in to tenant %s failed: HTTP %d %s", p.tenant, resp.StatusCode, tok.Error)
	}
	p.token, p.exp = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second/2)
	return p.token, nil
}

// post sends a Key Vault REST call and decodes {"value": base64url}.
func (p *azureProvider) post(ctx context.Context, base, path string, body map[string]any) ([]byte, error) {
	if p.down() {
		return nil, errKMSDown
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tok, err := p.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + path // Url::set_path replaces the whole path
	u.RawQuery = "api-version=7.4"
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Value string `json:"value"`
		Error struct {
			Code, Message string
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %d %s: %s", resp.StatusCode, out.Error.Code, out.Error.Message)
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(out.Value, "="))
}

func (p *azureProvider) generate(ctx context.Context) ([]byte, []byte, error) {
	rnd, err := p.post(ctx, p.hsmURL, "rng", map[string]any{"count": 32})
	if err != nil {
		return nil, nil, err
	}
	ct, err := p.post(ctx, p.vaultURL, "keys/"+p.keyID+"//encrypt",
		map[string]any{"alg": "RSA-OAEP-256", "value": base64.StdEncoding.EncodeToString(rnd)})
	if err != nil {
		return nil, nil, err
	}
	return rnd, ct, nil
}

func (p *azureProvider) unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	return p.post(ctx, p.vaultURL, "keys/"+p.keyID+"//decrypt",
		map[string]any{"alg": "RSA-OAEP-256", "value": base64.StdEncoding.EncodeToString(wrapped)})
}
