// Package localkms runs nsmithuk/local-kms, the AWS KMS emulator, on
// 127.0.0.1 with seeded symmetric keys. The demo points the simulated TiKV
// nodes and the tool at it, and the tests do the same through kms/kmstest.
// Configuration follows reference kms-and-evidence.md §3.2 (PORT, KMS_REGION,
// KMS_ACCOUNT_ID, KMS_DATA_PATH, KMS_SEED_PATH). local-kms itself listens on
// every interface; all traffic goes to 127.0.0.1. Never for production keys:
// its backing keys live in the seed file.
package localkms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/build"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Module is what `go install` installs (the version .ci/run pins).
const Module = "github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6"

// AccountID is local-kms's default account (KMS_ACCOUNT_ID).
const AccountID = "111122223333"

// Server is a running local-kms.
type Server struct {
	Endpoint        string   // http://127.0.0.1:PORT
	Region          string   // KMS_REGION
	AccountID       string   // KMS_ACCOUNT_ID
	KeyIDs          []string // seeded keys; KeyIDs[0] is the primary
	Aliases         []string // alias of each seeded key, same order
	CredentialsFile string   // shared-credentials file with dummy keys (local-kms does not check SigV4)
	cmd             *exec.Cmd
	exited          chan struct{}
}

// Options say how to start it. Zero values pick defaults.
type Options struct {
	Dir    string    // seed, data and credentials files (required)
	Region string    // default us-west-2
	Keys   int       // seeded keys, default 1: alias/tikv-master, then alias/tikv-next, alias/tikv-key-3 …
	Output io.Writer // local-kms's own output (default discarded)
}

// ARN is the key ARN local-kms builds for a seeded key id.
func (s *Server) ARN(keyID string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.Region, s.AccountID, keyID)
}

// Binary finds local-kms on PATH or in $GOPATH/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p, nil
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "local-kms")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("local-kms not found on PATH or at %s: install it with go install %s", p, Module)
	}
	return p, nil
}

// Start runs local-kms on a free 127.0.0.1 port and waits until it listens.
func Start(ctx context.Context, bin string, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, fmt.Errorf("localkms: Options.Dir is empty")
	}
	if o.Region == "" {
		o.Region = "us-west-2"
	}
	if o.Keys <= 0 {
		o.Keys = 1
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", o.Dir, err)
	}
	s := &Server{Region: o.Region, AccountID: AccountID}
	seed := "Keys:\n  Symmetric:\n    Aes:\n"
	aliases := "Aliases:\n"
	for i := range o.Keys {
		id, err := uuid()
		if err != nil {
			return nil, err
		}
		backing := make([]byte, 32)
		if _, err := rand.Read(backing); err != nil {
			return nil, err
		}
		alias := "alias/tikv-key-" + strconv.Itoa(i+1)
		switch i {
		case 0:
			alias = "alias/tikv-master"
		case 1:
			alias = "alias/tikv-next"
		}
		seed += fmt.Sprintf("      - Metadata:\n          KeyId: %s\n          Description: tikv-ear key %d\n        BackingKeys:\n          - %s\n", id, i+1, hex.EncodeToString(backing))
		clear(backing)
		aliases += fmt.Sprintf("  - AliasName: %s\n    TargetKeyId: %s\n", alias, id)
		s.KeyIDs = append(s.KeyIDs, id)
		s.Aliases = append(s.Aliases, alias)
	}
	seedPath := filepath.Join(o.Dir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed+aliases), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", seedPath, err)
	}
	s.CredentialsFile = filepath.Join(o.Dir, "credentials")
	creds := "[default]\naws_access_key_id = AKIDLOCALKMS\naws_secret_access_key = local-kms-does-not-check-signatures\n"
	if err := os.WriteFile(s.CredentialsFile, []byte(creds), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", s.CredentialsFile, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "KMS_REGION="+s.Region, "KMS_ACCOUNT_ID="+s.AccountID,
		"KMS_DATA_PATH="+filepath.Join(o.Dir, "data"), "KMS_SEED_PATH="+seedPath)
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("local-kms exited before listening on %s", addr)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("local-kms did not listen on %s within 20s", addr)
		}
	}
	s.Endpoint = "http://" + addr
	return s, nil
}

// Stop ends the process and waits for it.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func uuid() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}
