package steps

import (
	"errors"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
)

func TestKeyEvidenceMapsTheBackendsFacts(t *testing.T) {
	on, off := true, false
	arn := "arn:aws:kms:us-west-2:111122223333:key/1234"
	aws := KeyEvidence("master-key", kms.KeyRef{Backend: "aws", ID: arn}, &kms.Evidence{Backend: "aws", KeyID: arn, State: "Enabled",
		RotationEnabled: &on, RotationPeriod: "365d", Attrs: map[string]string{"region": "us-west-2", "rotations": "2"}}, nil)
	if aws.KeyARN != arn || aws.Location != "us-west-2" || aws.RotationStatus != report.RotationEnabled || !aws.RotationEnabled ||
		aws.State != "Enabled" || aws.Attributes["rotations"] != "2" || aws.Attributes["region"] != "" {
		t.Errorf("aws: %+v", aws)
	}
	vault := KeyEvidence("master-key", kms.KeyRef{Backend: "vault", ID: "secret/tikv/c1/master-key", Version: "3", Generation: 2},
		&kms.Evidence{Backend: "vault", Accessor: "acc-1", State: "active", RotationEnabled: &off, Attrs: map[string]string{
			"kek": "transit/keys/tikv-c1-kek", "kek_type": "aes256-gcm96", "kek_latest_version": "4", "kek_min_decryption_version": "2",
			"transit_key_version": "4", "kek_latest_created": "2026-12-01T00:00:00Z"}}, nil)
	if vault.TokenAccessor != "acc-1" || vault.KEK == nil || vault.KEK.LatestVersion != "4" || vault.KEK.WrappedWith != "4" ||
		vault.MinDecryptionVersion != "2" || vault.KEK.LatestCreated.IsZero() || vault.RotationStatus != report.RotationDisabled || vault.Attributes != nil {
		t.Errorf("vault: %+v kek %+v", vault, vault.KEK)
	}
	gone := KeyEvidence("master-key", kms.KeyRef{Backend: "gcp", ID: "projects/p/locations/l/keyRings/r/cryptoKeys/k", Version: "2"}, nil, errors.New("gcp evidence: permission denied"))
	if gone.State != "unknown" || gone.RotationStatus != report.RotationUnknown || gone.RotationEnabled || gone.Unreadable != "gcp evidence: permission denied" || gone.LatestVersion != "2" {
		t.Errorf("unreadable: %+v", gone)
	}
}
