// Package kms holds the key backends behind one interface: file (dev and
// staging only), AWS KMS, GCP KMS, Azure Key Vault and HashiCorp Vault (which
// TiKV cannot use directly, so it delivers a file key that never rests on disk in
// plaintext). Backends render tikv.toml master-key tables, run preflights,
// deliver key material over stdin, rotate, revoke and return evidence — never key bytes.
package kms
