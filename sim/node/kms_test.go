package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// startLocalKMS runs nsmithuk/local-kms on a free 127.0.0.1 port with a seeded
// symmetric key and alias (kms-and-evidence.md §3.2) and returns its endpoint.
// The test FAILS when the binary is missing.
func startLocalKMS(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	bin := filepath.Join(strings.TrimSpace(string(out)), "bin", "local-kms")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("local-kms is required (go install github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6): %v", err)
	}
	dir := t.TempDir()
	backing := make([]byte, 32)
	if _, err := rand.Read(backing); err != nil {
		t.Fatal(err)
	}
	seed := fmt.Sprintf(`Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: bc436485-5092-42b8-92a3-0aa8b93536dc
        BackingKeys:
          - %s
Aliases:
  - AliasName: alias/tikv-master
    TargetKeyId: bc436485-5092-42b8-92a3-0aa8b93536dc
`, hex.EncodeToString(backing))
	seedPath := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+port, "KMS_REGION=us-east-1", "KMS_DATA_PATH="+filepath.Join(dir, "data"), "KMS_SEED_PATH="+seedPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for !listening(addr) {
		if time.Now().After(deadline) {
			t.Fatal("local-kms did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr
}

func kmsConfig(endpoint string) string {
	return fmt.Sprintf(`[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "kms"
key-id = "alias/tikv-master"
region = "us-east-1"
endpoint = %q
vendor = "aws"
[security.encryption.master-key.aws]
access-key = "sim"
secret-access-key = "sim"
`, endpoint)
}

func TestAWSKMSEnableRestartAndOutage(t *testing.T) {
	endpoint := startLocalKMS(t)
	e := newEnv(t, "8.5.2", 1)
	e.writeConfig(kmsConfig(endpoint))
	e.mustStart()
	log := e.logText()
	for _, want := range []string{
		`["Encryption init KMS backend"] [region=us-east-1] [endpoint=` + endpoint,
		`["encryption is being enabled. method = Aes256Ctr"]`,
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "secret-access-key") {
		t.Fatal("credentials leaked to the log")
	}
	ec, _ := readKeyDictRaw(t, e.spec.DataDir)
	if string(ec.Metadata[tikv.MetadataKMSVendor]) != tikv.StoredVendorAWS || len(ec.Metadata[tikv.MetadataKMSCiphertextKey]) == 0 {
		t.Fatalf("key.dict metadata kms_vendor=%q ciphertext %d bytes", ec.Metadata[tikv.MetadataKMSVendor], len(ec.Metadata[tikv.MetadataKMSCiphertextKey]))
	}

	// Outage while running: rotation keeps working with the cached data key.
	e.node.SetKMSUnreachable(true)
	if err := e.node.mgr.maybeRotate(context.Background(), e.clk.Now().Add(8*24*time.Hour), threadEncKey); err != nil {
		t.Fatalf("rotation with KMS down must use the cached key: %v", err)
	}
	e.node.Stop()

	// Restart with KMS down: decrypt fails; fixed versions fall back and report BothMasterKeyFail.
	err := e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), tikv.ErrKMSDecryptFailed) || !strings.Contains(err.Error(), "code: "+tikv.CodeBothMasterKeyFail) {
		t.Fatalf("want BothMasterKeyFail with %q, got %v", tikv.ErrKMSDecryptFailed, err)
	}
	if listening(e.spec.StatusAddr) {
		t.Fatal("failed start left the status server up")
	}

	// Restart with KMS back: normal start.
	e.node.SetKMSUnreachable(false)
	e.mustStart()
	if !strings.Contains(e.logText(), `["encryption is enabled. method = Aes256Ctr"]`) {
		t.Fatalf("restart log:\n%s", e.logText())
	}
	e.node.Stop()

	// An unfixed version (8.1.0, tikv/tikv#17410) fails with the Cloud KMS error instead.
	e.spec.Version = "8.1.0"
	e.rebuild()
	e.node.SetKMSUnreachable(true)
	err = e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Encryption failed to initialize: Cloud KMS error ") ||
		!strings.Contains(err.Error(), tikv.ErrKMSDecryptFailed+". code: "+tikv.CodeCloudUnknown) {
		t.Fatalf("want the Cloud KMS error of #17410, got %v", err)
	}
}

func TestKMSUnreachableAtEnable(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	e.writeConfig(kmsConfig("http://127.0.0.1:1"))
	e.node.SetKMSUnreachable(true)
	err := e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Cloud KMS error ") || !strings.Contains(err.Error(), "code: "+tikv.CodeCloudUnknown) {
		t.Fatalf("want a Cloud KMS error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.spec.DataDir, tikv.KeyDictName)); err == nil {
		t.Fatal("a failed first KMS access must not leave key.dict behind")
	}
}

func TestKMSVendorMismatchDoesNotFallBack(t *testing.T) {
	endpoint := startLocalKMS(t)
	e := newEnv(t, "8.5.2", 1)
	e.writeConfig(kmsConfig(endpoint))
	e.mustStart()
	e.node.Stop()
	// Rewrite the stored vendor as if another cloud had written key.dict.
	ec, _ := readKeyDictRaw(t, e.spec.DataDir)
	ec.Metadata[tikv.MetadataKMSVendor] = []byte(tikv.StoredVendorGCP)
	b, err := encodeKeyDict(ec)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.spec.DataDir, tikv.KeyDictName), b, 0o644)
	err = e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "KMS vendor mismatch expect [65, 87, 83] got Some([103, 99, 112])") ||
		!strings.Contains(err.Error(), "code: "+tikv.CodeUnknown) || strings.Contains(e.logText(), "[WARN]") {
		t.Fatalf("want a vendor mismatch without fallback, got %v", err)
	}
}
