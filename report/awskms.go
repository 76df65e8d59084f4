package report

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is the part of the AWS KMS client the signer uses; *kms.Client implements it.
type KMSAPI interface {
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// AWSKMSSigner signs with an asymmetric AWS KMS key of spec ECC_NIST_P256
// using ECDSA_SHA_256 (reference kms-and-evidence.md §3.1, §4.7). It hashes
// locally and sends MessageType DIGEST, so the PAE size is not limited by
// KMS's RAW message limit.
type AWSKMSSigner struct {
	api   KMSAPI
	keyID string
	pub   *ecdsa.PublicKey
	id    string
	info  KeyEvidence
}

// NewAWSKMSSigner fetches the public key of keyID (id, ARN or alias) and checks
// its spec and signing algorithms.
func NewAWSKMSSigner(ctx context.Context, api KMSAPI, keyID string) (*AWSKMSSigner, error) {
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: &keyID})
	if err != nil {
		return nil, fmt.Errorf("aws kms GetPublicKey %s: %w", keyID, err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 {
		return nil, fmt.Errorf("aws kms key %s has spec %s; report signing needs ECC_NIST_P256 (KeyUsage SIGN_VERIFY)", keyID, out.KeySpec)
	}
	if !slices.Contains(out.SigningAlgorithms, types.SigningAlgorithmSpecEcdsaSha256) {
		return nil, fmt.Errorf("aws kms key %s does not offer ECDSA_SHA_256 (has %v)", keyID, out.SigningAlgorithms)
	}
	p, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("aws kms key %s: parsing public key: %w", keyID, err)
	}
	pub, ok := p.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("aws kms key %s: public key is %T, want ECDSA", keyID, p)
	}
	if err := checkPublic(pub); err != nil {
		return nil, fmt.Errorf("aws kms key %s: %w", keyID, err)
	}
	id, err := KeyIDOf(pub)
	if err != nil {
		return nil, fmt.Errorf("aws kms key %s: %w", keyID, err)
	}
	s := &AWSKMSSigner{api: api, keyID: keyID, pub: pub, id: id}
	// GetPublicKey returns the key ARN in KeyId (AWS KMS API reference, GetPublicKey response).
	s.info = KeyEvidence{Role: RoleSigningKey, Backend: "aws-kms", KeyID: keyID, KeyARN: aws.ToString(out.KeyId),
		// Automatic rotation applies to symmetric encryption keys only, never to
		// asymmetric (SIGN_VERIFY) keys (AWS KMS Developer Guide, "Rotate AWS KMS keys").
		RotationStatus: RotationDisabled,
		Versions:       []KeyVersion{{Version: "1", Fingerprint: id}}}
	return s, nil
}

// Evidence describes the signing key for the report.
func (s *AWSKMSSigner) Evidence() KeyEvidence { return s.info }

// Sign returns the DER ECDSA signature over SHA-256(data).
func (s *AWSKMSSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	out, err := s.api.Sign(ctx, &kms.SignInput{
		KeyId:            &s.keyID,
		Message:          sum[:],
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("aws kms Sign %s: %w", s.keyID, err)
	}
	if !ecdsa.VerifyASN1(s.pub, sum[:], out.Signature) {
		return nil, fmt.Errorf("aws kms Sign %s: signature does not verify with the key's public key", s.keyID)
	}
	return out.Signature, nil
}

// Public returns the key's public key.
func (s *AWSKMSSigner) Public() crypto.PublicKey { return s.pub }

// KeyID returns "sha256:<hex>" of the PKIX public key.
func (s *AWSKMSSigner) KeyID() string { return s.id }
