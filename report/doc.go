// Package report is the evidence room: the canonical report.json model, its
// in-toto Statement in a DSSE envelope and a Sigstore bundle, the signers (local
// key, Vault transit, AWS KMS), offline verification, and the Markdown and
// self-contained HTML views. It never contains key material.
package report
