package gather

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// sessionCounter counts, per host, the SSH sessions (Executor.Run calls)
// and the TCP connections (dials) a gather makes.
type sessionCounter struct {
	mu       sync.Mutex
	sessions map[string]int
	dials    map[string]int
	next     ssh.Executor
}

func (c *sessionCounter) Run(ctx context.Context, host, cmd string, stdin io.Reader) (ssh.Result, error) {
	c.mu.Lock()
	c.sessions[host]++
	c.mu.Unlock()
	return c.next.Run(ctx, host, cmd, stdin)
}

// countingFleet is a fleet whose SSH client counts sessions and dials.
func countingFleet(t *testing.T, n int) (*hostFleet, *sessionCounter) {
	t.Helper()
	f := newHostFleet(t, n, 0)
	c := &sessionCounter{sessions: map[string]int{}, dials: map[string]int{}}
	d := &net.Dialer{}
	opts := f.clientOptions
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.mu.Lock()
		c.dials[addr]++
		c.mu.Unlock()
		return d.DialContext(ctx, network, addr)
	}
	client := ssh.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	c.next = client
	return f, c
}

// TestStatusReadsEachHostInOneSession is the cost of `status` per host: one
// TCP connection and one SSH session (one remote shell) for tikv.toml,
// key.dict, file.dict, the data file listing with every file's probe bytes,
// tikv.log and tikv_stderr.log; a second session only for what tikv.toml
// alone names (here the master key file, which is stat'ed, never read).
func TestStatusReadsEachHostInOneSession(t *testing.T) {
	f, c := countingFleet(t, 4)
	key := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	enc := "\n[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"file\"\npath = \"" + key + "\"\n"
	cfg, err := os.ReadFile(f.nodes[3].ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.nodes[3].ConfigPath, append(cfg, enc...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range f.nodes {
		if err := os.WriteFile(n.LogFile, []byte(logLine("INFO", tikvlog.MsgDisabled.Text)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Gather(context.Background(), Sources{Stores: f.stores, Nodes: f.nodes, SSH: c}, Options{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range rep.Stores {
		if !s.Reachable || s.Config == nil || s.KeyDict == nil || s.FileDict == nil || s.Log == nil || s.Coverage == nil {
			t.Errorf("store %d was not fully read: %+v", s.StoreID, s)
		}
		want := 1
		if i == 3 {
			want = 2
			if s.KeyFile == nil || !s.KeyFile.Exists || s.KeyFile.Mode != "0400" {
				t.Errorf("store 4's key file: %+v", s.KeyFile)
			}
		}
		if got := c.sessions[s.SSHTarget]; got != want {
			t.Errorf("store %d: %d SSH sessions, want %d", s.StoreID, got, want)
		}
	}
	if len(c.dials) != 4 {
		t.Errorf("dialled %d hosts, want 4", len(c.dials))
	}
	for addr, n := range c.dials {
		if n != 1 {
			t.Errorf("%s: %d connections, want 1", addr, n)
		}
	}
}
