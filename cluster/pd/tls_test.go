package pd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate and key PEM signed by ca.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTLSPD starts the fake PD requiring client certificates signed by ca,
// as PD does when cacert-path is set. It returns host:port.
func startTLSPD(t *testing.T, ca *testCA) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "pd", 2, x509.ExtKeyUsageServerAuth)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := httptest.NewUnstartedServer(newFakePD(t))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// tiupTLSDir lays out TiUP's tls/{ca.crt,client.crt,client.pem} with a client cert from ca.
func tiupTLSDir(t *testing.T, trust, issuer *testCA) string {
	t.Helper()
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, TiUPTLSDir)
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, key := issuer.issue(t, "tikv-ear", 3, x509.ExtKeyUsageClientAuth)
	writeFile(t, tlsDir, TiUPTLSCACert, trust.pem)
	writeFile(t, tlsDir, TiUPTLSClientCert, cert)
	writeFile(t, tlsDir, TiUPTLSClientKey, key)
	return dir
}

func TestMTLS(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	addr := startTLSPD(t, ca)
	c, err := New(Options{Endpoints: []string{addr}, TLS: TiUPTLSFiles(tiupTLSDir(t, ca, ca)), Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Endpoints()[0]; got != "https://"+addr {
		t.Errorf("endpoint = %q, want https:// when TLS is set", got)
	}
	v, err := c.Version(context.Background())
	if err != nil || v != "8.5.2" {
		t.Fatalf("Version over mTLS = %q, %v", v, err)
	}
}

func TestMTLSWrongCA(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	other := newTestCA(t, "other-ca")
	addr := startTLSPD(t, ca)
	c, err := New(Options{Endpoints: []string{addr}, TLS: TiUPTLSFiles(tiupTLSDir(t, other, ca)), Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Version(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want unreachable", err)
	}
	var ue *UnreachableError
	errors.As(err, &ue)
	if !strings.Contains(ue.Hint(), "not signed by the CA file") || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("wrong-CA error not clear: %v", err)
	}
}

func TestMTLSClientCertFromOtherCA(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	other := newTestCA(t, "other-ca")
	addr := startTLSPD(t, ca)
	c, err := New(Options{Endpoints: []string{addr}, TLS: TiUPTLSFiles(tiupTLSDir(t, ca, other)), Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Version(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want unreachable", err)
	}
	if !strings.Contains(ue.Hint(), "client cert") {
		t.Errorf("hint = %q", ue.Hint())
	}
}

func TestTLSFileProblems(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	dir := t.TempDir()
	caPath := writeFile(t, dir, "ca.crt", ca.pem)
	cert, key := ca.issue(t, "c", 5, x509.ExtKeyUsageClientAuth)
	_, otherKey := ca.issue(t, "d", 6, x509.ExtKeyUsageClientAuth)
	certPath := writeFile(t, dir, "client.crt", cert)
	keyPath := writeFile(t, dir, "client.pem", key)
	otherKeyPath := writeFile(t, dir, "other.pem", otherKey)
	junk := writeFile(t, dir, "junk.crt", []byte("hello, not pem\n"))
	missing := filepath.Join(dir, "nope.crt")

	cases := []struct {
		name  string
		files TLSFiles
		path  string
		want  string
	}{
		{"missing CA", TLSFiles{CA: missing}, missing, "missing"},
		{"CA not PEM", TLSFiles{CA: junk}, junk, "not PEM"},
		{"CA is a key", TLSFiles{CA: keyPath}, keyPath, "no CERTIFICATE block"},
		{"key mismatch", TLSFiles{CA: caPath, Cert: certPath, Key: otherKeyPath}, otherKeyPath, "does not match client certificate " + certPath},
		{"swapped", TLSFiles{CA: caPath, Cert: keyPath, Key: certPath}, keyPath, "no parsable CERTIFICATE block"},
		{"cert without key", TLSFiles{CA: caPath, Cert: certPath}, certPath, "without a client key"},
		{"missing key", TLSFiles{CA: caPath, Cert: certPath, Key: missing}, missing, "missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Endpoints: []string{"127.0.0.1:1"}, TLS: tc.files})
			var fe *TLSFileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *TLSFileError", err)
			}
			if fe.Path != tc.path || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("err = %v; want path %s and %q", err, tc.path, tc.want)
			}
			if strings.Contains(err.Error(), "hello, not pem") || strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error leaks file contents: %v", err)
			}
		})
	}
	if _, err := LoadTLS(TLSFiles{CA: caPath, Cert: certPath, Key: keyPath}); err != nil {
		t.Errorf("good files: %v", err)
	}
}
