package report

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	vault "github.com/hashicorp/vault/api"
)

func genKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeTransit serves transit/keys/<name> and transit/sign/<name>/sha2-256 with
// real ECDSA keys, two versions, per reference kms-and-evidence.md §1.1.
type fakeTransit struct {
	keys  map[int]*ecdsa.PrivateKey
	mu    sync.Mutex
	signs int
}

func (f *fakeTransit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != "test-token" {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/transit/keys/report-signer":
		keys := map[string]any{}
		for v, k := range f.keys {
			der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
			keys[fmt.Sprint(v)] = map[string]any{
				"name": "P-256", "public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
				"creation_time": time.Date(2026, 1, v, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano),
			}
		}
		writeJSON(w, map[string]any{"data": map[string]any{
			"name": "report-signer", "type": "ecdsa-p256", "latest_version": len(f.keys), "min_decryption_version": 1,
			"auto_rotate_period": 0, "supports_signing": true, "keys": keys,
		}})
	case r.Method == http.MethodPost || r.Method == http.MethodPut:
		if r.URL.Path != "/v1/transit/sign/report-signer/sha2-256" {
			http.Error(w, `{"errors":["unsupported path"]}`, http.StatusNotFound)
			return
		}
		var body struct {
			Input       string `json:"input"`
			Marshaling  string `json:"marshaling_algorithm"`
			KeyVersion  int    `json:"key_version"`
			Prehashed   bool   `json:"prehashed"`
			HashAlgName string `json:"hash_algorithm"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Marshaling != "asn1" || body.Prehashed {
			http.Error(w, `{"errors":["bad request"]}`, http.StatusBadRequest)
			return
		}
		in, err := base64.StdEncoding.DecodeString(body.Input)
		k := f.keys[body.KeyVersion]
		if err != nil || k == nil {
			http.Error(w, `{"errors":["bad input or version"]}`, http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(in)
		sig, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
		f.mu.Lock()
		f.signs++
		f.mu.Unlock()
		writeJSON(w, map[string]any{"data": map[string]any{
			"signature": fmt.Sprintf("vault:v%d:%s", body.KeyVersion, base64.StdEncoding.EncodeToString(sig)), "key_version": body.KeyVersion,
		}})
	default:
		http.Error(w, `{"errors":["unsupported"]}`, http.StatusMethodNotAllowed)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestVaultTransitSigner(t *testing.T) {
	fake := &fakeTransit{keys: map[int]*ecdsa.PrivateKey{1: genKey(t), 2: genKey(t)}}
	srv := httptest.NewServer(fake) // binds 127.0.0.1
	defer srv.Close()
	cfg := vault.DefaultConfig()
	cfg.Address = srv.URL
	cfg.MaxRetries = 0
	client, err := vault.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken("test-token")
	s, err := NewVaultSigner(context.Background(), client, "transit", "report-signer")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Public().(*ecdsa.PublicKey).Equal(&fake.keys[2].PublicKey) {
		t.Fatal("signer did not pick the latest version's public key")
	}
	ev := s.Evidence()
	if ev.LatestVersion != "2" || len(ev.Versions) != 2 || ev.Versions[1].CreatedAt.Day() != 2 || ev.Backend != "vault-transit" {
		t.Fatalf("evidence %+v", ev)
	}
	files := signAndVerify(t, s, "ecdsa-p256")
	// The transit key's own public key (not the pub.pem written beside the report) verifies it.
	sigstoreVerifyFiles(t, &fake.keys[2].PublicKey, files)
	if fake.signs == 0 {
		t.Fatal("fake transit was never asked to sign")
	}

	client.SetToken("wrong")
	if _, err := NewVaultSigner(context.Background(), client, "transit", "report-signer"); err == nil || !strings.Contains(err.Error(), "transit/keys/report-signer") {
		t.Fatalf("bad token: %v", err)
	}
}

// fakeKMS implements KMSAPI with a real ECDSA key.
type fakeKMS struct {
	key  *ecdsa.PrivateKey
	spec types.KeySpec
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	return &kms.GetPublicKeyOutput{KeyId: in.KeyId, KeySpec: f.spec, KeyUsage: types.KeyUsageTypeSignVerify, PublicKey: der,
		SigningAlgorithms: []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}}, nil
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	if in.MessageType != types.MessageTypeDigest || len(in.Message) != sha256.Size || in.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 {
		return nil, fmt.Errorf("fake kms: unexpected sign input %v %d %v", in.MessageType, len(in.Message), in.SigningAlgorithm)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, f.key, in.Message)
	return &kms.SignOutput{Signature: sig, KeyId: in.KeyId, SigningAlgorithm: in.SigningAlgorithm}, err
}

func TestAWSKMSSignerFake(t *testing.T) {
	f := &fakeKMS{key: genKey(t), spec: types.KeySpecEccNistP256}
	s, err := NewAWSKMSSigner(context.Background(), f, "alias/report")
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, "ecdsa-p256")

	f.spec = types.KeySpecRsa2048
	if _, err := NewAWSKMSSigner(context.Background(), f, "alias/report"); err == nil || !strings.Contains(err.Error(), "ECC_NIST_P256") {
		t.Fatalf("wrong spec accepted: %v", err)
	}
}

// TestAWSKMSSignerLocalKMS runs the signer against a real nsmithuk/local-kms.
func TestAWSKMSSignerLocalKMS(t *testing.T) {
	lk := kmstest.Start(t, kmstest.Options{Keys: 1}) // fails, never skips, without local-kms

	client := kms.New(kms.Options{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(lk.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx := context.Background()
	created, err := client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatalf("CreateKey ECC_NIST_P256: %v", err)
	}
	s, err := NewAWSKMSSigner(ctx, client, *created.KeyMetadata.KeyId)
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, "ecdsa-p256")
}
