// Package awskms is the AWS KMS master-key backend. TiKV talks to AWS KMS itself
// (type = "kms", vendor = "aws"): it calls GenerateDataKey (KeySpec AES_256) and
// Decrypt and nothing else (components/cloud/aws/src/kms.rs; reference
// kms-and-evidence.md §0.2), so nothing is delivered to hosts.
//
// Runbook:
//   - Preflight (operator machine, aws-sdk-go-v2 with region, endpoint, profile,
//     shared credentials file or instance role): DescribeKey must show Enabled,
//     KeyState Enabled, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT; a GenerateDataKey
//     (AES_256)/Decrypt round trip must succeed; GetKeyRotationStatus is reported.
//   - CMK-native rotation (EnableKeyRotation, RotateKeyOnDemand) is transparent
//     to TiKV: old ciphertexts still decrypt and key.dict is not re-wrapped
//     (reference §2.1). Prefer it. EnableRotation turns it on.
//   - Master-key rotation to a different CMK: Prepare(new) returns the next key
//     (next-key-id, or CreateKey when create-keys is set); render master-key = new,
//     previous-master-key = old and do a rolling restart. TiKV before
//     v6.5.11/v7.1.6/v7.5.4/v8.1.1/v8.4.0 fails this (tikv/tikv#17410).
//   - Retire = DisableKey (default) or ScheduleKeyDeletion with a 7–30 day window,
//     only with explicit confirmation, only after every store restarted on the new key.
//   - Static credentials for TiKV ([master-key.aws] access-key/secret-access-key,
//     TiKV ≥ v8.4.0) come only from a shared-credentials file named in the plan,
//     never argv. TiKV then exposes them in GET /config and last_tikv.toml
//     (reference tikv-encryption.md §4.2): prefer an instance role.
//   - RotateKeyOnDemand and ListKeyRotations sit behind RotationAPI because
//     local-kms answers 501 for them (reference §3.2).
package awskms

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

// Config is the [key.aws] section of a plan.
type Config struct {
	// KeyID is the CMK: key id, key ARN, alias/NAME or alias ARN. TiKV gets the key ARN.
	KeyID string `toml:"key-id"`
	// Region is the KMS region (rendered into tikv.toml and used by the tool).
	Region string `toml:"region"`
	// Endpoint overrides the KMS endpoint (rendered into tikv.toml too), e.g. a VPC endpoint.
	Endpoint string `toml:"endpoint,omitempty"`
	// Profile is the tool's shared-config profile (default chain when empty).
	Profile string `toml:"profile,omitempty"`
	// CredentialsFile is the tool's shared-credentials file (default chain when empty).
	CredentialsFile string `toml:"credentials-file,omitempty"`
	// TiKVCredentialsFile, when set, is a shared-credentials file whose keys are
	// rendered into [master-key.aws] for TiKV (≥ v8.4.0 only).
	TiKVCredentialsFile string `toml:"tikv-credentials-file,omitempty"`
	// TiKVCredentialsProfile selects the profile in TiKVCredentialsFile (default "default").
	TiKVCredentialsProfile string `toml:"tikv-credentials-profile,omitempty"`
	// NextKeyID is the CMK Prepare(new) moves to.
	NextKeyID string `toml:"next-key-id,omitempty"`
	// CreateKeys lets Prepare(new) create a CMK when NextKeyID is empty.
	CreateKeys bool `toml:"create-keys,omitempty"`
}

// API is the part of the AWS KMS client the backend uses (*kms.Client satisfies it).
type API interface {
	DescribeKey(ctx context.Context, in *awskms.DescribeKeyInput, optFns ...func(*awskms.Options)) (*awskms.DescribeKeyOutput, error)
	GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, optFns ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *awskms.DecryptInput, optFns ...func(*awskms.Options)) (*awskms.DecryptOutput, error)
	GetKeyRotationStatus(ctx context.Context, in *awskms.GetKeyRotationStatusInput, optFns ...func(*awskms.Options)) (*awskms.GetKeyRotationStatusOutput, error)
	EnableKeyRotation(ctx context.Context, in *awskms.EnableKeyRotationInput, optFns ...func(*awskms.Options)) (*awskms.EnableKeyRotationOutput, error)
	DisableKey(ctx context.Context, in *awskms.DisableKeyInput, optFns ...func(*awskms.Options)) (*awskms.DisableKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *awskms.ScheduleKeyDeletionInput, optFns ...func(*awskms.Options)) (*awskms.ScheduleKeyDeletionOutput, error)
	CreateKey(ctx context.Context, in *awskms.CreateKeyInput, optFns ...func(*awskms.Options)) (*awskms.CreateKeyOutput, error)
}

// RotationAPI is on-demand rotation and its history (*kms.Client satisfies it;
// local-kms does not implement either and answers 501).
type RotationAPI interface {
	RotateKeyOnDemand(ctx context.Context, in *awskms.RotateKeyOnDemandInput, optFns ...func(*awskms.Options)) (*awskms.RotateKeyOnDemandOutput, error)
	ListKeyRotations(ctx context.Context, in *awskms.ListKeyRotationsInput, optFns ...func(*awskms.Options)) (*awskms.ListKeyRotationsOutput, error)
}

// Backend is the AWS KMS backend.
type Backend struct {
	cfg       Config
	api       API
	rot       RotationAPI
	tikvCreds *tikv.AWSKMS // static credentials for TiKV, nil when TiKV uses its default chain
}

var _ core.Backend = (*Backend)(nil)

// New builds the backend with an aws-sdk-go-v2 client from cfg. No request is
// sent; credentials resolve on first use.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.CredentialsFile != "" {
		if _, err := os.Stat(cfg.CredentialsFile); err != nil {
			return nil, fmt.Errorf("aws key backend: reading credentials-file %s: %w", cfg.CredentialsFile, err)
		}
		opts = append(opts, config.WithSharedCredentialsFiles([]string{cfg.CredentialsFile}))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws key backend: loading aws config: %w", err)
	}
	client := awskms.NewFromConfig(awsCfg, func(o *awskms.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return NewWithClient(cfg, client, client)
}

// NewWithClient builds the backend on given clients (tests, or a caller that
// wires its own SDK config). rot may be nil.
func NewWithClient(cfg Config, api API, rot RotationAPI) (*Backend, error) {
	b := &Backend{cfg: cfg, api: api, rot: rot}
	if cfg.TiKVCredentialsFile != "" {
		profile := cfg.TiKVCredentialsProfile
		if profile == "" {
			profile = "default"
		}
		c, err := readStaticCredentials(context.Background(), cfg.TiKVCredentialsFile, profile)
		if err != nil {
			return nil, err
		}
		b.tikvCreds = c
	}
	return b, nil
}

// readStaticCredentials reads aws_access_key_id and aws_secret_access_key of a
// profile from an AWS shared-credentials file with the SDK's own shared-config
// loader (config.LoadSharedConfigProfile, only that file). Errors never contain
// the secret: the loader's own error is summarised, not quoted.
func readStaticCredentials(ctx context.Context, path, profile string) (*tikv.AWSKMS, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("aws key backend: reading tikv-credentials-file %s: %w", path, err)
	}
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{path}
		o.ConfigFiles = []string{} // non-nil: do not read ~/.aws/config
	})
	var missing config.SharedConfigProfileNotExistError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("aws key backend: %s has no profile [%s]", path, profile)
	case err != nil:
		return nil, fmt.Errorf("aws key backend: %s is not a valid shared-credentials file (profile [%s]); want lines key = value under [%s]", path, profile, profile)
	}
	if sc.Credentials.AccessKeyID == "" || sc.Credentials.SecretAccessKey == "" {
		return nil, fmt.Errorf("aws key backend: %s: profile [%s] needs aws_access_key_id and aws_secret_access_key", path, profile)
	}
	return &tikv.AWSKMS{AccessKey: sc.Credentials.AccessKeyID, SecretAccessKey: sc.Credentials.SecretAccessKey}, nil
}

// Name implements core.Backend.
func (b *Backend) Name() string { return core.BackendAWS }

// arnRegion returns the region of a KMS key or alias ARN, or "" for a bare id/alias.
func arnRegion(id string) string {
	// arn:aws:kms:<region>:<account>:key/<id> (or :alias/<name>)
	parts := strings.SplitN(id, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" {
		return parts[3]
	}
	return ""
}

// Validate implements core.Backend.
func (b *Backend) Validate(env core.Environment, tikvVersions []string) []core.Finding {
	vs, fs := core.VersionFindings(tikvVersions)
	if b.cfg.KeyID == "" {
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "aws-key-id",
			Message: "[key.aws] key-id is empty (TiKV: \"key id should not be empty\")", Fix: "set key-id to the CMK's key ARN",
			Source: "components/encryption/src/config.rs to_cloud_config"})
	}
	if b.cfg.Region == "" {
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "aws-region",
			Message: "[key.aws] region is empty", Fix: "set region to the CMK's region, e.g. us-west-2"})
	}
	for _, id := range []string{b.cfg.KeyID, b.cfg.NextKeyID} {
		if r := arnRegion(id); r != "" && b.cfg.Region != "" && r != b.cfg.Region {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "aws-region-mismatch",
				Message: fmt.Sprintf("[key.aws] key %s is in region %s but region = %q", id, r, b.cfg.Region),
				Fix:     "set region = \"" + r + "\" or use a key from " + b.cfg.Region})
		}
	}
	if b.cfg.TiKVCredentialsFile != "" {
		if old := core.Below(vs, core.MinAWSSubtable); len(old) > 0 {
			fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "aws-subtable-version",
				Message: fmt.Sprintf("[master-key.aws] access-key/secret-access-key need TiKV %s or later; cluster has %s", core.MinAWSSubtable, strings.Join(old, ", ")),
				Fix:     "drop tikv-credentials-file and give TiKV an instance role or AWS_* environment, or upgrade TiKV",
				Source:  "tikv/tikv PR #17387 (first tag v8.4.0)"})
		}
		fs = append(fs, core.Finding{Severity: core.SeverityWarn, Code: "aws-static-credentials-exposed",
			Message: "static credentials in tikv.toml are served by TiKV's GET /config and persisted in <data-dir>/last_tikv.toml",
			Fix:     "prefer an instance role; otherwise restrict the status port and the data directory",
			Source:  "reference tikv-encryption.md §4.2"})
	}
	if f := core.KMSRotationFinding(vs); f != nil {
		fs = append(fs, *f)
	}
	return fs
}

// describeError turns an SDK error into a sentence naming the key and region.
func (b *Backend) describeError(op, keyID string, err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFoundException":
			return fmt.Sprintf("%s: key %s not found in region %s (%s)", op, keyID, b.cfg.Region, ae.ErrorMessage())
		case "DisabledException":
			return fmt.Sprintf("%s: key %s is disabled (%s)", op, keyID, ae.ErrorMessage())
		case "AccessDeniedException":
			return fmt.Sprintf("%s: access denied to key %s (%s)", op, keyID, ae.ErrorMessage())
		}
		return fmt.Sprintf("%s on key %s: %s: %s", op, keyID, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Sprintf("%s on key %s: %v", op, keyID, err)
}

// Preflight implements core.Backend.
func (b *Backend) Preflight(ctx context.Context) []core.Check {
	var checks []core.Check
	id := b.cfg.KeyID
	if r := arnRegion(id); r != "" && r != b.cfg.Region {
		return []core.Check{{Name: "aws key region", Status: core.StatusFail,
			Reason: fmt.Sprintf("key %s is in region %s, but region = %q", id, r, b.cfg.Region),
			Fix:    "set [key.aws] region = \"" + r + "\" or use a key ARN from " + b.cfg.Region}}
	}
	out, err := b.api.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return []core.Check{{Name: "aws DescribeKey", Status: core.StatusFail, Reason: b.describeError("DescribeKey", id, err),
			Fix: "check key-id and region, and that the tool's identity has kms:DescribeKey"}}
	}
	md := out.KeyMetadata
	var bad []string
	if !md.Enabled {
		bad = append(bad, "Enabled is false")
	}
	if md.KeyState != types.KeyStateEnabled {
		bad = append(bad, "KeyState is "+string(md.KeyState))
	}
	if md.KeyUsage != types.KeyUsageTypeEncryptDecrypt {
		bad = append(bad, "KeyUsage is "+string(md.KeyUsage))
	}
	if md.KeySpec != types.KeySpecSymmetricDefault {
		bad = append(bad, "KeySpec is "+string(md.KeySpec))
	}
	if len(bad) > 0 {
		return append(checks, core.Check{Name: "aws DescribeKey", Status: core.StatusFail,
			Reason: fmt.Sprintf("key %s: %s; TiKV needs an enabled SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key", aws.ToString(md.Arn), strings.Join(bad, ", ")),
			Fix:    "enable the key (aws kms enable-key) or choose a symmetric encryption key"})
	}
	checks = append(checks, core.Check{Name: "aws DescribeKey", Status: core.StatusPass,
		Reason: fmt.Sprintf("%s Enabled, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT", aws.ToString(md.Arn))})

	checks = append(checks, b.roundTrip(ctx, aws.ToString(md.Arn)))

	rs, err := b.api.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: md.Arn})
	switch {
	case err != nil:
		checks = append(checks, core.Check{Name: "aws GetKeyRotationStatus", Status: core.StatusWarn, Reason: b.describeError("GetKeyRotationStatus", id, err),
			Fix: "grant kms:GetKeyRotationStatus so the report can show the rotation schedule"})
	case !rs.KeyRotationEnabled:
		checks = append(checks, core.Check{Name: "aws GetKeyRotationStatus", Status: core.StatusWarn, Reason: "automatic CMK rotation is off",
			Fix: "enable it (transparent to TiKV): aws kms enable-key-rotation --key-id <key ARN> --rotation-period-in-days 365"})
	default:
		reason := "automatic CMK rotation is on"
		if rs.RotationPeriodInDays != nil {
			reason += fmt.Sprintf(", every %d days", *rs.RotationPeriodInDays)
		}
		checks = append(checks, core.Check{Name: "aws GetKeyRotationStatus", Status: core.StatusPass, Reason: reason})
	}
	return checks
}

// roundTrip does what TiKV does: GenerateDataKey(AES_256) then Decrypt.
func (b *Backend) roundTrip(ctx context.Context, arn string) core.Check {
	name := "aws GenerateDataKey/Decrypt"
	gen, err := b.api.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(arn), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusFail, Reason: b.describeError("GenerateDataKey", arn, err), Fix: "grant kms:GenerateDataKey to the TiKV and tool identities"}
	}
	defer core.Wipe(gen.Plaintext)
	dec, err := b.api.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(arn), CiphertextBlob: gen.CiphertextBlob})
	if err != nil {
		return core.Check{Name: name, Status: core.StatusFail, Reason: b.describeError("Decrypt", arn, err), Fix: "grant kms:Decrypt to the TiKV and tool identities"}
	}
	defer core.Wipe(dec.Plaintext)
	if len(gen.Plaintext) != 32 || subtle.ConstantTimeCompare(gen.Plaintext, dec.Plaintext) != 1 {
		return core.Check{Name: name, Status: core.StatusFail, Reason: "decrypted data key differs from the generated one", Fix: "check the endpoint points at a genuine KMS"}
	}
	return core.Check{Name: name, Status: core.StatusPass, Reason: "AES_256 data key generated and decrypted"}
}

// HostPreflight implements core.Backend: TiKV reaches KMS itself; nothing to check on disk.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	reason := "TiKV calls AWS KMS itself with its default credential chain (instance role or AWS_* environment)"
	if b.tikvCreds != nil {
		reason = "TiKV calls AWS KMS itself with the static credentials rendered into tikv.toml"
	}
	return []core.Check{{Name: "aws key on " + h.Name(), Status: core.StatusPass, Reason: reason + "; no key file is needed"}}
}

// Prepare implements core.Backend. Current resolves key-id to its ARN; new
// moves to next-key-id, or creates a CMK when create-keys is set.
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	switch purpose {
	case core.PurposeCurrent:
		return b.describeRef(ctx, b.cfg.KeyID)
	case core.PurposeNew:
		if b.cfg.NextKeyID != "" {
			return b.describeRef(ctx, b.cfg.NextKeyID)
		}
		if !b.cfg.CreateKeys {
			return core.KeyRef{}, errors.New("aws key backend: a new master key needs [key.aws] next-key-id (or create-keys = true); " +
				"prefer CMK-native rotation, which is transparent to TiKV")
		}
		out, err := b.api.CreateKey(ctx, &awskms.CreateKeyInput{
			Description: aws.String("tikv-ear TiKV master key"),
			KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
			KeySpec:     types.KeySpecSymmetricDefault,
		})
		if err != nil {
			return core.KeyRef{}, fmt.Errorf("aws key backend: CreateKey: %w", err)
		}
		return b.describeRef(ctx, aws.ToString(out.KeyMetadata.Arn))
	}
	return core.KeyRef{}, fmt.Errorf("aws key backend: unknown purpose %q", purpose)
}

func (b *Backend) describeRef(ctx context.Context, id string) (core.KeyRef, error) {
	out, err := b.api.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return core.KeyRef{}, errors.New("aws key backend: " + b.describeError("DescribeKey", id, err))
	}
	md := out.KeyMetadata
	return core.KeyRef{
		Backend: core.BackendAWS, ID: aws.ToString(md.Arn), Created: aws.ToTime(md.CreationDate).UTC(),
		Attrs: map[string]string{"region": b.cfg.Region, "configured_key_id": id, "key_state": string(md.KeyState)},
	}, nil
}

// MasterKey implements core.Backend: type = "kms", vendor = "aws", key-id = the
// key ARN, region, endpoint, and [aws] static credentials when configured.
func (b *Backend) MasterKey(ref core.KeyRef) tikv.MasterKey {
	region := b.cfg.Region
	if r := ref.Attrs["region"]; r != "" {
		region = r
	}
	mk := tikv.MasterKey{Type: tikv.MasterKeyKMS, KeyID: ref.ID, Region: region, Endpoint: b.cfg.Endpoint, Vendor: tikv.VendorAWS}
	if b.tikvCreds != nil {
		c := *b.tikvCreds
		mk.AWS = &c
	}
	return mk
}

// Deliver implements core.Backend: nothing to deliver for a KMS key.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error { return nil }

// Retire implements core.Backend: DisableKey (action "disable", default) or
// ScheduleKeyDeletion (action "schedule-deletion", 7–30 days).
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	if !opts.Confirmed {
		return core.Evidence{}, fmt.Errorf("retiring aws key %s: not confirmed: TiKV stores still holding key.dict wrapped by this key cannot start; confirm explicitly", ref.ID)
	}
	var action string
	switch opts.Action {
	case "", "disable":
		if _, err := b.api.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(ref.ID)}); err != nil {
			return core.Evidence{}, errors.New("retiring aws key: " + b.describeError("DisableKey", ref.ID, err))
		}
		action = "DisableKey " + ref.ID
	case "schedule-deletion":
		days := opts.PendingWindowDays
		if days == 0 {
			days = 30
		}
		if days < 7 || days > 30 {
			return core.Evidence{}, fmt.Errorf("retiring aws key %s: pending window %d days is outside 7–30", ref.ID, days)
		}
		if _, err := b.api.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(ref.ID), PendingWindowInDays: aws.Int32(int32(days))}); err != nil {
			return core.Evidence{}, errors.New("retiring aws key: " + b.describeError("ScheduleKeyDeletion", ref.ID, err))
		}
		action = fmt.Sprintf("ScheduleKeyDeletion %s (%d days)", ref.ID, days)
	default:
		return core.Evidence{}, fmt.Errorf("retiring aws key %s: unknown action %q (want \"disable\" or \"schedule-deletion\")", ref.ID, opts.Action)
	}
	ev, err := b.Evidence(ctx, ref)
	ev.Actions = append(ev.Actions, action)
	return ev, err
}

// Evidence implements core.Backend: key metadata, rotation status and (when the
// endpoint supports it) the rotation history.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	ev := core.Evidence{Backend: core.BackendAWS, KeyID: ref.ID, Attrs: map[string]string{"region": b.cfg.Region}}
	out, err := b.api.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(ref.ID)})
	if err != nil {
		return ev, errors.New("aws evidence: " + b.describeError("DescribeKey", ref.ID, err))
	}
	md := out.KeyMetadata
	ev.Created = aws.ToTime(md.CreationDate).UTC()
	ev.State = string(md.KeyState)
	if md.DeletionDate != nil {
		ev.Attrs["deletion_date"] = md.DeletionDate.UTC().Format(time.RFC3339)
	}
	if md.CurrentKeyMaterialId != nil {
		ev.KeyVersion = aws.ToString(md.CurrentKeyMaterialId)
	}
	if rs, err := b.api.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(ref.ID)}); err == nil {
		on := rs.KeyRotationEnabled
		ev.RotationEnabled = &on
		if rs.RotationPeriodInDays != nil {
			ev.RotationPeriod = fmt.Sprintf("%dd", *rs.RotationPeriodInDays)
		}
		if rs.NextRotationDate != nil {
			ev.NextRotation = rs.NextRotationDate.UTC()
		}
	} else {
		ev.Attrs["rotation_status"] = "unavailable: " + b.describeError("GetKeyRotationStatus", ref.ID, err)
	}
	if b.rot != nil {
		if lr, err := b.rot.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(ref.ID)}); err == nil {
			ev.Attrs["rotations"] = fmt.Sprint(len(lr.Rotations))
			for _, r := range lr.Rotations {
				if r.RotationDate != nil {
					ev.Attrs["last_rotation"] = r.RotationDate.UTC().Format(time.RFC3339)
				}
			}
		} else {
			ev.Attrs["rotations"] = "unavailable"
		}
	}
	return ev, nil
}

// EnableRotation turns on automatic CMK rotation (transparent to TiKV).
// periodDays 0 keeps AWS's default (365); otherwise it must be 90–2560
// (reference kms-and-evidence.md §3.1).
func (b *Backend) EnableRotation(ctx context.Context, ref core.KeyRef, periodDays int) error {
	in := &awskms.EnableKeyRotationInput{KeyId: aws.String(ref.ID)}
	if periodDays != 0 {
		if periodDays < 90 || periodDays > 2560 {
			return fmt.Errorf("enabling rotation of %s: period %d days is outside 90–2560", ref.ID, periodDays)
		}
		in.RotationPeriodInDays = aws.Int32(int32(periodDays))
	}
	if _, err := b.api.EnableKeyRotation(ctx, in); err != nil {
		return errors.New("enabling rotation: " + b.describeError("EnableKeyRotation", ref.ID, err))
	}
	return nil
}

// RotateNow rotates the CMK's key material on demand (at most 25 times per key,
// reference §3.1). Transparent to TiKV.
func (b *Backend) RotateNow(ctx context.Context, ref core.KeyRef) error {
	if b.rot == nil {
		return fmt.Errorf("rotating %s on demand: no rotation client configured", ref.ID)
	}
	if _, err := b.rot.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(ref.ID)}); err != nil {
		return errors.New("rotating on demand: " + b.describeError("RotateKeyOnDemand", ref.ID, err))
	}
	return nil
}

// Fields lists the [key.aws] settings for form generation.
func Fields() []core.Field {
	return []core.Field{
		{Key: "key-id", TiKVKey: "key-id", Label: "Key", Help: "key id, key ARN, alias/NAME or alias ARN (TiKV gets the key ARN)", Placeholder: "alias/tikv-master", Required: true,
			Pattern: `^(alias/.+|arn:aws[a-z-]*:kms:.+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`, PatternHelp: "use alias/NAME, a key ARN or a key id"},
		{Key: "region", TiKVKey: "region", Label: "Region", Help: "the key's region", Placeholder: "us-west-2", Required: true,
			Pattern: `^[a-z]{2}(-[a-z]+)+-\d+$`, PatternHelp: "use a region name such as us-west-2"},
		{Key: "endpoint", TiKVKey: "endpoint", Label: "Endpoint", Help: "KMS endpoint override (VPC endpoint), rendered for TiKV too", Format: core.FormatURL},
		{Key: "credentials-file", Label: "Credentials file", Help: "this tool's shared-credentials file (SDK default chain when empty)", Secret: true},
		{Key: "profile", Label: "Profile", Help: "this tool's shared-config profile", Advanced: true},
		{Key: "tikv-credentials-file", TiKVKey: "aws.access-key", Label: "Static credentials for TiKV",
			Help: "shared-credentials file whose keys become [master-key.aws] access-key/secret-access-key (TiKV ≥ v8.4.0)", Secret: true, Advanced: true},
		{Key: "tikv-credentials-profile", Label: "Profile in that file", Help: "default \"default\"", Advanced: true},
		{Key: "next-key-id", Label: "Next key", Help: "the CMK a master-key rotation moves to", Advanced: true},
		{Key: "create-keys", Label: "Create rotation keys", Help: "yes: a rotation creates a new CMK when no next key is named", Default: "no", Format: core.FormatYesNo, Advanced: true},
	}
}
