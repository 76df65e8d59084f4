package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	vault "github.com/hashicorp/vault/api"
)

// Signer kinds a plan's [report] signer may name.
const (
	SignerFile  = "file"
	SignerVault = "vault"
	SignerAWS   = "aws"
)

// SignerKinds lists the valid [report] signer values.
func SignerKinds() []string { return []string{SignerFile, SignerVault, SignerAWS} }

// DefaultSigningKeyFile is the file key generated in the report directory when
// signer = "file" names no key-file.
const DefaultSigningKeyFile = "signing-key.pem"

// SignerConfig is the signer choice of a plan's [report] section.
type SignerConfig struct {
	// Kind is file, vault or aws; empty means file.
	Kind string
	// KeyFile is the file signer's PKCS#8 key (tikv-ear keygen). When empty,
	// Dir/signing-key.pem is used and generated if missing.
	KeyFile string
	// Dir is the report directory (for the generated file key).
	Dir string
	// Vault configures signer = "vault".
	Vault *VaultSignerConfig
	// AWS configures signer = "aws".
	AWS *AWSSignerConfig
}

// VaultSignerConfig names the Vault transit key that signs reports and how to
// reach Vault ([report.vault] in plan.toml). The token is only ever read from
// a file or the environment.
type VaultSignerConfig struct {
	// Key is the transit key, of type ecdsa-p256 (or ed25519).
	Key string `toml:"key" comment:"transit key of type ecdsa-p256 that signs the reports"`
	// Mount is the transit mount (default "transit").
	Mount string `toml:"mount,omitempty" comment:"transit mount (default transit)"`
	// Address overrides VAULT_ADDR (then BAO_ADDR).
	Address string `toml:"address,omitempty" comment:"default: [key.vault] address, VAULT_ADDR, BAO_ADDR"`
	// Namespace overrides VAULT_NAMESPACE.
	Namespace string `toml:"namespace,omitempty"`
	// CACert overrides VAULT_CACERT.
	CACert string `toml:"ca-cert,omitempty"`
	// TokenFile holds the token (else VAULT_TOKEN, then BAO_TOKEN).
	TokenFile string `toml:"token-file,omitempty" comment:"default: [key.vault] token-file, VAULT_TOKEN, BAO_TOKEN"`
}

// AWSSignerConfig names the AWS KMS key that signs reports and how to reach
// KMS ([report.aws] in plan.toml). Credentials come from the SDK's own chain.
type AWSSignerConfig struct {
	// KeyID is an asymmetric ECC_NIST_P256 SIGN_VERIFY key: id, ARN or alias.
	KeyID string `toml:"key-id" comment:"ECC_NIST_P256 key with KeyUsage SIGN_VERIFY (id, ARN or alias)"`
	// Region is the KMS region (default: [key.aws] region, then the SDK's).
	Region string `toml:"region,omitempty"`
	// Endpoint overrides the KMS endpoint.
	Endpoint string `toml:"endpoint,omitempty"`
	// Profile is the shared-config profile.
	Profile string `toml:"profile,omitempty"`
	// CredentialsFile is a shared-credentials file.
	CredentialsFile string `toml:"credentials-file,omitempty"`
}

// OpenSigner returns the signer cfg names; it is the one place a signer is
// chosen. For "file" with no KeyFile it generates Dir/signing-key.pem when
// missing and returns its path as generated. For "vault" and "aws" it reads
// the key's public key (so a wrong key type, a missing key or bad credentials
// fail here, before anything is signed) and never falls back to a local key.
// getenv reads the environment (os.Getenv; nil means no environment).
func OpenSigner(ctx context.Context, cfg SignerConfig, getenv func(string) string) (s Signer, generated string, err error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	switch cfg.Kind {
	case "", SignerFile:
		return openFileSigner(cfg)
	case SignerVault:
		s, err := openVaultSigner(ctx, cfg.Vault, getenv)
		if err != nil {
			return nil, "", fmt.Errorf(`[report] signer = "vault": %w`, err)
		}
		return s, "", nil
	case SignerAWS:
		s, err := openAWSSigner(ctx, cfg.AWS)
		if err != nil {
			return nil, "", fmt.Errorf(`[report] signer = "aws": %w`, err)
		}
		return s, "", nil
	}
	return nil, "", fmt.Errorf("[report] signer = %q is unknown: use one of %q", cfg.Kind, SignerKinds())
}

func openFileSigner(cfg SignerConfig) (Signer, string, error) {
	keyPath, generated := cfg.KeyFile, ""
	if keyPath == "" {
		dir := cfg.Dir
		if dir == "" {
			return nil, "", errors.New(`[report] signer = "file" names no key-file and no report directory to create one in`)
		}
		keyPath = filepath.Join(dir, DefaultSigningKeyFile)
		if _, err := os.Lstat(keyPath); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, "", fmt.Errorf("creating report directory %s: %w", dir, err)
			}
			if _, err := Keygen(keyPath, ECDSAP256); err != nil {
				return nil, "", err
			}
			generated = keyPath
		}
	}
	s, err := LoadFileSigner(keyPath)
	if err != nil {
		return nil, "", err
	}
	return s, generated, nil
}

func openVaultSigner(ctx context.Context, c *VaultSignerConfig, getenv func(string) string) (*VaultSigner, error) {
	if c == nil || c.Key == "" {
		return nil, errors.New("[report.vault] key is missing: name the transit key that signs reports (create one with: vault write -f transit/keys/tikv-ear-report type=ecdsa-p256)")
	}
	vc := vault.DefaultConfig() // VAULT_ADDR, VAULT_CACERT, ... from the environment
	if vc.Error != nil {
		return nil, fmt.Errorf("reading VAULT_* environment: %w", vc.Error)
	}
	switch {
	case c.Address != "":
		vc.Address = c.Address
	case getenv("VAULT_ADDR") == "" && getenv("BAO_ADDR") != "":
		// OpenBao's client reads BAO_ADDR and BAO_TOKEN (openbao/openbao
		// api/client.go@06db02a9: EnvVaultAddress = "BAO_ADDR", EnvVaultToken = "BAO_TOKEN").
		vc.Address = getenv("BAO_ADDR")
	case getenv("VAULT_ADDR") == "":
		return nil, errors.New("no Vault address: set [report.vault] address (or [key.vault] address), VAULT_ADDR or BAO_ADDR")
	}
	if c.CACert != "" {
		if err := vc.ConfigureTLS(&vault.TLSConfig{CACert: c.CACert}); err != nil {
			return nil, fmt.Errorf("reading ca-cert %s: %w", c.CACert, err)
		}
	}
	vc.MaxRetries = 0
	client, err := vault.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("creating the Vault client: %w", err)
	}
	if c.Namespace != "" {
		client.SetNamespace(c.Namespace)
	}
	switch {
	case c.TokenFile != "":
		tok, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading token-file %s: %w", c.TokenFile, err)
		}
		client.SetToken(strings.TrimSpace(string(tok)))
	case getenv("VAULT_TOKEN") != "":
		client.SetToken(getenv("VAULT_TOKEN"))
	case getenv("BAO_TOKEN") != "":
		client.SetToken(getenv("BAO_TOKEN"))
	default:
		return nil, errors.New("no Vault token: set [report.vault] token-file (or [key.vault] token-file), VAULT_TOKEN or BAO_TOKEN")
	}
	mount := c.Mount
	if mount == "" {
		mount = "transit"
	}
	return NewVaultSigner(ctx, client, mount, c.Key)
}

func openAWSSigner(ctx context.Context, c *AWSSignerConfig) (*AWSKMSSigner, error) {
	if c == nil || c.KeyID == "" {
		return nil, errors.New("[report.aws] key-id is missing: name an ECC_NIST_P256 key with KeyUsage SIGN_VERIFY (aws kms create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY)")
	}
	var opts []func(*awsconfig.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.Profile))
	}
	if c.CredentialsFile != "" {
		if _, err := os.Stat(c.CredentialsFile); err != nil {
			return nil, fmt.Errorf("reading credentials-file %s: %w", c.CredentialsFile, err)
		}
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{c.CredentialsFile}))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("no AWS region: set [report.aws] region (or [key.aws] region) or AWS_REGION")
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	return NewAWSKMSSigner(ctx, client, c.KeyID)
}

// CheckSigner opens the signer cfg names without creating anything, for
// preflight: a file signer with no key-file passes (OpenSigner generates one
// in the report directory). It returns a one-line description of the signer.
func CheckSigner(ctx context.Context, cfg SignerConfig, getenv func(string) string) (string, error) {
	if (cfg.Kind == "" || cfg.Kind == SignerFile) && cfg.KeyFile == "" {
		return "file signer: " + DefaultSigningKeyFile + " in the report directory (generated when missing)", nil
	}
	cfg.Dir = ""
	s, _, err := OpenSigner(ctx, cfg, getenv)
	if err != nil {
		return "", err
	}
	return DescribeSigner(s), nil
}

// DescribeSigner names s for messages: its kind, key and fingerprint.
func DescribeSigner(s Signer) string {
	switch k := s.(type) {
	case *VaultSigner:
		return fmt.Sprintf("vault signer: transit key %s/keys/%s version %d (%s)", k.mount, k.name, k.version, k.KeyID())
	case *AWSKMSSigner:
		return fmt.Sprintf("aws signer: KMS key %s (%s)", k.keyID, k.KeyID())
	}
	return fmt.Sprintf("file signer (%s)", s.KeyID())
}
