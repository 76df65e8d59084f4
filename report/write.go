package report

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names written by WriteSigned.
const (
	FileReport    = "report.json"
	FileEnvelope  = "report.intoto.jsonl"
	FileBundle    = "report.sigstore.json"
	FilePublicKey = "pub.pem"
	FileMarkdown  = "report.md"
	FileHTML      = "report.html"
)

// Files are the paths WriteSigned wrote.
type Files struct {
	Report    string // report.json: canonical bytes, the attestation subject
	Envelope  string // report.intoto.jsonl: one DSSE envelope per line (one line)
	Bundle    string // report.sigstore.json: the same envelope in a Sigstore bundle v0.3
	PublicKey string // pub.pem: the signer's PKIX public key
	Markdown  string // report.md
	HTML      string // report.html
}

// Signed is the signed form of a report, before it is written.
type Signed struct {
	ReportJSON []byte   // canonical report.json bytes
	Envelope   Envelope // DSSE envelope of the in-toto Statement
	Bundle     Bundle   // Sigstore bundle v0.3 holding Envelope
	PublicPEM  []byte   // signer's public key
	Report     *Report  // normalized report (redacted, UTC), as written
}

// Sign normalizes r, fills its compliance mapping when empty, and signs the
// in-toto Statement over its canonical bytes with signer.
func Sign(ctx context.Context, r *Report, signer Signer) (*Signed, error) {
	if signer == nil {
		return nil, errors.New("signing report: no signer")
	}
	// A Vault or KMS signer describes its key; the signed report records it.
	if e, ok := signer.(interface{ Evidence() KeyEvidence }); ok && !slices.ContainsFunc(r.Keys, func(k KeyEvidence) bool { return k.Role == RoleSigningKey }) {
		withKey := *r
		withKey.Keys = append(slices.Clone(r.Keys), e.Evidence())
		r = &withKey
	}
	cp, err := normalized(r)
	if err != nil {
		return nil, fmt.Errorf("signing report: %w", err)
	}
	if len(cp.Compliance) == 0 {
		cp.Compliance = MapCompliance(cp)
	}
	body, err := Canonical(cp)
	if err != nil {
		return nil, fmt.Errorf("signing report: %w", err)
	}
	payload, err := json.Marshal(newStatement(cp, body))
	if err != nil {
		return nil, fmt.Errorf("signing report: encoding statement: %w", err)
	}
	sig, err := signer.Sign(ctx, PAE(PayloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("signing report: %w", err)
	}
	pub := signer.Public()
	if !verifySig(pub, PAE(PayloadType, payload), sig) {
		return nil, fmt.Errorf("signing report: signer %s returned a signature its public key does not verify", signer.KeyID())
	}
	pubPEM, err := PublicKeyPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("signing report: %w", err)
	}
	hint, err := bundleHint(pub)
	if err != nil {
		return nil, fmt.Errorf("signing report: %w", err)
	}
	env := Envelope{
		Payload:     base64.StdEncoding.EncodeToString(payload),
		PayloadType: PayloadType,
		Signatures:  []Signature{{KeyID: signer.KeyID(), Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	// cosign writes no keyid in bundles (reference §4.3, TESTED); keep the bundle to that shape.
	benv := env
	benv.Signatures = []Signature{{Sig: env.Signatures[0].Sig}}
	return &Signed{
		ReportJSON: body,
		Envelope:   env,
		Bundle: Bundle{
			MediaType:            BundleMediaType,
			VerificationMaterial: VerificationMaterial{PublicKey: PublicKeyID{Hint: hint}},
			DSSEEnvelope:         &benv,
		},
		PublicPEM: pubPEM,
		Report:    cp,
	}, nil
}

// WriteSigned signs r and writes report.json, report.intoto.jsonl,
// report.sigstore.json, pub.pem, report.md and report.html into dir
// (the two views also name the signing key by its fingerprint)
// (created 0755 if missing). Each file is written to a temporary name and
// renamed into place.
func WriteSigned(ctx context.Context, dir string, r *Report, signer Signer) (Files, error) {
	s, err := Sign(ctx, r, signer)
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("creating report directory %s: %w", dir, err)
	}
	envLine, err := json.Marshal(s.Envelope)
	if err != nil {
		return Files{}, fmt.Errorf("encoding envelope: %w", err)
	}
	bundle, err := json.MarshalIndent(s.Bundle, "", "  ")
	if err != nil {
		return Files{}, fmt.Errorf("encoding bundle: %w", err)
	}
	// The views name the signing key by its fingerprint (KeyIDOf), never by its material.
	sig := signerInfoOf(signer)
	f := Files{
		Report:    filepath.Join(dir, FileReport),
		Envelope:  filepath.Join(dir, FileEnvelope),
		Bundle:    filepath.Join(dir, FileBundle),
		PublicKey: filepath.Join(dir, FilePublicKey),
		Markdown:  filepath.Join(dir, FileMarkdown),
		HTML:      filepath.Join(dir, FileHTML),
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.Report, s.ReportJSON},
		{f.Envelope, append(envLine, '\n')},
		{f.Bundle, append(bundle, '\n')},
		{f.PublicKey, s.PublicPEM},
		{f.Markdown, renderMarkdown(s.Report, sig)},
		{f.HTML, renderHTML(s.Report, sig)},
	} {
		if err := writeAtomic(w.path, w.data); err != nil {
			return Files{}, err
		}
	}
	return f, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	_ = os.Remove(tmp)
	if err := writeNew(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
