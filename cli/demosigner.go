package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/report"
)

// demoSigningKeyName names the signing key the demo creates in each service.
const demoSigningKeyName = "tikv-ear-report"

// demoSigningKeys creates a report signing key in the demo's key services,
// so the wizard's "vault" and "aws" report signers work out of the box: an
// ECC_NIST_P256 SIGN_VERIFY key aliased alias/tikv-ear-report in local-kms
// (kms CreateKey/CreateAlias), and a transit key tikv-ear-report of type
// ecdsa-p256 in Vault (POST transit/keys/:name, the signer's default mount).
// A service that refuses is reported and left out: the wizard then asks for
// a key and preflight says why the signer cannot be used.
func demoSigningKeys(ctx context.Context, g *Globals, a *awskms.Config, v *vault.Config) map[string]string {
	keys := map[string]string{}
	if a != nil {
		if id, err := demoAWSSigningKey(ctx, a); err != nil {
			fmt.Fprintf(g.IO.Err, "tikv-ear: no AWS report signing key in local-kms: %v\n", err)
		} else {
			keys[report.SignerAWS] = id
		}
	}
	if v != nil {
		if err := demoVaultSigningKey(v, g.IO.Getenv); err != nil {
			fmt.Fprintf(g.IO.Err, "tikv-ear: no Vault report signing key: %v\n", err)
		} else {
			keys[report.SignerVault] = demoSigningKeyName
		}
	}
	return keys
}

func demoAWSSigningKey(ctx context.Context, a *awskms.Config) (string, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(a.Region), awsconfig.WithSharedCredentialsFiles([]string{a.CredentialsFile}))
	if err != nil {
		return "", fmt.Errorf("loading the AWS config: %w", err)
	}
	c := awskmsapi.NewFromConfig(cfg, func(o *awskmsapi.Options) { o.BaseEndpoint = aws.String(a.Endpoint) })
	out, err := c.CreateKey(ctx, &awskmsapi.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify,
		Description: aws.String("tikv-ear demo: signs the reports")})
	if err != nil {
		return "", fmt.Errorf("creating an ECC_NIST_P256 key: %w", err)
	}
	alias := "alias/" + demoSigningKeyName
	if _, err := c.CreateAlias(ctx, &awskmsapi.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return aws.ToString(out.KeyMetadata.Arn), nil // the key works without its alias
	}
	return alias, nil
}

func demoVaultSigningKey(v *vault.Config, getenv func(string) string) error {
	cfg := vaultapi.DefaultConfig()
	cfg.Address = v.Address
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("vault client: %w", err)
	}
	tok := getenv("VAULT_TOKEN")
	if tok == "" {
		tok = getenv("BAO_TOKEN")
	}
	if v.TokenFile != "" {
		b, err := os.ReadFile(v.TokenFile)
		if err != nil {
			return fmt.Errorf("reading the token file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return fmt.Errorf("no token: set VAULT_TOKEN (or BAO_TOKEN)")
	}
	c.SetToken(tok)
	if v.Namespace != "" {
		c.SetNamespace(v.Namespace)
	}
	if _, err := c.Logical().Write("transit/keys/"+demoSigningKeyName, map[string]any{"type": "ecdsa-p256"}); err != nil {
		return fmt.Errorf("creating transit key %s (is transit mounted? vault secrets enable transit): %s", demoSigningKeyName, strings.Join(strings.Fields(err.Error()), " "))
	}
	return nil
}
