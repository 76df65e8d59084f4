package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH sshd on 127.0.0.1, owned by one test.
type testSSHD struct {
	dir        string
	port       int
	hostKeys   map[string]xssh.PublicKey // by ssh-keygen -t name
	clientKey  string                    // unencrypted ed25519 private key, in authorized_keys
	clientPub  xssh.PublicKey
	encKey     string // the same key, passphrase-protected ("secret"), with a .pub beside it
	knownHosts string // known_hosts holding every host key of this sshd
	stderr     *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSSHD starts an sshd owned by the test, with host keys of the given
// types (default ed25519).
func startSSHD(t testing.TB, hostKeyTypes ...string) *testSSHD {
	t.Helper()
	s, stop := launchSSHD(t, t.TempDir(), hostKeyTypes...)
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.stderr.String())
		}
	})
	return s
}

// shared is one sshd for the tests that only read its state; TestMain stops it.
var shared struct {
	once sync.Once
	s    *testSSHD
	stop func()
	dir  string
}

// sharedSSHD returns the shared sshd, starting it on first use.
func sharedSSHD(t testing.TB) *testSSHD {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "tikv-ear-sshd")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = dir
		shared.s, shared.stop = launchSSHD(t, dir)
	})
	if shared.s == nil {
		t.Fatal("the shared sshd failed to start (see the first failing test)")
	}
	return shared.s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// launchSSHD starts sshd -D -e -f <cfg> in dir. It fails the test when sshd is
// missing: CI must not skip these tests.
func launchSSHD(t testing.TB, dir string, hostKeyTypes ...string) (*testSSHD, func()) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("%s is missing (%v): install openssh-server; these tests must not be skipped", sshdPath, err)
	}
	if len(hostKeyTypes) == 0 {
		hostKeyTypes = []string{"ed25519"}
	}
	// sshd refuses to start without its privilege-separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("creating /run/sshd: %v", err)
	}
	s := &testSSHD{dir: dir, hostKeys: map[string]xssh.PublicKey{}, stderr: &lockedBuffer{}}

	var cfg strings.Builder
	for _, typ := range hostKeyTypes {
		path := filepath.Join(dir, "host_"+typ)
		args := []string{"-q", "-t", typ, "-N", "", "-C", "test-host", "-f", path}
		if typ == "rsa" {
			args = append(args, "-b", "2048")
		}
		if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen %s: %v: %s", typ, err, out)
		}
		s.hostKeys[typ] = readPub(t, path+".pub")
		fmt.Fprintf(&cfg, "HostKey %s\n", path)
	}

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.clientKey = filepath.Join(dir, "id_ed25519")
	block, err := xssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.clientKey, pem.EncodeToMemory(block), 0o600)
	signer, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	s.clientPub = signer.PublicKey()
	s.encKey = filepath.Join(dir, "id_encrypted")
	encBlock, err := xssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.encKey, pem.EncodeToMemory(encBlock), 0o600)
	writeFile(t, s.encKey+".pub", xssh.MarshalAuthorizedKey(s.clientPub), 0o644)
	writeFile(t, filepath.Join(dir, "authorized_keys"), xssh.MarshalAuthorizedKey(s.clientPub), 0o600)

	// sudo is not installed here: a stand-in honours "sudo -n -- cmd..." and
	// refuses like sudo does unless sudo-allowed exists.
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bin, "sudo"), []byte(`#!/bin/sh
[ "$1" = "-n" ] || { echo "sudo stand-in: expected -n" >&2; exit 2; }
shift
[ "$1" = "--" ] && shift
if [ -e `+Quote(filepath.Join(dir, "sudo-allowed"))+` ]; then exec "$@"; fi
echo "sudo: a password is required" >&2
exit 1
`), 0o755)

	s.port = freePort(t)
	fmt.Fprintf(&cfg, `ListenAddress 127.0.0.1:%d
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding yes
MaxStartups 500
MaxSessions 10
LogLevel INFO
SetEnv PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
`, s.port, filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"), bin)
	cfgPath := filepath.Join(dir, "sshd_config")
	writeFile(t, cfgPath, []byte(cfg.String()), 0o600)

	var lines []string
	for _, k := range s.hostKeys {
		lines = append(lines, knownhosts.Line([]string{s.addr()}, k))
	}
	s.knownHosts = filepath.Join(dir, "known_hosts")
	writeFile(t, s.knownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o600)

	cmd := exec.Command(sshdPath, "-D", "-e", "-f", cfgPath)
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	// Ready when it sends its banner.
	for i := 0; ; i++ {
		select {
		case <-exited:
			t.Fatalf("sshd exited at start:\n%s", s.stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 8)
			_, rerr := c.Read(buf)
			c.Close()
			if rerr == nil && string(buf[:4]) == "SSH-" {
				break
			}
		}
		if i > 200 {
			stop()
			t.Fatalf("sshd did not accept connections: %v\n%s", err, s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, stop
}

func (s *testSSHD) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// knownHostsAddr is how known_hosts names this sshd.
func (s *testSSHD) knownHostsAddr() string { return fmt.Sprintf("[127.0.0.1]:%d", s.port) }

// options returns Client options that reach this sshd as 127.0.0.1.
func (s *testSSHD) options(t testing.TB) Options {
	return Options{
		User:              currentUser(t),
		Port:              s.port,
		IdentityFiles:     []string{s.clientKey},
		NoAgent:           true,
		KnownHostsFiles:   []string{s.knownHosts},
		KeepaliveInterval: -1,
	}
}

// countingDialer counts TCP dials and keeps the connections.
type countingDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *countingDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}

func (d *countingDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

func newClient(t testing.TB, opts Options) *Client {
	c := NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func currentUser(t testing.TB) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readPub(t testing.TB, path string) xssh.PublicKey {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := xssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return k
}

func writeFile(t testing.TB, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newEd25519PublicKey(t testing.TB) xssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := xssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newEd25519KeyFile writes a fresh unencrypted private key and returns its path.
func newEd25519KeyFile(t testing.TB) string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(priv, "other")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id_other")
	writeFile(t, p, pem.EncodeToMemory(block), 0o600)
	return p
}
