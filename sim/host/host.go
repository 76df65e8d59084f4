// Package host is one simulated machine of the sim cluster: a directory that
// plays the host's file system, an in-process SSH server (real SSH protocol,
// its own ed25519 host key, public-key auth) that runs real /bin/sh commands
// with that directory as working directory, and shims on its PATH: systemctl
// and ss reach the host's emulated systemd, and tikv-ctl the cluster's
// stand-in for tikv-ctl's remote mode, through the sim's control HTTP server
// (bash scripts speaking HTTP over /dev/tcp: bash is the one program they need);
// sudo runs the command as the login user. It also writes the on-host layouts (TiUP tree or a hand-made
// deployment) and TiUP's meta.yaml.
//
// It must not import the tool's cluster packages, and it binds 127.0.0.1 only.
package host

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// Config describes one simulated host.
type Config struct {
	Name          string        // "host-1"
	Root          string        // the host's directory; shell commands run here
	User          string        // the only login user accepted, e.g. "tidb"
	AuthorizedKey ssh.PublicKey // the operator's public key
	ControlURL    string        // where Handler is mounted, e.g. http://127.0.0.1:p/host/host-1
	Clock         *clock.Clock
	// TikvCtl runs a tikv-ctl command line for the tikv-ctl shim and returns
	// stdout, one stderr line and the exit status; nil means the host has none.
	TikvCtl func(args []string) (stdout, stderr string, code int)
}

// Host is a simulated machine. Its methods are safe for concurrent use.
type Host struct {
	cfg     Config
	clk     *clock.Clock
	shimDir string
	hostKey ssh.Signer
	sshCfg  *ssh.ServerConfig

	mu       sync.Mutex
	units    map[string]*unit
	ln       net.Listener
	conns    map[net.Conn]struct{}
	refuse   bool
	dropNext int
	latency  time.Duration
	wg       sync.WaitGroup
	closed   bool
	counts   Counts
}

// Counts is what the host has served since it started: how much work the
// tools asked of it (issue 17 counts remote work per store before cutting it).
type Counts struct {
	Conns    int            // SSH connections accepted (handshake done)
	Commands int            // remote commands run (exec and shell sessions: one /bin/sh each)
	Shims    map[string]int // shim calls answered by the control server, by command (systemctl, ss, tikv-ctl)
}

// Counts returns a copy of what the host has served so far.
func (h *Host) Counts() Counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.counts
	c.Shims = make(map[string]int, len(h.counts.Shims))
	for k, v := range h.counts.Shims {
		c.Shims[k] = v
	}
	return c
}

// count adds one to a counter under the host's lock.
func (h *Host) count(f func(c *Counts)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts.Shims == nil {
		h.counts.Shims = map[string]int{}
	}
	f(&h.counts)
}

// New creates the host directory, its shims and its host key. Call Serve to
// start the SSH server.
func New(cfg Config) (*Host, error) {
	if cfg.Name == "" || cfg.Root == "" || cfg.User == "" || cfg.AuthorizedKey == nil || cfg.Clock == nil {
		return nil, errors.New("host config needs a name, a root, a user, an authorized key and a clock")
	}
	if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
		return nil, fmt.Errorf("creating host dir %s: %w", cfg.Root, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("loading host key: %w", err)
	}
	h := &Host{
		cfg:     cfg,
		clk:     cfg.Clock,
		shimDir: filepath.Join(cfg.Root, "usr", "local", "sim-shims"),
		hostKey: signer,
		units:   map[string]*unit{},
		conns:   map[net.Conn]struct{}{},
	}
	if err := writeShims(h.shimDir, cfg.Name, cfg.ControlURL); err != nil {
		return nil, err
	}
	h.sshCfg = &ssh.ServerConfig{PublicKeyCallback: h.checkKey}
	h.sshCfg.AddHostKey(signer)
	return h, nil
}

// Name returns the host's name.
func (h *Host) Name() string { return h.cfg.Name }

// Root returns the host's directory.
func (h *Host) Root() string { return h.cfg.Root }

// User returns the login user.
func (h *Host) User() string { return h.cfg.User }

// HostKey returns the public host key, for known_hosts.
func (h *Host) HostKey() ssh.PublicKey { return h.hostKey.PublicKey() }

// Addr returns the SSH listen address ("127.0.0.1:port"), or "" before Serve.
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Port returns the SSH port, or 0 before Serve.
func (h *Host) Port() int { return portOf(h.Addr()) }

// AddUnit registers a systemd unit. The unit starts inactive.
func (h *Host) AddUnit(spec UnitSpec) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.units[spec.Name] = newUnit(spec, h.clk)
}

func (h *Host) unit(name string) *unit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.units[name]
}

func (h *Host) unitList() []*unit {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.units))
	for n := range h.units {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*unit, 0, len(names))
	for _, n := range names {
		out = append(out, h.units[n])
	}
	return out
}

// StartUnit starts a unit as `systemctl start` does (returns at once).
func (h *Host) StartUnit(name string) error {
	u := h.unit(unitName(name))
	if u == nil {
		return fmt.Errorf("unit %s not found on %s", name, h.cfg.Name)
	}
	u.start()
	return nil
}

// StopUnit stops a unit as `systemctl stop` does, for good.
func (h *Host) StopUnit(name string) error {
	u := h.unit(unitName(name))
	if u == nil {
		return fmt.Errorf("unit %s not found on %s", name, h.cfg.Name)
	}
	u.stop()
	return nil
}

// UnitStatus returns a unit's state.
func (h *Host) UnitStatus(name string) (UnitStatus, error) {
	u := h.unit(unitName(name))
	if u == nil {
		return UnitStatus{}, fmt.Errorf("unit %s not found on %s", name, h.cfg.Name)
	}
	return u.Status(), nil
}

// SetRefuse makes the SSH server reset every new connection before the handshake.
func (h *Host) SetRefuse(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuse = on
}

// DropNext makes the next n exec sessions run their command and then drop the
// connection without sending an exit status (the command's effects happen,
// the client never learns the outcome).
func (h *Host) DropNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropNext = n
}

// SetLatency delays every session by d of wall time before its command runs.
func (h *Host) SetLatency(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latency = d
}

// Serve starts the SSH server on 127.0.0.1 with a free port.
func (h *Host) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for ssh on %s: %w", h.cfg.Name, err)
	}
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.acceptLoop(ctx, ln)
	}()
	return nil
}

// Close stops the SSH server, closes open connections and stops every unit.
func (h *Host) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	ln := h.ln
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	h.wg.Wait()
	for _, u := range h.unitList() {
		u.stop()
	}
}
