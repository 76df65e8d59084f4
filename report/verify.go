package report

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// VerifyOptions say what to verify report.json against.
type VerifyOptions struct {
	KeyPath       string // PEM PKIX public key (pub.pem), required
	BundlePath    string // report.sigstore.json; or
	EnvelopePath  string // report.intoto.jsonl (first line) or a bare DSSE envelope JSON
	PredicateType string // expected predicateType; PredicateType when empty
}

// Result lists what Verify checked, for printing.
type Result struct {
	ReportPath     string   `json:"report_path"`
	ReportSHA256   string   `json:"report_sha256"`
	KeyFingerprint string   `json:"key_fingerprint"` // "sha256:<hex>" of the PKIX public key
	Algorithm      string   `json:"algorithm"`       // ecdsa-p256 or ed25519
	Source         string   `json:"source"`          // the bundle or envelope file
	PayloadType    string   `json:"payload_type"`
	PredicateType  string   `json:"predicate_type"`
	Schema         string   `json:"schema"`
	Kind           Kind     `json:"kind"`
	ClusterID      string   `json:"cluster_id"`
	Checks         []string `json:"checks"` // each passed check, in order
}

// Verify checks report.json at reportPath against a DSSE envelope or Sigstore
// bundle with the public key in opts.KeyPath, offline: the signature over the
// DSSE PAE (standard or URL-safe base64; unknown envelope fields ignored; keyid
// ignored), the bundle's public-key hint when present, payloadType, the
// Statement _type and predicateType, the subject digest against the
// report.json bytes, and the report schema. Any mismatch is an error.
func Verify(reportPath string, opts VerifyOptions) (Result, error) {
	res := Result{ReportPath: reportPath}
	pass := func(format string, args ...any) { res.Checks = append(res.Checks, fmt.Sprintf(format, args...)) }
	if opts.KeyPath == "" {
		return res, errors.New("verify: no public key; pass the signer's pub.pem")
	}
	if (opts.BundlePath == "") == (opts.EnvelopePath == "") {
		return res, errors.New("verify: pass exactly one of a bundle (report.sigstore.json) or an envelope (report.intoto.jsonl)")
	}
	body, err := os.ReadFile(reportPath)
	if err != nil {
		return res, fmt.Errorf("verify: reading report %s: %w", reportPath, err)
	}
	sum := sha256.Sum256(body)
	res.ReportSHA256 = hex.EncodeToString(sum[:])

	pemData, err := os.ReadFile(opts.KeyPath)
	if err != nil {
		return res, fmt.Errorf("verify: reading public key %s: %w", opts.KeyPath, err)
	}
	pub, err := ParsePublicKeyPEM(pemData)
	if err != nil {
		return res, fmt.Errorf("verify: public key %s: %w", opts.KeyPath, err)
	}
	res.KeyFingerprint, _ = KeyIDOf(pub)
	res.Algorithm = string(Ed25519)
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		res.Algorithm = string(ECDSAP256)
	}
	pass("public key %s parsed (%s, %s)", opts.KeyPath, res.Algorithm, res.KeyFingerprint)

	var env *Envelope
	if opts.BundlePath != "" {
		res.Source = opts.BundlePath
		env, err = readBundle(opts.BundlePath, pub)
		if err != nil {
			return res, fmt.Errorf("verify: %w", err)
		}
		pass("bundle %s: mediaType %s, publicKey.hint matches the key", opts.BundlePath, BundleMediaType)
	} else {
		res.Source = opts.EnvelopePath
		env, err = readEnvelope(opts.EnvelopePath)
		if err != nil {
			return res, fmt.Errorf("verify: %w", err)
		}
	}
	payload, err := verifyEnvelope(env, pub)
	if err != nil {
		return res, fmt.Errorf("verify: %s: %w", res.Source, err)
	}
	res.PayloadType = env.PayloadType
	pass("payloadType is %s", PayloadType)
	pass("DSSE signature over PAE verifies with %s", res.KeyFingerprint)

	want := opts.PredicateType
	if want == "" {
		want = PredicateType
	}
	var st struct {
		Type          string    `json:"_type"`
		Subject       []Subject `json:"subject"`
		PredicateType string    `json:"predicateType"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return res, fmt.Errorf("verify: %s: signed payload is not an in-toto Statement: %w", res.Source, err)
	}
	if st.Type != StatementType {
		return res, fmt.Errorf("verify: %s: statement _type is %q, want %q", res.Source, st.Type, StatementType)
	}
	pass("statement _type is %s", StatementType)
	if st.PredicateType != want {
		return res, fmt.Errorf("verify: %s: invalid predicate type %q, want %q", res.Source, st.PredicateType, want)
	}
	res.PredicateType = st.PredicateType
	pass("predicateType is %s", want)
	matched := false
	var seen []string
	for _, s := range st.Subject {
		d := s.Digest["sha256"]
		seen = append(seen, s.Name+"@sha256:"+d)
		if len(d) == len(res.ReportSHA256) && subtle.ConstantTimeCompare([]byte(d), []byte(res.ReportSHA256)) == 1 {
			matched = true
		}
	}
	if !matched {
		return res, fmt.Errorf("verify: %s sha256 %s does not match any subject digest in the statement %v: the report was changed after signing or belongs to another signature", reportPath, res.ReportSHA256, seen)
	}
	pass("subject digest sha256:%s matches %s", res.ReportSHA256, reportPath)

	r, err := parse(reportPath, body)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	res.Schema, res.Kind, res.ClusterID = r.Schema, r.Kind, r.Cluster.PDClusterID
	pass("report schema %s is valid (kind %s, cluster %s)", r.Schema, r.Kind, r.Cluster.PDClusterID)
	return res, nil
}

func readBundle(path string, pub crypto.PublicKey) (*Envelope, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading bundle %s: %w", path, err)
	}
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("parsing bundle %s: %w", path, jsonError(data, err))
	}
	if b.MediaType != BundleMediaType {
		return nil, fmt.Errorf("bundle %s: mediaType is %q, want %q", path, b.MediaType, BundleMediaType)
	}
	if b.DSSEEnvelope == nil {
		return nil, fmt.Errorf("bundle %s: no dsseEnvelope; it is not an attestation bundle", path)
	}
	if h := b.VerificationMaterial.PublicKey.Hint; h != "" {
		want, err := bundleHint(pub)
		if err != nil {
			return nil, err
		}
		if h != want {
			return nil, fmt.Errorf("bundle %s: verificationMaterial.publicKey.hint %q is not base64(SHA-256) of the given key (%q): wrong pub.pem?", path, h, want)
		}
	}
	return b.DSSEEnvelope, nil
}

func readEnvelope(path string) (*Envelope, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading envelope %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var env Envelope
		if err := json.Unmarshal(text, &env); err != nil {
			// A bare, pretty-printed envelope: parse the whole file.
			if err2 := json.Unmarshal(data, &env); err2 == nil {
				return &env, nil
			}
			return nil, fmt.Errorf("parsing envelope %s line %d: %w", path, line, err)
		}
		return &env, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading envelope %s: %w", path, err)
	}
	return nil, fmt.Errorf("envelope %s is empty", path)
}

// verifyEnvelope returns the payload bytes that a signature of env verified
// with pub. It checks the payloadType first.
func verifyEnvelope(env *Envelope, pub crypto.PublicKey) ([]byte, error) {
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("payloadType is %q, want %q", env.PayloadType, PayloadType)
	}
	payload, err := decodeB64(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if len(env.Signatures) == 0 {
		return nil, errors.New("envelope has no signatures")
	}
	pae := PAE(env.PayloadType, payload)
	for _, s := range env.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			continue
		}
		if verifySig(pub, pae, sig) {
			return payload, nil
		}
	}
	return nil, fmt.Errorf("none of the %d signature(s) verifies over the DSSE PAE with the given public key", len(env.Signatures))
}
