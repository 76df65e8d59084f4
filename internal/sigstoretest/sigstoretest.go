// Package sigstoretest verifies tikv-ear's signed reports with sigstore-go,
// the Sigstore project's own verifier, independently of package report's
// Verify and types: tests of the report, the wizard and the command line use
// it as the outside check that a report verifies as cosign would.
package sigstoretest

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Verify verifies a report's Sigstore bundle with sigstore-go
// (github.com/sigstore/sigstore-go v1.2.1), the Sigstore project's own Go
// verifier, independently of this package's Verify and types. It makes the
// checks `cosign verify-blob-attestation --key pub.pem --bundle B
// --insecure-ignore-tlog=true --type URI report.json` makes for a key-signed
// bundle (reference kms-and-evidence.md §4.3):
//   - bundle.Bundle.UnmarshalJSON parses and validates the bundle (media type
//     application/vnd.dev.sigstore.bundle.v0.3+json, verification material);
//   - the key is looked up by verificationMaterial.publicKey.hint, which must be
//     empty (cosign accepts that, §4.3) or base64(SHA-256(PKIX DER));
//   - verify.WithNoObserverTimestamps: a key (not a certificate) needs no
//     transparency-log entry or timestamp (pkg/verify/signed_entity.go);
//   - the DSSE signature is checked over the PAE, the payload must be an
//     in-toto Statement (payloadType application/vnd.in-toto+json,
//     pkg/bundle/signature_content.go Envelope.Statement), and one subject's
//     digest must equal the artifact's (verify.WithArtifact);
//   - the predicateType must equal typeURI: sigstore-go leaves that to the
//     caller, cosign checks it for --type.
func Verify(pub crypto.PublicKey, bundleJSON, artifact []byte, typeURI string) error {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return fmt.Errorf("sigstore-go: bundle: %w", err)
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("sigstore-go: loading the key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(der)
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	trusted := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		base64.StdEncoding.EncodeToString(sum[:]): key, "": key,
	})
	v, err := verify.NewVerifier(trusted, verify.WithNoObserverTimestamps())
	if err != nil {
		return fmt.Errorf("sigstore-go: verifier: %w", err)
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithKey()))
	if err != nil {
		return fmt.Errorf("sigstore-go: %w", err)
	}
	if res.Statement == nil || res.Statement.GetPredicateType() != typeURI {
		return errors.New("sigstore-go: invalid predicate type")
	}
	return nil
}
