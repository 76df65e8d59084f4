// Package kms holds the key backends behind one interface (Backend): file
// (development and staging only), AWS KMS, GCP KMS, Azure Key Vault and
// HashiCorp Vault. TiKV itself only knows `file` and `kms` (aws, gcp, azure)
// master keys, so the Vault backend delivers a file key that never rests on disk
// in plaintext.
//
// New builds a backend from a plan's [key] section (Spec). The shared types
// live in kms/core and are aliased here; each backend lives in its own package
// (kms/filekey, kms/awskms, kms/vault, kms/gcpkms, kms/azurekms) with its runbook
// in the package comment. Test helpers: kms/kmstest (in-memory Host, real
// local-kms) and kms/vault/vaulttest (Vault HTTP fake).
//
// Backends render tikv.toml master-key tables, run preflights, deliver key
// material over stdin into 0400 files, rotate, revoke and return evidence. They
// never put key bytes in argv, environment, logs, errors, KeyRef or Evidence.
package kms
