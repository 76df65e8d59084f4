package schedule

import (
	"fmt"
	"time"
)

// Bounds of the KMS-native rotation settings (reference kms-and-evidence.md §1.1, §3.1).
const (
	// VaultMinAutoRotate is the minimum transit auto_rotate_period ("0" disables).
	VaultMinAutoRotate = time.Hour
	// AWSMinRotationDays and AWSMaxRotationDays bound EnableKeyRotation RotationPeriodInDays
	// (default 365; AWS code library page for EnableKeyRotation).
	AWSMinRotationDays = 90
	AWSMaxRotationDays = 2560
)

// NativeRotation describes a key backend's own automatic rotation, as data
// for reports and for the operator: the API setting, its value, and what the
// tool still has to do after each backend rotation.
type NativeRotation struct {
	Backend string   // vault-transit | aws-kms
	Setting string   // the API call and parameter
	Value   string   // the value to set
	Notes   []string // constraints and follow-up work
}

// String is a one-line summary, e.g. for report.Schedule.KMSNative.
func (n NativeRotation) String() string {
	return fmt.Sprintf("%s: %s = %s", n.Backend, n.Setting, n.Value)
}

// VaultTransitAutoRotate describes transit auto rotation of the key-encrypting
// key with the given period (at least 1h).
func VaultTransitAutoRotate(key string, period time.Duration) (NativeRotation, error) {
	if period < VaultMinAutoRotate {
		return NativeRotation{}, fmt.Errorf("vault transit auto_rotate_period %s for key %s: the minimum is 1h (use 0 only to disable)", period, key)
	}
	return NativeRotation{
		Backend: "vault-transit",
		Setting: fmt.Sprintf("POST transit/keys/%s/config auto_rotate_period", key),
		Value:   fmt.Sprintf("%ds", int64(period/time.Second)),
		Notes: []string{
			"Vault creates a new key version each period; existing ciphertexts stay under their old version until rewrapped.",
			"After each rotation: POST transit/rewrap/" + key + " for the stored wrapped TiKV file key (never returns plaintext), then raise min_decryption_version to retire old versions (PCI DSS 3.7.5): 'tikv-ear kek rotate --rewrap-only <plan>', then 'tikv-ear kek min-version --destroy-superseded <plan>'.",
			"Set the period with 'tikv-ear kek auto-rotate <plan> --period <hours>h' (also 'tikv-ear schedule kek …').",
			"Rotating the transit key does not change the TiKV master key itself; tikv-ear rotate replaces that on its own schedule.",
		},
	}, nil
}

// AWSKeyRotation describes AWS KMS automatic rotation (EnableKeyRotation) of a
// symmetric customer-managed key with RotationPeriodInDays in 90–2560.
func AWSKeyRotation(keyID string, days int) (NativeRotation, error) {
	if days < AWSMinRotationDays || days > AWSMaxRotationDays {
		return NativeRotation{}, fmt.Errorf("aws kms RotationPeriodInDays %d for key %s: must be between %d and %d", days, keyID, AWSMinRotationDays, AWSMaxRotationDays)
	}
	return NativeRotation{
		Backend: "aws-kms",
		Setting: fmt.Sprintf("EnableKeyRotation KeyId=%s RotationPeriodInDays", keyID),
		Value:   fmt.Sprintf("%d", days),
		Notes: []string{
			"Only symmetric customer-managed keys; not asymmetric, HMAC, imported-material or custom-key-store keys.",
			"Check with GetKeyRotationStatus (KeyRotationEnabled, RotationPeriodInDays, NextRotationDate); ListKeyRotations lists completed rotations.",
			"nsmithuk/local-kms ignores RotationPeriodInDays and does not implement RotateKeyOnDemand or ListKeyRotations.",
		},
	}, nil
}
