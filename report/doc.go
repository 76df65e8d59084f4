// Package report is the evidence room: the canonical report.json model, its
// in-toto Statement in a DSSE envelope and a Sigstore bundle, the signers (local
// key, Vault transit, AWS KMS), offline verification, and the Markdown and
// self-contained HTML views.
//
// It never contains key material. Master keys appear as identities only
// (MasterKeyFromConfig reads no secret field of the TiKV config) and as
// one-way Fingerprints; every string passes through Redact before it is
// written. The predicate type https://tikv-ear.dev/attestation/encryption-rollout/v1
// is tikv-ear's own URI, not one registered with in-toto.
//
// An auditor verifies a report directory written by WriteSigned offline with
// Verify (tikv-ear report verify report.json --key pub.pem), with openssl over
// the rebuilt DSSE PAE, or with cosign v3 (reference kms-and-evidence.md §4.3):
//
//	cosign verify-blob-attestation --key pub.pem --bundle report.sigstore.json --insecure-ignore-tlog=true --type https://tikv-ear.dev/attestation/encryption-rollout/v1 report.json
//
// The tests verify every signed report with sigstore-go (the Sigstore
// project's Go verifier, github.com/sigstore/sigstore-go) as an independent
// verifier, with the key-based policy cosign applies to that command
// (sigstore_test.go), and openssl_test.go runs openssl itself.
//
// The views (report.md, report.html) open with a plain-words summary for an
// auditor (what was done to which stores, when, by whom, with which master
// key and which signing key, by identity and fingerprint only), then how to
// verify, the timeline and the evidence; each compliance evidence item names
// the report.json field it rests on. report.html uses inline CSS and an
// inline SVG timeline only: no scripts, no external assets.
//
// It imports cluster/tikv for TiKV constants and the config model only (a
// leaf package); it must not import steps, ui, cli or any network client
// other than the Vault and AWS KMS SDKs its signers wrap.
package report
