package report

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Formats of the signed evidence (reference kms-and-evidence.md §4).
const (
	// PayloadType is the DSSE payloadType of an in-toto Statement (ITO: spec/v1/envelope.md;
	// sigstore-go v1.2.1 pkg/bundle/signature_content.go IntotoMediaType).
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto Statement v1 _type (ITO: spec/v1/statement.md).
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType is tikv-ear's own predicate type URI. It is ours: it names the
	// predicate shape defined by Predicate below, is not registered with in-toto,
	// and is what auditors pass to cosign verify-blob-attestation --type.
	PredicateType = "https://tikv-ear.dev/attestation/encryption-rollout/v1"
	// BundleMediaType is the Sigstore bundle v0.3 media type (CS: doc, §4.3;
	// sigstore-go v1.2.1 pkg/bundle/bundle.go MediaTypeString("0.3")).
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// SubjectName is the subject name the Statement gives report.json.
	SubjectName = "report.json"
)

// PAE is the DSSE v1 pre-authentication encoding (DSSE protocol.md; the same
// bytes as secure-systems-lab/go-securesystemslib v0.11.0 dsse/envelope.go PAE):
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in ASCII decimal.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, 32+len(payloadType)+len(payload))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Envelope is a DSSE envelope (DSSE envelope.md). Payload and Sig are base64.
type Envelope struct {
	Payload     string      `json:"payload"`
	PayloadType string      `json:"payloadType"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature. KeyID is an unauthenticated hint only.
type Signature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   string `json:"sig"`
}

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject is an in-toto ResourceDescriptor reduced to name and digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is the body of PredicateType: a summary of report.json, which
// itself is bound by the subject digest.
type Predicate struct {
	ReportSchema string           `json:"reportSchema"`
	Kind         Kind             `json:"kind"`
	Outcome      string           `json:"outcome"`
	ClusterID    string           `json:"clusterId"`
	Operator     string           `json:"operator"`
	Tool         Tool             `json:"tool"`
	PlanDigest   string           `json:"planDigest,omitempty"`
	StartedAt    string           `json:"startedAt"`
	FinishedAt   string           `json:"finishedAt,omitempty"`
	Stores       []PredicateStore `json:"stores"`
	Keys         []PredicateKey   `json:"keys,omitempty"`
}

// PredicateStore is one store's after-state in the predicate.
type PredicateStore struct {
	ID          uint64 `json:"id"`
	Method      string `json:"method"`
	MasterKey   string `json:"masterKeyType"`
	KeyID       string `json:"keyId,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// PredicateKey is one managed key in the predicate.
type PredicateKey struct {
	Role          string `json:"role"`
	Backend       string `json:"backend"`
	KeyID         string `json:"keyId"`
	LatestVersion string `json:"latestVersion,omitempty"`
}

// Bundle is the subset of a Sigstore bundle v0.3 used for key-based DSSE attestations.
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         *Envelope            `json:"dsseEnvelope"`
}

// VerificationMaterial carries the public-key hint.
type VerificationMaterial struct {
	PublicKey PublicKeyID `json:"publicKey"`
}

// PublicKeyID is the bundle's publicKey: hint = base64(SHA-256(PKIX DER)).
type PublicKeyID struct {
	Hint string `json:"hint"`
}

// newStatement builds the Statement for the canonical bytes of the (normalized) report.
func newStatement(r *Report, reportJSON []byte) Statement {
	sum := sha256.Sum256(reportJSON)
	p := Predicate{
		ReportSchema: r.Schema, Kind: r.Kind, Outcome: r.Outcome,
		ClusterID: r.Cluster.PDClusterID, Operator: r.Operator, Tool: r.Tool,
		PlanDigest: r.PlanDigest, StartedAt: rfc3339(r.StartedAt), FinishedAt: rfc3339(r.FinishedAt),
		Stores: []PredicateStore{},
	}
	for _, s := range r.Stores {
		p.Stores = append(p.Stores, PredicateStore{
			ID: s.ID, Method: s.After.Method, MasterKey: s.After.MasterKey.Type,
			KeyID: s.After.MasterKey.KeyID, Fingerprint: s.After.MasterKey.Fingerprint,
		})
	}
	for _, k := range r.Keys {
		p.Keys = append(p.Keys, PredicateKey{Role: k.Role, Backend: k.Backend, KeyID: k.KeyID, LatestVersion: k.LatestVersion})
	}
	return Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: SubjectName, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		PredicateType: PredicateType,
		Predicate:     p,
	}
}

// decodeB64 accepts standard and URL-safe base64, padded or not (DSSE envelope.md).
func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("not valid standard or URL-safe base64")
}
