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
// It imports cluster/tikv for TiKV constants and the config model only (a
// leaf package); it must not import steps, ui, cli or any network client
// other than the Vault and AWS KMS SDKs its signers wrap.
package report
