package steps

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
)

// KeyEvidence maps what a key backend reports about ref (kms.Evidence) to the
// report's key evidence. ev is nil when the backend could not be read (err
// says why): the key is then described from the plan, its state and rotation
// status are "unknown", never "enabled" or healthy.
func KeyEvidence(role string, ref kms.KeyRef, ev *kms.Evidence, err error) report.KeyEvidence {
	ke := report.KeyEvidence{Role: role, Backend: ref.Backend, KeyID: ref.ID, LatestVersion: ref.Version}
	version := func(v string) report.KeyVersion {
		if v == "" && ref.Generation > 0 {
			v = strconv.Itoa(ref.Generation)
		}
		return report.KeyVersion{Version: v, CreatedAt: ref.Created, Fingerprint: ref.Fingerprint}
	}
	if ev == nil {
		ke.State, ke.RotationStatus = report.RotationUnknown, report.RotationUnknown
		ke.Unreadable = "the backend could not be read"
		if err != nil {
			ke.Unreadable = err.Error()
		}
		ke.Versions = []report.KeyVersion{version(ref.Version)}
		return ke
	}
	if ev.KeyID != "" {
		ke.KeyID = ev.KeyID
	}
	if ev.KeyVersion != "" && ke.LatestVersion == "" {
		ke.LatestVersion = ev.KeyVersion
	}
	ke.State = ev.State
	ke.TokenAccessor = ev.Accessor
	ke.RotationPeriod, ke.NextRotation = ev.RotationPeriod, ev.NextRotation
	switch {
	case ev.RotationEnabled == nil:
		ke.RotationStatus = report.RotationUnknown
	case *ev.RotationEnabled:
		ke.RotationEnabled, ke.RotationStatus = true, report.RotationEnabled
	default:
		ke.RotationStatus = report.RotationDisabled
	}
	v := version(ev.KeyVersion)
	if !ev.Created.IsZero() {
		v.CreatedAt = ev.Created
	}
	if ev.Fingerprint != "" {
		v.Fingerprint = ev.Fingerprint
	}
	ke.Versions = []report.KeyVersion{v}

	attrs := maps.Clone(ev.Attrs)
	take := func(k string) string {
		val := attrs[k]
		delete(attrs, k)
		return val
	}
	// AWS KMS: a key ARN is arn:<partition>:kms:<region>:<account>:key/<id>
	// (DescribeKey KeyMetadata.Arn; reference kms-and-evidence.md §3).
	if ref.Backend == "aws" && strings.HasPrefix(ke.KeyID, "arn:") {
		ke.KeyARN = ke.KeyID
	}
	ke.Location = cmp.Or(take("region"), take("location"))
	if s := take("rotation_status"); s != "" { // "unavailable: ..." when GetKeyRotationStatus failed
		ke.RotationStatus = report.RotationUnknown
		attrs["rotation_status"] = s
	}
	// Vault: the transit KEK that wraps the KV-stored master key (kms/vault Evidence).
	if kek := take("kek"); kek != "" {
		k := &report.KEKEvidence{Key: kek, Type: take("kek_type"), LatestVersion: take("kek_latest_version"),
			MinDecryptionVersion: take("kek_min_decryption_version"), WrappedWith: take("transit_key_version")}
		if t, err := time.Parse(time.RFC3339, take("kek_latest_created")); err == nil {
			k.LatestCreated = t.UTC()
		}
		ke.KEK = k
		// A master-key generation can be unwrapped only while its KEK version is
		// at or above min_decryption_version.
		ke.MinDecryptionVersion = k.MinDecryptionVersion
	}
	for k, val := range attrs {
		if val == "" {
			delete(attrs, k)
		}
	}
	if len(attrs) > 0 {
		ke.Attributes = attrs
	}
	return ke
}

// LiveEncryption reads a store's [security.encryption] from its tikv.toml as
// it is now on the host: the real state after every pass of a run (a
// rotation's second pass removes previous-master-key after the runner's
// result was taken).
func LiveEncryption(ctx context.Context, node *SSHNode, n NodePlan) (tikv.Encryption, error) {
	if node == nil {
		return tikv.Encryption{}, fmt.Errorf("store %d: no SSH access configured", n.StoreID)
	}
	data, ok, err := node.ReadFile(ctx, n.ConfigPath)
	if err != nil {
		return tikv.Encryption{}, fmt.Errorf("store %d: reading %s: %w", n.StoreID, n.ConfigPath, err)
	}
	if !ok {
		return tikv.Encryption{}, fmt.Errorf("store %d: %s does not exist on %s", n.StoreID, n.ConfigPath, n.Host)
	}
	cfg, err := tikvconf.ParseConfig(n.ConfigPath, data)
	if err != nil {
		return tikv.Encryption{}, fmt.Errorf("store %d: %w", n.StoreID, err)
	}
	return cfg.Encryption, nil
}
