package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	xssh "golang.org/x/crypto/ssh"
)

// Defaults for Options fields left zero.
const (
	// DefaultDialTimeout bounds TCP connect plus SSH handshake.
	DefaultDialTimeout = 10 * time.Second
	// DefaultKeepaliveInterval is how often keepalive@openssh.com is sent.
	DefaultKeepaliveInterval = 15 * time.Second
	// DefaultKeepaliveMaxMissed is how many intervals without a reply close the connection.
	DefaultKeepaliveMaxMissed = 3
	// DefaultMaxSessionsPerConn stays under OpenSSH's MaxSessions default of 10
	// (sshd_config(5)); more concurrent commands to one host wait their turn.
	DefaultMaxSessionsPerConn = 8
)

// globalKnownHostsFile is OpenSSH's default GlobalKnownHostsFile (ssh_config(5)).
const globalKnownHostsFile = "/etc/ssh/ssh_known_hosts"

// Options configure a Client. Zero values take the defaults named on each field.
type Options struct {
	// User is the login user when neither the host string ("user@host") nor
	// ssh_config names one; default the current user.
	User string
	// Port is the SSH port when neither the host string nor ssh_config names one; default 22.
	Port int
	// IdentityFiles are private keys tried after the ones ssh_config lists. When
	// both are empty, ~/.ssh/id_ed25519, id_ecdsa and id_rsa are tried if present.
	IdentityFiles []string
	// AgentSocket is the ssh-agent socket; default $SSH_AUTH_SOCK.
	AgentSocket string
	// NoAgent turns the agent off.
	NoAgent bool
	// KnownHostsFiles are checked for host keys, unless ssh_config's
	// UserKnownHostsFile says otherwise for a host; default ~/.ssh/known_hosts
	// and /etc/ssh/ssh_known_hosts (files that do not exist are skipped).
	// Accepted new keys are appended to the first.
	KnownHostsFiles []string
	// AcceptNewHostKeys is OpenSSH's StrictHostKeyChecking=accept-new: unknown
	// host keys are appended to known_hosts, changed keys are still refused.
	// ssh_config's StrictHostKeyChecking for a host overrides it.
	AcceptNewHostKeys bool
	// Config is the parsed ~/.ssh/config; nil means none.
	Config *Config
	// Sudo runs every command as "sudo -n -- sh -c <cmd>".
	Sudo bool
	// DialTimeout bounds connecting and the handshake; default DefaultDialTimeout.
	DialTimeout time.Duration
	// CommandTimeout bounds each Run; zero means only ctx bounds it.
	CommandTimeout time.Duration
	// KeepaliveInterval is the keepalive period; default DefaultKeepaliveInterval, negative disables.
	KeepaliveInterval time.Duration
	// KeepaliveMaxMissed closes a connection after this many silent intervals; default DefaultKeepaliveMaxMissed.
	KeepaliveMaxMissed int
	// MaxSessionsPerConn bounds concurrent commands on one connection; default DefaultMaxSessionsPerConn.
	MaxSessionsPerConn int
	// Dial opens the TCP connection to the first hop; default a net.Dialer.
	// Tests and benchmarks inject latency or count dials here.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnSession, when set, sees every SSH session opened for a command: the
	// host as given to Run and the command line sent (wrapped, see Run).
	// Tests and benchmarks count sessions here. It must not block.
	OnSession func(host, line string)
}

// Client is the real Executor: it runs commands over SSH, one pooled connection
// per target (and per jump host), reconnecting once when a pooled connection is
// found broken before a command starts. It is safe for concurrent use.
type Client struct {
	opts     Options
	keys     keyCache
	appendMu sync.Mutex // known_hosts appends
	known    knownHostsCache

	mu     sync.Mutex
	pool   map[string]*poolSlot
	closed bool
}

var _ Executor = (*Client)(nil)

type poolSlot struct {
	sem  chan struct{} // capacity 1: held while checking or dialing
	conn *conn
}

// conn is one live SSH connection.
type conn struct {
	key      string
	client   *xssh.Client
	sessions chan struct{} // semaphore of MaxSessionsPerConn
	done     chan struct{} // closed when the connection ends
	closed   atomic.Bool   // set by close, before done is closed
}

func (cn *conn) alive() bool {
	if cn.closed.Load() {
		return false
	}
	select {
	case <-cn.done:
		return false
	default:
		return true
	}
}

func (cn *conn) close() {
	cn.closed.Store(true)
	cn.client.Close()
}

// endpoint is one resolved SSH destination.
type endpoint struct {
	label    string // as the caller wrote it
	user     string
	host     string // resolved HostName
	port     int
	files    []string // identity files
	explicit bool     // files were configured, not defaults
	hostKeys hostKeys
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }
func (e endpoint) key() string  { return e.user + "@" + e.addr() }

// NewClient returns a Client; it connects lazily, on the first Run for a host.
func NewClient(opts Options) *Client {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if opts.KeepaliveMaxMissed <= 0 {
		opts.KeepaliveMaxMissed = DefaultKeepaliveMaxMissed
	}
	if opts.MaxSessionsPerConn <= 0 {
		opts.MaxSessionsPerConn = DefaultMaxSessionsPerConn
	}
	if opts.Port == 0 {
		opts.Port = 22
	}
	if opts.User == "" {
		if u, err := user.Current(); err == nil {
			opts.User = u.Username
		} else {
			opts.User = os.Getenv("USER")
		}
	}
	if len(opts.KnownHostsFiles) == 0 {
		if home, err := os.UserHomeDir(); err == nil {
			opts.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts")}
		}
		opts.KnownHostsFiles = append(opts.KnownHostsFiles, globalKnownHostsFile)
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
		opts.Dial = d.DialContext
	}
	return &Client{opts: opts, pool: map[string]*poolSlot{}}
}

// Close closes every pooled connection. Runs after Close fail.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	slots := c.pool
	c.pool = map[string]*poolSlot{}
	c.mu.Unlock()
	for _, s := range slots {
		s.sem <- struct{}{}
		if s.conn != nil {
			s.conn.close()
		}
		<-s.sem
	}
	return nil
}

// Run runs cmd on host ("[user@]alias[:port]", resolved through ssh_config) with
// stdin as its standard input (nil for none). See Executor.
func (c *Client) Run(ctx context.Context, host, cmd string, stdin io.Reader) (Result, error) {
	if c.opts.CommandTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CommandTimeout)
		defer cancel()
	}
	chain, err := c.resolve(host)
	if err != nil {
		return Result{}, err
	}
	line := c.commandLine(cmd)
	for attempt := 0; ; attempt++ {
		cn, err := c.getConn(ctx, chain)
		if err != nil {
			return Result{}, fmt.Errorf("connecting to %s: %w", host, err)
		}
		select {
		case cn.sessions <- struct{}{}:
		case <-ctx.Done():
			return Result{}, fmt.Errorf("waiting for a free session on %s: %w", host, ctx.Err())
		}
		sess, err := cn.client.NewSession()
		if err != nil {
			<-cn.sessions
			var oce *xssh.OpenChannelError
			if errors.As(err, &oce) || attempt > 0 {
				return Result{}, fmt.Errorf("opening a session on %s: %w", host, err)
			}
			cn.close() // broken before the command started: reconnect once
			continue
		}
		if c.opts.OnSession != nil {
			c.opts.OnSession(host, line)
		}
		res, err := c.runSession(ctx, cn, sess, line, stdin)
		<-cn.sessions
		if err != nil {
			return res, fmt.Errorf("running a command on %s: %w", host, err)
		}
		if c.opts.Sudo {
			if msg := sudoFailure(res); msg != "" {
				return res, &SudoError{Host: host, User: chain[len(chain)-1].user, Stderr: msg}
			}
		}
		return res, nil
	}
}

// pidMarker starts the first stderr line of every command: the wrapper
// reports the pid of the shell running the command, so that a cancelled
// command can be killed with its children. The line is removed from Stderr.
const pidMarker = "tikv-ear-pid="

// commandLine wraps cmd for the remote login shell, which execs (no fork) a
// POSIX sh that reports its pid on stderr, clears its positional parameters
// and evals cmd: the same pid, $0 "sh" and no "$1" as "sh -c cmd" would
// give it, without starting a third shell for every command. cmd is passed
// as an argument, so it is quoted once. With Options.Sudo the sh runs under
// "sudo -n".
func (c *Client) commandLine(cmd string) string {
	line := "sh -c " + Quote(`echo `+pidMarker+`$$ >&2; eval "set --; $1"`) + " sh " + Quote(cmd)
	if c.opts.Sudo {
		line = "sudo -n -- " + line
	}
	return "exec " + line
}

// killTree is run in a second session when a command is cancelled: it sends
// SIGTERM to the command's shell and all its descendants, found through
// /proc/<pid>/stat (the ppid is the second field after the ")" that ends the
// command name). OpenSSH's own "signal" request is tried first, but sshd
// refuses it for root logins ("session signalling requires privilege
// separation"), and without a pty closing the channel kills nothing.
const killTree = `t=$1; all=
while [ -n "$t" ]; do
  all="$all $t"; next=
  for f in /proc/[0-9]*/stat; do
    read -r l < "$f" 2>/dev/null || continue
    set -- ${l##*) }
    for x in $t; do [ "$2" = "$x" ] && { p=${f#/proc/}; next="$next ${p%/stat}"; }; done
  done
  t=$next
done
kill -TERM $all 2>/dev/null
exit 0`

// pidStripper passes stderr through, except the line carrying pidMarker (the
// first one, unless the login shell printed warnings before it), whose pid it
// keeps. It stops looking after a few lines.
type pidStripper struct {
	mu      sync.Mutex
	out     bytes.Buffer
	pending []byte // an incomplete line while still looking
	looked  int    // lines examined
	decided bool
	pid     string
	seenC   chan struct{} // closed once decided (see seen)
}

// seen returns a channel closed once the stripper has decided: it found the
// pid line, or stopped looking.
func (p *pidStripper) seen() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seenC == nil {
		p.seenC = make(chan struct{})
		if p.decided {
			close(p.seenC)
		}
	}
	return p.seenC
}

// decide marks the search over; p.mu is held.
func (p *pidStripper) decide() {
	if !p.decided && p.seenC != nil {
		close(p.seenC)
	}
	p.decided = true
}

func (p *pidStripper) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.decided {
		return p.out.Write(b)
	}
	p.pending = append(p.pending, b...)
	for !p.decided {
		i := bytes.IndexByte(p.pending, '\n')
		if i < 0 {
			if len(p.pending) > 4096 {
				p.decide()
				p.out.Write(p.pending)
				p.pending = nil
			}
			break
		}
		line := p.pending[:i+1]
		p.pending = p.pending[i+1:]
		p.looked++
		if pid, ok := bytes.CutPrefix(line, []byte(pidMarker)); ok {
			p.pid = string(bytes.TrimSpace(pid))
			p.decide()
		} else {
			p.out.Write(line)
			if p.looked >= 16 {
				p.decide()
			}
		}
		if p.decided {
			p.out.Write(p.pending)
			p.pending = nil
		}
	}
	return len(b), nil
}

func (p *pidStripper) result() ([]byte, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.decided {
		p.out.Write(p.pending)
		p.pending = nil
		p.decide()
	}
	return p.out.Bytes(), p.pid
}

func (p *pidStripper) remotePID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// cancelGrace bounds how long a cancelled Run waits for the remote side to
// close the session after the command was told to stop.
const cancelGrace = 5 * time.Second

// runSession runs one command and waits for it, or for ctx: then the command
// and its children get SIGTERM and the session is closed.
func (c *Client) runSession(ctx context.Context, cn *conn, sess *xssh.Session, cmd string, stdin io.Reader) (Result, error) {
	defer sess.Close()
	var stdout bytes.Buffer
	stderr := &pidStripper{}
	sess.Stdout = &stdout
	sess.Stderr = stderr
	var w io.WriteCloser
	if stdin != nil {
		var err error
		if w, err = sess.StdinPipe(); err != nil {
			return Result{}, err
		}
	}
	if err := sess.Start(cmd); err != nil {
		return Result{}, err
	}
	if w != nil {
		go func() {
			io.Copy(w, stdin) // an early-exiting command may not read it all; its exit status says enough
			w.Close()
		}()
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(xssh.SIGTERM)
		pid := stderr.remotePID()
		if pid == "" {
			// The command may run with its pid line not read yet (the
			// session's stderr is copied by another goroutine): wait for it,
			// or the cancelled command would run on unkilled.
			select {
			case <-stderr.seen():
			case err := <-done: // it ended by itself
				done <- err
			case <-time.After(cancelGrace):
			}
			pid = stderr.remotePID()
		}
		if pid != "" {
			c.killRemote(cn, pid)
		}
		sess.Close()
		select {
		case <-done:
			errOut, _ := stderr.result()
			return Result{Stdout: stdout.Bytes(), Stderr: errOut, ExitCode: -1}, ctx.Err()
		case <-time.After(cancelGrace):
			return Result{ExitCode: -1}, ctx.Err() // the output buffers are still being written
		}
	}
	errOut, _ := stderr.result()
	res := Result{Stdout: stdout.Bytes(), Stderr: errOut}
	var exitErr *xssh.ExitError
	var missing *xssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitStatus()
	case errors.As(err, &missing):
		res.ExitCode = -1
		return res, errors.New("the connection ended before the command reported an exit status")
	default:
		res.ExitCode = -1
		return res, err
	}
	return res, nil
}

// killRemote runs killTree for pid in a new session on cn, best effort.
func (c *Client) killRemote(cn *conn, pid string) {
	sess, err := cn.client.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	line := "sh -c " + Quote(killTree) + " tikv-ear " + Quote(pid)
	if c.opts.Sudo {
		line = "sudo -n -- " + line
	}
	done := make(chan struct{})
	go func() { sess.Run(line); close(done) }()
	select {
	case <-done:
	case <-time.After(cancelGrace):
	}
}

// resolve turns a host string into the chain of endpoints to connect through:
// ProxyJump hops first, the target last.
func (c *Client) resolve(spec string) ([]endpoint, error) {
	target, jumps, err := c.resolveOne(spec)
	if err != nil {
		return nil, err
	}
	var chain []endpoint
	for _, j := range jumps {
		hop, _, err := c.resolveOne(j)
		if err != nil {
			return nil, fmt.Errorf("jump host %q (ProxyJump) for %s: %w", j, spec, err)
		}
		chain = append(chain, hop) // a hop's own ProxyJump is not followed
	}
	return append(chain, target), nil
}

func (c *Client) resolveOne(spec string) (endpoint, []string, error) {
	u, alias, port, err := splitHostSpec(spec)
	if err != nil {
		return endpoint{}, nil, fmt.Errorf("host %q: %w (want [user@]host[:port])", spec, err)
	}
	hc, err := c.opts.Config.Lookup(alias)
	if err != nil {
		return endpoint{}, nil, err
	}
	e := endpoint{label: spec, user: u, host: alias, port: port}
	if hc.HostName != "" {
		e.host = hc.HostName
	}
	if e.port == 0 {
		e.port = hc.Port
	}
	if e.port == 0 {
		e.port = c.opts.Port
	}
	if e.user == "" {
		e.user = hc.User
	}
	if e.user == "" {
		e.user = c.opts.User
	}
	e.files = append(append([]string(nil), hc.IdentityFiles...), c.opts.IdentityFiles...)
	e.explicit = len(e.files) > 0
	if !e.explicit {
		e.files = defaultIdentityFiles()
	}
	e.hostKeys = hostKeys{files: c.opts.KnownHostsFiles, acceptNew: c.opts.AcceptNewHostKeys, mu: &c.appendMu, cache: &c.known}
	if len(hc.UserKnownHostsFiles) > 0 {
		e.hostKeys.files = hc.UserKnownHostsFiles
	}
	switch hc.StrictHostKeyChecking {
	case "yes":
		e.hostKeys.acceptNew = false
	case "accept-new":
		e.hostKeys.acceptNew = true
	}
	return e, hc.ProxyJump, nil
}

// getConn returns the live pooled connection for chain, dialing it (and its
// jump hosts, also pooled) when needed. One dial per chain at a time.
func (c *Client) getConn(ctx context.Context, chain []endpoint) (*conn, error) {
	keys := make([]string, len(chain))
	for i, e := range chain {
		keys[i] = e.key()
	}
	key := strings.Join(keys, " > ")

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("the ssh client is closed")
	}
	slot := c.pool[key]
	if slot == nil {
		slot = &poolSlot{sem: make(chan struct{}, 1)}
		c.pool[key] = slot
	}
	c.mu.Unlock()

	select {
	case slot.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-slot.sem }()
	if slot.conn != nil && slot.conn.alive() {
		return slot.conn, nil
	}
	var parent *conn
	if len(chain) > 1 {
		var err error
		if parent, err = c.getConn(ctx, chain[:len(chain)-1]); err != nil {
			return nil, fmt.Errorf("via jump host %s: %w", chain[len(chain)-2].label, err)
		}
	}
	cn, err := c.dial(ctx, chain[len(chain)-1], parent)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed { // Close ran while we dialed: do not leak the connection
		cn.close()
		return nil, errors.New("the ssh client is closed")
	}
	cn.key = key
	slot.conn = cn
	return cn, nil
}

// dial connects to e, directly or through parent, and starts keepalives.
func (c *Client) dial(ctx context.Context, e endpoint, parent *conn) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()

	var nc net.Conn
	var err error
	if parent == nil {
		nc, err = c.opts.Dial(ctx, "tcp", e.addr())
	} else {
		nc, err = parent.client.DialContext(ctx, "tcp", e.addr())
	}
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", e.addr(), err)
	}
	callback, err := e.hostKeys.callback()
	if err != nil {
		nc.Close()
		return nil, err
	}
	algos, err := e.hostKeys.algorithms(e.addr())
	if err != nil {
		nc.Close()
		return nil, err
	}
	auth, err := c.gatherAuth(e.files, e.explicit)
	if err != nil {
		nc.Close()
		return nil, err
	}
	defer auth.close()
	cfg := &xssh.ClientConfig{
		User:              e.user,
		Auth:              []xssh.AuthMethod{xssh.PublicKeys(auth.signers...)},
		HostKeyCallback:   callback,
		HostKeyAlgorithms: algos,
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := xssh.NewClientConn(nc, e.addr(), cfg) // host:port, as knownhosts wants it
	if !stop() {
		if sc != nil {
			sc.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", e.addr(), ctx.Err())
	}
	if err != nil {
		nc.Close()
		var hke *HostKeyError
		if errors.As(err, &hke) {
			return nil, hke
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("authenticating as %q to %s: %w\n%s", e.user, e.addr(), err, authHint(e.user, e.host, auth.tried))
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", e.addr(), err)
	}
	cn := &conn{
		client:   xssh.NewClient(sc, chans, reqs),
		sessions: make(chan struct{}, c.opts.MaxSessionsPerConn),
		done:     make(chan struct{}),
	}
	go func() {
		cn.client.Wait()
		close(cn.done)
	}()
	if c.opts.KeepaliveInterval > 0 {
		go keepalive(cn, c.opts.KeepaliveInterval, c.opts.KeepaliveMaxMissed)
	}
	return cn, nil
}

// keepalive sends keepalive@openssh.com every interval (as OpenSSH's
// ServerAliveInterval does) and closes the connection when no reply comes for
// maxMissed intervals, so a dead peer is noticed before the next command.
func keepalive(cn *conn, interval time.Duration, maxMissed int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := cn.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(interval * time.Duration(maxMissed))
		select {
		case err := <-reply:
			timer.Stop()
			if err != nil {
				cn.close()
				return
			}
		case <-timer.C:
			cn.close()
			return
		case <-cn.done:
			timer.Stop()
			return
		}
	}
}
