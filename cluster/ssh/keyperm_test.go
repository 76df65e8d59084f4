package ssh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnprotectedIdentityRefused: a private key with group/other permission
// bits is refused before any authentication, as OpenSSH's sshkey_perm_ok does,
// naming the file and the chmod that fixes it; 0600 and 0400 connect.
func TestUnprotectedIdentityRefused(t *testing.T) {
	s := sharedSSHD(t)
	key, err := os.ReadFile(s.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o777, 0o640, 0o604} {
		p := filepath.Join(t.TempDir(), "id_open")
		writeFile(t, p, key, 0o600)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		opts := s.options(t)
		opts.IdentityFiles = []string{p}
		_, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil)
		var perm *UnprotectedKeyError
		if !errors.As(err, &perm) {
			t.Fatalf("mode %#o: want an UnprotectedKeyError, got %v", mode, err)
		}
		for _, want := range []string{"UNPROTECTED PRIVATE KEY FILE", "too open", p} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %#o: error lacks %q: %v", mode, want, err)
			}
		}
		if perm.Hint() != "chmod 600 "+Quote(p) {
			t.Errorf("mode %#o: hint %q", mode, perm.Hint())
		}
		if err := CheckIdentityFile(p); !errors.As(err, &perm) {
			t.Errorf("mode %#o: CheckIdentityFile accepted it: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		p := filepath.Join(t.TempDir(), "id_closed")
		writeFile(t, p, key, 0o600)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		opts := s.options(t)
		opts.IdentityFiles = []string{p}
		if _, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
			t.Errorf("mode %#o: %v", mode, err)
		}
		if err := CheckIdentityFile(p); err != nil {
			t.Errorf("mode %#o: CheckIdentityFile: %v", mode, err)
		}
	}
}
