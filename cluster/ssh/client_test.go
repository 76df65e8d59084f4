package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestRunOutputsAndExitCodes(t *testing.T) {
	s := sharedSSHD(t)
	c := newClient(t, s.options(t))
	ctx := context.Background()

	res, err := c.Run(ctx, "127.0.0.1", "echo out; echo err >&2; exit 3", nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 3 {
		t.Fatalf("got stdout %q stderr %q exit %d, want out/err/3", res.Stdout, res.Stderr, res.ExitCode)
	}

	res, err = c.Run(ctx, "127.0.0.1", "kill -KILL $$", nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitCode != 128+9 {
		t.Fatalf("killed by SIGKILL: exit %d, want 137", res.ExitCode)
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
	res, err = c.Run(ctx, "127.0.0.1", "sha256sum", bytes.NewReader(big))
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("sha256sum over stdin: %v %+v", err, res)
	}
	local := sha256Hex(big)
	if !strings.HasPrefix(string(res.Stdout), local) {
		t.Fatalf("remote sha256 %q, want %s", res.Stdout, local)
	}

	// A command that exits without reading its stdin is not an error.
	res, err = c.Run(ctx, "127.0.0.1", "exit 0", bytes.NewReader(big))
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("unread stdin: %v %+v", err, res)
	}
}

func TestUnknownHostRefused(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, empty, []byte("# nothing yet\n"), 0o600)
	opts.KnownHostsFiles = []string{empty}
	c := newClient(t, opts)

	_, err := c.Run(context.Background(), "127.0.0.1", "true", nil)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Problem != HostKeyUnknown {
		t.Fatalf("want an unknown-host HostKeyError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"is unknown",
		s.knownHostsAddr(),
		xssh.FingerprintSHA256(s.hostKeys["ed25519"]),
		empty,
		"ssh-keyscan -t ed25519 -p " + strconv.Itoa(s.port) + " 127.0.0.1 >> " + empty,
		"accept-new",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if b, _ := os.ReadFile(empty); string(b) != "# nothing yet\n" {
		t.Fatalf("known_hosts was modified without accept-new: %q", b)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	s := sharedSSHD(t)
	otherKey := newEd25519PublicKey(t) // not the server's key
	opts := s.options(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, []byte(knownhosts.Line([]string{s.knownHostsAddr()}, otherKey)+"\n"), 0o600)
	opts.KnownHostsFiles = []string{kh}
	opts.AcceptNewHostKeys = true // accept-new still refuses a changed key
	c := newClient(t, opts)

	_, err := c.Run(context.Background(), "127.0.0.1", "true", nil)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Problem != HostKeyChanged {
		t.Fatalf("want a changed-key HostKeyError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"CHANGED",
		xssh.FingerprintSHA256(s.hostKeys["ed25519"]),
		xssh.FingerprintSHA256(otherKey),
		kh + ":1",
		"man-in-the-middle",
		"ssh-keygen -R '" + s.knownHostsAddr() + "' -f " + kh,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if b, _ := os.ReadFile(kh); strings.Count(string(b), "\n") != 1 {
		t.Fatalf("known_hosts was modified: %q", b)
	}
}

func TestAcceptNewAppendsKey(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	kh := filepath.Join(t.TempDir(), "sub", "known_hosts") // neither dir nor file exist yet
	opts.KnownHostsFiles = []string{kh}
	opts.AcceptNewHostKeys = true
	c := newClient(t, opts)
	if _, err := c.Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
		t.Fatalf("accept-new: %v", err)
	}
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	want := knownhosts.Line([]string{s.knownHostsAddr()}, s.hostKeys["ed25519"]) + "\n"
	if string(b) != want {
		t.Fatalf("known_hosts = %q, want %q", b, want)
	}
	if fi, _ := os.Stat(kh); fi.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts mode %v, want 0600", fi.Mode())
	}
	// Now known: a strict client connects.
	opts.AcceptNewHostKeys = false
	if _, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
		t.Fatalf("strict after accept-new: %v", err)
	}
}

func TestHostKeyAlgorithmsFollowKnownHosts(t *testing.T) {
	// x/crypto's default order offers ECDSA and RSA before ed25519; a server with
	// all three answers with the first, so a host known only by another type would
	// look changed unless the known types are offered first.
	s := startSSHD(t, "ed25519", "ecdsa", "rsa")
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			opts := s.options(t)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			writeFile(t, kh, []byte(knownhosts.Line([]string{s.knownHostsAddr()}, s.hostKeys[typ])+"\n"), 0o600)
			opts.KnownHostsFiles = []string{kh}
			if _, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
				t.Fatalf("host known only by its %s key: %v", typ, err)
			}
		})
	}
}

func TestEncryptedKeyFileError(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	opts.IdentityFiles = []string{s.encKey}
	_, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil)
	if err == nil {
		t.Fatal("connected with an encrypted key and no agent")
	}
	for _, want := range []string{s.encKey, "encrypted with a passphrase", "ssh-add " + s.encKey} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestAgentAuth(t *testing.T) {
	s := sharedSSHD(t)
	keyring := agent.NewKeyring()
	pemBytes, err := os.ReadFile(s.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := xssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := serveAgent(t, keyring)

	// The agent alone, and an encrypted identity file whose copy is in the agent.
	for name, files := range map[string][]string{"agent only": nil, "encrypted file held by agent": {s.encKey}} {
		t.Run(name, func(t *testing.T) {
			opts := s.options(t)
			opts.NoAgent = false
			opts.AgentSocket = sock
			opts.IdentityFiles = files
			res, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "echo ok", nil)
			if err != nil || string(res.Stdout) != "ok\n" {
				t.Fatalf("agent auth: %v %q", err, res.Stdout)
			}
		})
	}
}

func serveAgent(t *testing.T, keyring agent.Agent) string {
	dir, err := os.MkdirTemp("", "agent") // short path: unix socket names are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	return sock
}

func TestAuthFailureHint(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	otherKey := newEd25519KeyFile(t) // not in authorized_keys
	opts.IdentityFiles = []string{otherKey}
	_, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil)
	if err == nil {
		t.Fatal("authenticated with a key that is not authorized")
	}
	for _, want := range []string{"authenticating as", "hint: tried identity file " + otherKey, "authorized_keys"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestConnectionReuse(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	var d countingDialer
	opts.Dial = d.Dial
	c := newClient(t, opts)
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.Run(ctx, "127.0.0.1", "echo "+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// 30 concurrent commands: more than sshd's MaxSessions 10, all on one connection.
	hosts := make([]string, 30)
	for i := range hosts {
		hosts[i] = "127.0.0.1"
	}
	err := ForEach(ctx, hosts, 30, func(ctx context.Context, h string) error {
		res, err := c.Run(ctx, h, "sleep 0.05; echo hi", nil)
		if err == nil && string(res.Stdout) != "hi\n" {
			err = fmt.Errorf("stdout %q", res.Stdout)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := d.count(); n != 1 {
		t.Fatalf("%d dials for 35 commands to one host, want 1", n)
	}
}

func TestReconnectOnceWhenBroken(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	var d countingDialer
	opts.Dial = d.Dial
	c := newClient(t, opts)
	ctx := context.Background()
	if _, err := c.Run(ctx, "127.0.0.1", "true", nil); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.conns[0].Close() // the network drops the pooled connection
	d.mu.Unlock()
	res, err := c.Run(ctx, "127.0.0.1", "echo again", nil)
	if err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("after a dropped connection: %v %q", err, res.Stdout)
	}
	if n := d.count(); n != 2 {
		t.Fatalf("%d dials, want 2 (one reconnect)", n)
	}
}

func TestContextCancelStopsCommand(t *testing.T) {
	s := sharedSSHD(t)
	c := newClient(t, s.options(t))
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "127.0.0.1", "sleep 30 & echo $! > "+Quote(pidFile)+"; wait", nil)
		errc <- err
	}()
	pid := waitForPID(t, pidFile)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	waitGone(t, pid)

	// The connection stays usable.
	if _, err := c.Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
		t.Fatalf("Run after a cancelled Run: %v", err)
	}
}

func TestCommandTimeout(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	opts.CommandTimeout = 300 * time.Millisecond
	_, err := newClient(t, opts).Run(context.Background(), "127.0.0.1", "sleep 30", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func waitForPID(t *testing.T, path string) int {
	t.Helper()
	for range 500 {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the remote command never wrote its pid")
	return 0
}

// waitGone waits until pid no longer runs (a zombie counts as gone).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 500 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("remote process %d still runs after the context was cancelled", pid)
}

func TestProxyJump(t *testing.T) {
	s := sharedSSHD(t)
	cfgText := fmt.Sprintf(`Host jump
  HostName 127.0.0.1
  Port %d
Host target
  HostName 127.0.0.1
  Port %d
  ProxyJump jump
Host target2
  HostName 127.0.0.1
  Port %d
  ProxyJump jump,jump
`, s.port, s.port, s.port)
	cfg, err := ParseConfig(strings.NewReader(cfgText), "test_config")
	if err != nil {
		t.Fatal(err)
	}
	opts := s.options(t)
	opts.Config = cfg
	var d countingDialer
	opts.Dial = d.Dial
	c := newClient(t, opts)
	ctx := context.Background()

	clientPort := func(host string) string {
		res, err := c.Run(ctx, host, "echo $SSH_CONNECTION", nil)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		f := strings.Fields(string(res.Stdout))
		if len(f) != 4 {
			t.Fatalf("%s: SSH_CONNECTION %q", host, res.Stdout)
		}
		return f[1]
	}
	viaJump := clientPort("target")
	direct := clientPort("jump")
	viaTwo := clientPort("target2")
	if n := d.count(); n != 1 {
		t.Fatalf("%d TCP dials, want 1: every chain starts at the pooled jump connection", n)
	}
	d.mu.Lock()
	local := strconv.Itoa(d.conns[0].LocalAddr().(*net.TCPAddr).Port)
	d.mu.Unlock()
	if direct != local {
		t.Fatalf("jump session comes from port %s, want our TCP connection's %s", direct, local)
	}
	if viaJump == local || viaTwo == local || viaJump == viaTwo {
		t.Fatalf("tunnelled sessions came from ports %s and %s; they must differ from each other and from our own %s", viaJump, viaTwo, local)
	}
}

func TestSudo(t *testing.T) {
	s := startSSHD(t) // it creates sudo-allowed
	opts := s.options(t)
	opts.Sudo = true
	c := newClient(t, opts)
	var mu sync.Mutex
	var lines []string
	c.opts.OnSession = func(_, cmd string) { mu.Lock(); lines = append(lines, cmd); mu.Unlock() }

	_, err := c.Run(context.Background(), "127.0.0.1", "id -u", nil)
	var se *SudoError
	if !errors.As(err, &se) {
		t.Fatalf("want a SudoError, got %v", err)
	}
	for _, want := range []string{"sudo refused on 127.0.0.1", "a password is required", "NOPASSWD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	writeFile(t, filepath.Join(s.dir, "sudo-allowed"), nil, 0o600)
	res, err := c.Run(context.Background(), "127.0.0.1", "echo 'it''s' \"$0\"", nil)
	if err != nil || string(res.Stdout) != "its sh\n" {
		t.Fatalf("sudo allowed: %v %q", err, res.Stdout)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := ` sh 'echo '\''it'\'''\''s'\'' "$0"'`; !strings.HasPrefix(lines[1], "exec sudo -n -- sh -c ") || !strings.HasSuffix(lines[1], want) {
		t.Fatalf("session command %q, want exec sudo -n -- sh -c ... %s", lines[1], want)
	}
}

func TestClosedClient(t *testing.T) {
	s := sharedSSHD(t)
	c := NewClient(s.options(t))
	if _, err := c.Run(context.Background(), "127.0.0.1", "true", nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Run(context.Background(), "127.0.0.1", "true", nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestPort22UsesPlainKnownHostsName(t *testing.T) {
	// On port 22 known_hosts names a host without brackets or port.
	s := sharedSSHD(t)
	opts := s.options(t)
	opts.Port = 22
	opts.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, s.addr())
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, []byte(knownhosts.Line([]string{"tikv-1"}, s.hostKeys["ed25519"])+"\n"), 0o600)
	opts.KnownHostsFiles = []string{kh}
	c := newClient(t, opts)
	if _, err := c.Run(context.Background(), "tikv-1", "true", nil); err != nil {
		t.Fatalf("host known as tikv-1: %v", err)
	}
	_, err := c.Run(context.Background(), "tikv-2", "true", nil)
	if err == nil || !strings.Contains(err.Error(), "host key for tikv-2 is unknown") || !strings.Contains(err.Error(), "`ssh-keyscan -t ed25519 tikv-2 >> "+kh+"`") {
		t.Fatalf("unknown tikv-2: %v", err)
	}
}

// freezableConn stops delivering the server's bytes once frozen, like a peer
// that vanished without closing the connection.
type freezableConn struct {
	net.Conn
	frozen    chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func (f *freezableConn) Read(p []byte) (int, error) {
	select {
	case <-f.frozen:
		<-f.closed
		return 0, net.ErrClosed
	default:
	}
	return f.Conn.Read(p)
}

func (f *freezableConn) Close() error {
	f.closeOnce.Do(func() { close(f.closed) })
	return f.Conn.Close()
}

func TestKeepaliveClosesDeadConnection(t *testing.T) {
	s := sharedSSHD(t)
	opts := s.options(t)
	// Generous margins: on a loaded 2-core CI machine sshd may answer a
	// keepalive late; only a frozen connection must ever be closed.
	opts.KeepaliveInterval = 100 * time.Millisecond
	opts.KeepaliveMaxMissed = 5
	var mu sync.Mutex
	var conns []*freezableConn
	opts.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, s.addr())
		if err != nil {
			return nil, err
		}
		fc := &freezableConn{Conn: c, frozen: make(chan struct{}), closed: make(chan struct{})}
		mu.Lock()
		conns = append(conns, fc)
		mu.Unlock()
		return fc, nil
	}
	c := newClient(t, opts)
	ctx := context.Background()
	if _, err := c.Run(ctx, "127.0.0.1", "true", nil); err != nil {
		t.Fatal(err)
	}
	// Healthy: sshd answers keepalives (with a failure reply), the connection stays.
	time.Sleep(700 * time.Millisecond)
	if _, err := c.Run(ctx, "127.0.0.1", "true", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(conns) != 1 {
		t.Fatalf("%d dials while healthy, want 1", len(conns))
	}
	close(conns[0].frozen)
	mu.Unlock()
	cn := pooledConn(t, c)
	for i := 0; cn.alive(); i++ {
		if i > 1000 {
			t.Fatal("keepalive never closed the silent connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := c.Run(ctx, "127.0.0.1", "echo back", nil); err != nil {
		t.Fatalf("after keepalive closed the connection: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 2 {
		t.Fatalf("%d dials, want 2", len(conns))
	}
}

// pooledConn returns the only pooled connection of c.
func pooledConn(t *testing.T, c *Client) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pool) != 1 {
		t.Fatalf("%d pool slots, want 1", len(c.pool))
	}
	for _, slot := range c.pool {
		return slot.conn
	}
	return nil
}

func TestDialTimeoutOnSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, then never speak
		}
	}()
	s := sharedSSHD(t)
	opts := s.options(t)
	opts.Port = l.Addr().(*net.TCPAddr).Port
	opts.DialTimeout = 200 * time.Millisecond
	_, err = newClient(t, opts).Run(context.Background(), "127.0.0.1", "true", nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ssh handshake with 127.0.0.1:") {
		t.Fatalf("silent server: %v", err)
	}
}

func TestConfigStrictHostKeyCheckingAcceptNew(t *testing.T) {
	s := sharedSSHD(t)
	kh := filepath.Join(t.TempDir(), "kh")
	cfg, err := ParseConfig(strings.NewReader(fmt.Sprintf("Host tikv\n  HostName 127.0.0.1\n  Port %d\n  UserKnownHostsFile %s\n  StrictHostKeyChecking accept-new\n", s.port, kh)), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	opts := s.options(t)
	opts.Config = cfg
	if _, err := newClient(t, opts).Run(context.Background(), "tikv", "true", nil); err != nil {
		t.Fatalf("accept-new from ssh_config: %v", err)
	}
	if b, err := os.ReadFile(kh); err != nil || !strings.HasPrefix(string(b), s.knownHostsAddr()+" ssh-ed25519 ") {
		t.Fatalf("UserKnownHostsFile from ssh_config holds %q (%v)", b, err)
	}
}
