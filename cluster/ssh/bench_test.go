package ssh

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"
)

// benchFanout runs cmd on every host through exec, concurrency at a time, once
// per benchmark iteration. It is the generic part: point it at any Executor
// (a Client on sim hosts, for instance) and any host list.
func benchFanout(b *testing.B, exec Executor, hosts []string, concurrency int, cmd string) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		err := ForEach(ctx, hosts, concurrency, func(ctx context.Context, h string) error {
			res, err := exec.Run(ctx, h, cmd, nil)
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit %d: %s", res.ExitCode, res.Stderr)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(hosts)), "hosts")
}

// latencyExec is a fake Executor: every command takes latency and succeeds.
type latencyExec struct{ latency time.Duration }

func (l latencyExec) Run(ctx context.Context, _, _ string, _ io.Reader) (Result, error) {
	t := time.NewTimer(l.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return Result{Stdout: []byte("ok\n")}, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// slowConn delays every write by the one-way latency, a crude network RTT.
type slowConn struct {
	net.Conn
	latency time.Duration
}

func (c slowConn) Write(p []byte) (int, error) {
	time.Sleep(c.latency)
	return c.Conn.Write(p)
}

// BenchmarkFanout runs one command on N hosts.
//
//   - fake: a fake Executor with 2ms per command, measuring ForEach alone.
//   - sshd: the real Client, N virtual hosts (h0..hN-1) that a latency-injecting
//     Dial sends to one real sshd, each host with its own pooled connection; the
//     first iteration includes the N handshakes. The lead can swap the Dial and
//     host list for the sim's 300 hosts.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 100, 300} {
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("h%d", i)
		}
		for _, conc := range []int{5, 32} {
			b.Run(fmt.Sprintf("fake/hosts=%d/conc=%d", n, conc), func(b *testing.B) {
				benchFanout(b, latencyExec{latency: 2 * time.Millisecond}, hosts, conc, "true")
			})
		}
	}
	s := startSSHD(b)
	// One known_hosts line for every virtual host: "*" matches any name on port 22.
	kh := b.TempDir() + "/known_hosts"
	writeFile(b, kh, []byte(knownhosts.Line([]string{"*"}, s.hostKeys["ed25519"])+"\n"), 0o600)
	for _, n := range []int{10, 50} {
		hosts := make([]string, n)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("h%d", i)
		}
		b.Run(fmt.Sprintf("sshd/hosts=%d/conc=5", n), func(b *testing.B) {
			opts := s.options(b)
			opts.Port = 22
			opts.KnownHostsFiles = []string{kh}
			opts.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, s.addr())
				if err != nil {
					return nil, err
				}
				return slowConn{Conn: c, latency: time.Millisecond}, nil
			}
			c := newClient(b, opts)
			benchFanout(b, c, hosts, 5, "true")
		})
	}
}
