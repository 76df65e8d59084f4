package pd

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TiUP's TLS client material inside a cluster directory
// (pingcap/tiup pkg/cluster/spec/profile.go TLSCACert, TLSClientCert, TLSClientKey).
const (
	TiUPTLSDir        = "tls"
	TiUPTLSCACert     = "ca.crt"
	TiUPTLSClientCert = "client.crt"
	TiUPTLSClientKey  = "client.pem"
)

// TLSFiles names the PEM files for mTLS to PD. PD requires a client
// certificate whenever its [security] cacert-path is set (reference §1.0).
type TLSFiles struct {
	CA   string // CA certificate(s) that signed PD's server certificate
	Cert string // client certificate
	Key  string // client private key
}

// Empty reports whether no file is set.
func (f TLSFiles) Empty() bool { return f.CA == "" && f.Cert == "" && f.Key == "" }

// TiUPTLSFiles returns the files TiUP keeps in clusterDir
// (~/.tiup/storage/cluster/clusters/<name>): tls/ca.crt, tls/client.crt, tls/client.pem.
func TiUPTLSFiles(clusterDir string) TLSFiles {
	d := filepath.Join(clusterDir, TiUPTLSDir)
	return TLSFiles{
		CA:   filepath.Join(d, TiUPTLSCACert),
		Cert: filepath.Join(d, TiUPTLSClientCert),
		Key:  filepath.Join(d, TiUPTLSClientKey),
	}
}

// TLSFileError names a TLS file, its role and what is wrong with it.
// It never carries file contents.
type TLSFileError struct {
	Path    string
	Role    string // "CA certificate", "client certificate" or "client key"
	Problem string
	Err     error
}

// Error implements error.
func (e *TLSFileError) Error() string {
	s := fmt.Sprintf("pd tls: %s %s: %s", e.Role, e.Path, e.Problem)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *TLSFileError) Unwrap() error { return e.Err }

// LoadTLS reads and checks the files and returns a client tls.Config that
// trusts only CA and presents Cert/Key. Cert and Key must be given together.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA == "" {
		return nil, &TLSFileError{Path: "(none)", Role: "CA certificate", Problem: "not set; pass the CA file with the client cert and key (TiUP: tls/ca.crt)"}
	}
	caPEM, err := readPEMFile(f.CA, "CA certificate")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n, err := addCerts(pool, caPEM)
	if err != nil {
		return nil, &TLSFileError{Path: f.CA, Role: "CA certificate", Problem: "a CERTIFICATE block does not parse", Err: err}
	}
	if n == 0 {
		return nil, &TLSFileError{Path: f.CA, Role: "CA certificate", Problem: "no CERTIFICATE block in the PEM file"}
	}
	cfg.RootCAs = pool

	switch {
	case f.Cert == "" && f.Key == "":
		return cfg, nil
	case f.Cert == "":
		return nil, &TLSFileError{Path: f.Key, Role: "client key", Problem: "given without a client certificate; pass both (TiUP: tls/client.crt and tls/client.pem)"}
	case f.Key == "":
		return nil, &TLSFileError{Path: f.Cert, Role: "client certificate", Problem: "given without a client key; pass both (TiUP: tls/client.crt and tls/client.pem)"}
	}
	certPEM, err := readPEMFile(f.Cert, "client certificate")
	if err != nil {
		return nil, err
	}
	if n, err := addCerts(x509.NewCertPool(), certPEM); err != nil || n == 0 {
		return nil, &TLSFileError{Path: f.Cert, Role: "client certificate", Problem: "no parsable CERTIFICATE block (is this the key file?)", Err: err}
	}
	keyPEM, err := readPEMFile(f.Key, "client key")
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if !hasPrivateKeyBlock(keyPEM) {
			return nil, &TLSFileError{Path: f.Key, Role: "client key", Problem: "no PRIVATE KEY block (is this the certificate file?)"}
		}
		return nil, &TLSFileError{Path: f.Key, Role: "client key",
			Problem: fmt.Sprintf("does not match client certificate %s or does not parse", f.Cert), Err: err}
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

func readPEMFile(path, role string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		problem := "cannot be read"
		switch {
		case errors.Is(err, os.ErrNotExist):
			problem = "missing"
		case errors.Is(err, os.ErrPermission):
			problem = "permission denied"
		}
		return nil, &TLSFileError{Path: path, Role: role, Problem: problem, Err: err}
	}
	if block, _ := pem.Decode(data); block == nil {
		return nil, &TLSFileError{Path: path, Role: role, Problem: "not PEM (want -----BEGIN ...----- blocks)"}
	}
	return data, nil
}

func addCerts(pool *x509.CertPool, data []byte) (int, error) {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return n, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return n, err
		}
		pool.AddCert(cert)
		n++
	}
}

func hasPrivateKeyBlock(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type == "PRIVATE KEY" || block.Type == "RSA PRIVATE KEY" || block.Type == "EC PRIVATE KEY" {
			return true
		}
	}
}
