package kmstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// LocalKMS is a running nsmithuk/local-kms started by Start.
type LocalKMS struct {
	Endpoint        string   // http://127.0.0.1:PORT
	Region          string   // KMS_REGION
	AccountID       string   // KMS_ACCOUNT_ID
	KeyIDs          []string // seeded symmetric keys; KeyIDs[0] is the primary
	Aliases         []string // alias of each seeded key, same order
	CredentialsFile string   // AWS shared-credentials file with dummy static keys (local-kms does not check SigV4)
}

// ARN returns the key ARN of a seeded key id, as local-kms builds it.
func (l *LocalKMS) ARN(keyID string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", l.Region, l.AccountID, keyID)
}

// Options tune Start. Zero values pick defaults.
type Options struct {
	Region string // default us-west-2
	Keys   int    // number of seeded keys, default 2 (alias/tikv-master, alias/tikv-next, alias/tikv-key-3 …)
}

// StartLocalKMS starts local-kms for t with two seeded keys and returns its
// endpoint, the primary key id and its alias (alias/tikv-master). The second
// key (alias/tikv-next) is for rotation tests; use Start for details.
func StartLocalKMS(t testing.TB) (endpoint, keyID, alias string) {
	t.Helper()
	l := Start(t, Options{})
	return l.Endpoint, l.KeyIDs[0], l.Aliases[0]
}

// localKMSBinary finds local-kms on PATH or in $GOPATH/bin.
func localKMSBinary() (string, error) {
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p, nil
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "local-kms")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("local-kms not found on PATH or at %s: install it with go install github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6", p)
	}
	return p, nil
}

// Start runs local-kms on a free 127.0.0.1 port with a seed file (reference
// kms-and-evidence.md §3.2: PORT, KMS_REGION, KMS_ACCOUNT_ID, KMS_DATA_PATH,
// KMS_SEED_PATH) and stops it when the test ends. It fails the test (never
// skips) when the binary is missing. local-kms itself listens on every
// interface; all traffic goes to 127.0.0.1.
func Start(t testing.TB, o Options) *LocalKMS {
	t.Helper()
	bin, err := localKMSBinary()
	if err != nil {
		t.Fatal(err)
	}
	if o.Region == "" {
		o.Region = "us-west-2"
	}
	if o.Keys == 0 {
		o.Keys = 2
	}
	dir := t.TempDir()
	l := &LocalKMS{Region: o.Region, AccountID: "111122223333"}
	seed := "Keys:\n  Symmetric:\n    Aes:\n"
	aliases := "Aliases:\n"
	for i := range o.Keys {
		id := uuid(t)
		backing := make([]byte, 32)
		if _, err := rand.Read(backing); err != nil {
			t.Fatal(err)
		}
		alias := "alias/tikv-key-" + strconv.Itoa(i+1)
		switch i {
		case 0:
			alias = "alias/tikv-master"
		case 1:
			alias = "alias/tikv-next"
		}
		seed += fmt.Sprintf("      - Metadata:\n          KeyId: %s\n          Description: tikv-ear test key %d\n        BackingKeys:\n          - %s\n", id, i+1, hex.EncodeToString(backing))
		aliases += fmt.Sprintf("  - AliasName: %s\n    TargetKeyId: %s\n", alias, id)
		l.KeyIDs = append(l.KeyIDs, id)
		l.Aliases = append(l.Aliases, alias)
	}
	seedPath := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed+aliases), 0o600); err != nil {
		t.Fatal(err)
	}
	l.CredentialsFile = filepath.Join(dir, "credentials")
	creds := "[default]\naws_access_key_id = AKIDLOCALKMSTEST\naws_secret_access_key = local-kms-does-not-check-signatures\n"
	if err := os.WriteFile(l.CredentialsFile, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"KMS_REGION="+l.Region,
		"KMS_ACCOUNT_ID="+l.AccountID,
		"KMS_DATA_PATH="+filepath.Join(dir, "data"),
		"KMS_SEED_PATH="+seedPath,
	)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("local-kms output:\n%s", out.String())
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("local-kms exited before listening on %s:\n%s", addr, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("local-kms did not listen on %s within 20s:\n%s", addr, out.String())
		}
	}
	l.Endpoint = "http://" + addr
	return l
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

func uuid(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
