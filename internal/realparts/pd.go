package realparts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/netport"
)

// PDOptions say how to start a PD cluster. Zero values pick defaults.
type PDOptions struct {
	Binary  string // pd-server path; "" means Binary(PDServer)
	Dir     string // one sub-directory per member (data dir, config, log); required
	Members int    // 1 (default) or 3
	// Config is extra TOML for every member's config file, e.g.
	// "[schedule]\nmax-store-down-time = \"30s\"\n" (keys: tikv/pd
	// server/config/config.go and pkg/schedule/config/config.go @ a186e0cc).
	Config string
}

// PDCluster is a running set of pd-server members that form one cluster.
type PDCluster struct {
	Members []*PDMember
}

// PDMember is one pd-server process. Its ports, data dir and flags stay the
// same across Stop/Kill and Start, so a restarted member rejoins its cluster.
type PDMember struct {
	Name      string // pd1, pd2, …
	ClientURL string // http://127.0.0.1:PORT: HTTP API and gRPC
	PeerURL   string // http://127.0.0.1:PORT: etcd peer traffic
	DataDir   string
	LogFile   string // pd-server's own log (--log-file)

	bin  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	// held keeps a stopped member's client and peer ports while it is down
	// (Stop, Kill), so another process picking free ports in the meantime
	// (internal/netport) cannot take them; Start lets them go just before
	// the member binds them again.
	held []net.Listener
}

// StartPD starts o.Members pd-server members on loopback and waits (bounded
// by ctx) until every member answers and one is the leader. On error nothing
// it started is left running.
func StartPD(ctx context.Context, o PDOptions) (*PDCluster, error) {
	if o.Dir == "" {
		return nil, errors.New("realparts: PDOptions.Dir is empty")
	}
	if o.Members == 0 {
		o.Members = 1
	}
	if o.Members != 1 && o.Members != 3 {
		return nil, fmt.Errorf("realparts: %d PD members asked for: use 1 or 3", o.Members)
	}
	if o.Binary == "" {
		b, err := Binary(PDServer)
		if err != nil {
			return nil, err
		}
		o.Binary = b
	}
	ports, err := netport.Free(2 * o.Members)
	if err != nil {
		return nil, err
	}
	c := &PDCluster{}
	var initial []string
	for i := range o.Members {
		m := &PDMember{
			Name:      fmt.Sprintf("pd%d", i+1),
			ClientURL: "http://127.0.0.1:" + strconv.Itoa(ports[2*i]),
			PeerURL:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
			bin:       o.Binary,
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		dir := filepath.Join(o.Dir, m.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		m.DataDir = filepath.Join(dir, "data")
		m.LogFile = filepath.Join(dir, "pd.log")
		conf := filepath.Join(dir, "pd.toml")
		if err := os.WriteFile(conf, []byte(o.Config), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", conf, err)
		}
		// Flags: pd-server --help @ a186e0cc.
		m.args = []string{
			"--name=" + m.Name, "--data-dir=" + m.DataDir, "--config=" + conf, "--log-file=" + m.LogFile,
			"--client-urls=" + m.ClientURL, "--peer-urls=" + m.PeerURL,
			"--initial-cluster=" + strings.Join(initial, ","),
		}
	}
	for _, m := range c.Members {
		if err := m.Start(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.waitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// MustStartPD is StartPD for tests: it fails t on error (naming the install
// step when the binary is missing) and stops the cluster at t's cleanup.
func MustStartPD(t TB, members int, config string) *PDCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartPD(ctx, PDOptions{Dir: t.TempDir(), Members: members, Config: config})
	if err != nil {
		t.Fatalf("starting real pd-server: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// ClientURLs are the members' client URLs, in member order.
func (c *PDCluster) ClientURLs() []string {
	urls := make([]string, len(c.Members))
	for i, m := range c.Members {
		urls[i] = m.ClientURL
	}
	return urls
}

// Leader asks the running members which one is PD's leader
// (GET /pd/api/v1/leader answers pdpb.Member, tikv/pd server/api/member.go).
func (c *PDCluster) Leader(ctx context.Context) (*PDMember, error) {
	var last error
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		var leader struct {
			Name string `json:"name"`
		}
		if err := getJSON(ctx, m.ClientURL+"/pd/api/v1/leader", &leader); err != nil {
			last = err
			continue
		}
		for _, l := range c.Members {
			if l.Name == leader.Name && leader.Name != "" {
				return l, nil
			}
		}
		last = fmt.Errorf("%s names leader %q, not one of ours", m.Name, leader.Name)
	}
	if last == nil {
		last = errors.New("no PD member is running")
	}
	return nil, last
}

// WaitLeader polls until a running member is the leader, bounded by ctx.
func (c *PDCluster) WaitLeader(ctx context.Context) (*PDMember, error) {
	for {
		l, err := c.Leader(ctx)
		if err == nil {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a PD leader: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *PDCluster) waitReady(ctx context.Context) error {
	for _, m := range c.Members {
		for {
			err := getJSON(ctx, m.ClientURL+"/pd/api/v1/members", nil)
			if err == nil {
				break
			}
			if !m.Running() {
				return fmt.Errorf("pd-server %s exited while starting; see %s; its last words:\n%s", m.Name, m.LogFile, lastLines(m.LogFile+".stderr", m.LogFile))
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for pd-server %s at %s: %w (last: %v); see %s", m.Name, m.ClientURL, ctx.Err(), err, m.LogFile)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	_, err := c.WaitLeader(ctx)
	return err
}

// Close stops every member (SIGTERM, SIGKILL after 10 s). Idempotent.
func (c *PDCluster) Close() {
	var wg sync.WaitGroup
	for _, m := range c.Members {
		wg.Go(func() {
			m.Stop()
			m.release()
		})
	}
	wg.Wait()
}

// Start starts the member's process if it is not running; it does not wait
// for it to answer (PDCluster.WaitLeader does).
func (m *PDMember) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	m.releaseLocked()
	cmd := exec.Command(m.bin, m.args...)
	// Output goes to --log-file; early failures (bad flags) reach stderr.
	stderr, err := os.OpenFile(m.LogFile+".stderr", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening pd-server stderr file: %w", err)
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// The member dies with the test process that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		stderr.Close()
		return fmt.Errorf("starting pd-server %s: %w", m.Name, err)
	}
	exited := make(chan struct{})
	m.cmd, m.exited = cmd, exited
	go func() {
		_ = cmd.Wait()
		stderr.Close()
		m.mu.Lock()
		if m.cmd == cmd {
			m.cmd = nil
		}
		m.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Running reports whether the member's process is alive.
func (m *PDMember) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil
}

// Stop ends the member gracefully (SIGTERM, then SIGKILL after 10 s) and
// waits for it to exit.
func (m *PDMember) Stop() { m.signal(syscall.SIGTERM, 10*time.Second) }

// Kill ends the member with SIGKILL, as a crash would, and waits for it.
func (m *PDMember) Kill() { m.signal(syscall.SIGKILL, 0) }

func (m *PDMember) signal(sig syscall.Signal, grace time.Duration) {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-exited:
			return
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
	m.hold()
}

// hold listens on the stopped member's client and peer ports (see held);
// a port it cannot get is left (the restart then reports what took it).
func (m *PDMember) hold() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil || len(m.held) > 0 {
		return
	}
	for _, u := range []string{m.ClientURL, m.PeerURL} {
		if ln, err := net.Listen("tcp", strings.TrimPrefix(u, "http://")); err == nil {
			m.held = append(m.held, ln)
		}
	}
}

// release lets the held ports go.
func (m *PDMember) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseLocked()
}

func (m *PDMember) releaseLocked() {
	for _, ln := range m.held {
		ln.Close()
	}
	m.held = nil
}

// getJSON GETs url and decodes a 200 answer into v (nil: only the status).
func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}

// lastLines is the end of each file (a member's stderr and log), for an
// error that outlives the test's temporary directory.
func lastLines(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(p), strings.Join(lines[max(0, len(lines)-8):], "\n"))
	}
	return b.String()
}
