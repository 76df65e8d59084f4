package report

import (
	"context"
	"crypto/ecdsa"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tikv-ear/tikv-ear/kms/kmstest"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestOpenSignerHonoursTheKind: each kind gives its own signer, never a local key
// in place of a remote one.
func TestOpenSignerHonoursTheKind(t *testing.T) {
	fake := &fakeTransit{keys: map[int]*ecdsa.PrivateKey{1: genKey(t)}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	s, gen, err := OpenSigner(ctx, SignerConfig{Kind: SignerVault, Dir: dir, Vault: &VaultSignerConfig{Key: "report-signer", Address: srv.URL, TokenFile: tok}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*VaultSigner); !ok || gen != "" || !s.Public().(*ecdsa.PublicKey).Equal(&fake.keys[1].PublicKey) {
		t.Fatalf("vault: got %T (generated %q)", s, gen)
	}
	// BAO_ADDR and BAO_TOKEN are honoured after VAULT_*.
	if _, _, err := OpenSigner(ctx, SignerConfig{Kind: SignerVault, Vault: &VaultSignerConfig{Key: "report-signer"}},
		envOf(map[string]string{"BAO_ADDR": srv.URL, "BAO_TOKEN": "test-token"})); err != nil {
		t.Fatalf("BAO_* environment: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultSigningKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a vault signer generated a local key")
	}

	s, gen, err = OpenSigner(ctx, SignerConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*FileSigner); !ok || gen != filepath.Join(dir, DefaultSigningKeyFile) {
		t.Fatalf("file: got %T, generated %q", s, gen)
	}

	for _, c := range []struct {
		name string
		cfg  SignerConfig
		env  map[string]string
		want []string
	}{
		{"vault without key", SignerConfig{Kind: SignerVault, Dir: dir}, nil, []string{`[report] signer = "vault"`, "[report.vault] key is missing"}},
		{"vault without address", SignerConfig{Kind: SignerVault, Vault: &VaultSignerConfig{Key: "k"}}, nil, []string{"no Vault address"}},
		{"vault without token", SignerConfig{Kind: SignerVault, Vault: &VaultSignerConfig{Key: "k", Address: srv.URL}}, nil, []string{"no Vault token"}},
		{"vault bad token", SignerConfig{Kind: SignerVault, Vault: &VaultSignerConfig{Key: "report-signer", Address: srv.URL}}, map[string]string{"VAULT_TOKEN": "wrong"}, []string{"transit/keys/report-signer", "permission denied"}},
		{"aws without key", SignerConfig{Kind: SignerAWS, Dir: dir}, nil, []string{`[report] signer = "aws"`, "[report.aws] key-id is missing"}},
		{"unknown", SignerConfig{Kind: "gpg", Dir: dir}, nil, []string{`signer = "gpg" is unknown`}},
	} {
		s, _, err := OpenSigner(ctx, c.cfg, envOf(c.env))
		if err == nil {
			t.Errorf("%s: got a %T signer, want a refusal", c.name, s)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("%s: the token reached the error: %v", c.name, err)
		}
	}
}

// TestOpenSignerAWSLocalKMS opens signer = "aws" against a real
// nsmithuk/local-kms and has sigstore-go verify the report with the public key
// KMS itself returns for the key.
func TestOpenSignerAWSLocalKMS(t *testing.T) {
	lk := kmstest.Start(t, kmstest.Options{Keys: 1}) // fails, never skips, without local-kms
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	client := kms.New(kms.Options{Region: lk.Region, BaseEndpoint: aws.String(lk.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	created, err := client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatalf("CreateKey ECC_NIST_P256: %v", err)
	}
	s, gen, err := OpenSigner(ctx, SignerConfig{Kind: SignerAWS, Dir: t.TempDir(), AWS: &AWSSignerConfig{
		KeyID: *created.KeyMetadata.Arn, Region: lk.Region, Endpoint: lk.Endpoint, CredentialsFile: lk.CredentialsFile}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*AWSKMSSigner); !ok || gen != "" {
		t.Fatalf("got %T, generated %q", s, gen)
	}
	files, err := WriteSigned(ctx, t.TempDir(), sampleReport(), s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: created.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := parsePKIX(out.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sigstoreVerifyFiles(t, pub, files)
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, BundlePath: files.Bundle}); err != nil {
		t.Fatal(err)
	}
}
