package report

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Signer signs the DSSE PAE bytes of an envelope. Implementations hash
// the data themselves: ECDSA P-256 signers return an ASN.1 DER signature
// over SHA-256(data), Ed25519 signers a pure Ed25519 signature over data.
type Signer interface {
	// Sign returns the signature over data.
	Sign(ctx context.Context, data []byte) ([]byte, error)
	// Public returns the verification key (*ecdsa.PublicKey or ed25519.PublicKey).
	Public() crypto.PublicKey
	// KeyID returns an unauthenticated hint naming the key.
	KeyID() string
}

// Algorithm names a signing-key algorithm.
type Algorithm string

// Supported signing algorithms. ECDSA P-256 is the default and the one cosign signs with.
const (
	ECDSAP256 Algorithm = "ecdsa-p256"
	Ed25519   Algorithm = "ed25519"
)

// KeyIDOf returns "sha256:<hex>" of the PKIX DER encoding of pub, the key id
// every signer of this package reports.
func KeyIDOf(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// bundleHint returns base64(SHA-256(PKIX DER)), the Sigstore bundle publicKey.hint.
func bundleHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// PublicKeyPEM returns pub as a PEM "PUBLIC KEY" (PKIX) block.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM parses a PEM PKIX public key: ECDSA P-256 or Ed25519.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(`no "PUBLIC KEY" PEM block; expected a PKIX public key such as pub.pem`)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKIX public key: %w", err)
	}
	if err := checkPublic(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

func checkPublic(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ecdsa key on curve %s is not supported; use P-256", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("public key type %T is not supported; use ECDSA P-256 or Ed25519", pub)
	}
	return nil
}

// verifySig checks sig over data with pub (ECDSA: DER over SHA-256; Ed25519: pure).
func verifySig(pub crypto.PublicKey, data, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(data)
		return ecdsa.VerifyASN1(k, sum[:], sig)
	case ed25519.PublicKey:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k, data, sig)
	}
	return false
}

// FileSigner signs with a private key read from a local PKCS#8 PEM file.
type FileSigner struct {
	key   crypto.Signer
	keyID string
}

// LoadFileSigner reads a PKCS#8 PEM private key (ECDSA P-256 or Ed25519)
// written by Keygen. The file must not be readable by group or others.
func LoadFileSigner(path string) (*FileSigner, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s has mode %04o, readable by group or others; fix: chmod 600 %s", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf(`signing key %s: no "PRIVATE KEY" (PKCS#8) PEM block; create one with tikv-ear keygen`, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: parsing PKCS#8: %w", path, err)
	}
	return newFileSigner(k, path)
}

func newFileSigner(k any, path string) (*FileSigner, error) {
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: key type %T cannot sign", path, k)
	}
	if err := checkPublic(s.Public()); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	id, err := KeyIDOf(s.Public())
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return &FileSigner{key: s, keyID: id}, nil
}

// Sign signs data: ECDSA DER over SHA-256(data), or pure Ed25519 over data.
func (s *FileSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(data)
		sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
		if err != nil {
			return nil, fmt.Errorf("ecdsa sign: %w", err)
		}
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(k, data), nil
	}
	return nil, fmt.Errorf("unsupported key type %T", s.key)
}

// Public returns the public key.
func (s *FileSigner) Public() crypto.PublicKey { return s.key.Public() }

// KeyID returns "sha256:<hex>" of the PKIX public key.
func (s *FileSigner) KeyID() string { return s.keyID }

// Keygen creates a signing key: a PKCS#8 PEM private key at path (mode 0600)
// and its PKIX public key as pub.pem in the same directory (mode 0644). It
// refuses to overwrite either file. It returns the path of pub.pem.
func Keygen(path string, alg Algorithm) (string, error) {
	var key crypto.Signer
	var err error
	switch alg {
	case ECDSAP256, "":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return "", fmt.Errorf("keygen %s: algorithm %q is not supported; use %s or %s", path, alg, ECDSAP256, Ed25519)
	}
	if err != nil {
		return "", fmt.Errorf("keygen %s: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("keygen %s: %w", path, err)
	}
	pubPEM, err := PublicKeyPEM(key.Public())
	if err != nil {
		return "", fmt.Errorf("keygen %s: %w", path, err)
	}
	pubPath := filepath.Join(filepath.Dir(path), "pub.pem")
	if _, err := os.Lstat(pubPath); err == nil {
		return "", fmt.Errorf("keygen %s: %s already exists; move it away or choose another directory", path, pubPath)
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	if err := writeNew(pubPath, pubPEM, 0o644); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	return pubPath, nil
}

// writeNew creates path exclusively with mode perm and writes data, syncing it.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}
