package host

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// fakeService is a process that starts instantly, or fails while failNext > 0.
type fakeService struct {
	mu       sync.Mutex
	running  bool
	starts   int
	failNext int
}

func (f *fakeService) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if f.failNext > 0 {
		f.failNext--
		return errors.New("[FATAL] simulated start failure")
	}
	f.running = true
	return nil
}

func (f *fakeService) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
}

func (f *fakeService) Running() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func (f *fakeService) Starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

type testHost struct {
	h      *Host
	svc    *fakeService
	client *ssh.ClientConfig
	unit   string
}

// newTestHost starts a host with one fake TiKV unit on port 20160 (TiUP layout).
func newTestHost(t *testing.T) *testHost {
	t.Helper()
	clk := clock.New(1000)
	key, err := NewOperatorKey()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := New(Config{Name: "host-1", Root: t.TempDir(), User: "tidb", AuthorizedKey: key.Signer.PublicKey(),
		ControlURL: srv.URL + "/host/host-1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/host/host-1/", http.StripPrefix("/host/host-1", h.Handler()))
	paths, err := h.LayOut(LayoutTiUP, Instance{Port: 20160, StatusPort: 20180, PD: []string{"127.0.0.1:2379"},
		Labels: map[string]string{"zone": "z1", "host": "host-1"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := &fakeService{}
	h.AddUnit(UnitSpec{Name: paths.UnitName, UnitFile: paths.UnitFile, Listen: []string{"127.0.0.1:20160", "127.0.0.1:20180"}, Service: svc})
	ctx, cancel := context.WithCancel(context.Background())
	if err := h.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); h.Close() })
	khPath := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(h.Addr())}, h.HostKey())
	if err := os.WriteFile(khPath, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(khPath)
	if err != nil {
		t.Fatal(err)
	}
	return &testHost{h: h, svc: svc, unit: paths.UnitName, client: &ssh.ClientConfig{
		User: "tidb", Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}, HostKeyCallback: cb, Timeout: 5 * time.Second,
	}}
}

// run executes cmd over SSH and returns stdout, stderr and the error of Run.
func (th *testHost) run(t *testing.T, cmd string) (string, string, error) {
	t.Helper()
	c, err := ssh.Dial("tcp", th.h.Addr(), th.client)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	var out, errb strings.Builder
	s.Stdout, s.Stderr = &out, &errb
	err = s.Run(cmd)
	return out.String(), errb.String(), err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExecRunsShellInHostRoot(t *testing.T) {
	th := newTestHost(t)
	out, _, err := th.run(t, "pwd; echo oops >&2; exit 7")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 7 {
		t.Fatalf("want exit status 7, got %v", err)
	}
	if strings.TrimSpace(out) != th.h.Root() {
		t.Fatalf("pwd = %q, want host root %q", out, th.h.Root())
	}
}

func TestStdinReachesCommand(t *testing.T) {
	th := newTestHost(t)
	c, err := ssh.Dial("tcp", th.h.Addr(), th.client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.Stdin = strings.NewReader("secret-from-stdin\n")
	if err := s.Run("umask 077; cat > key.txt"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(th.h.Root(), "key.txt"))
	if err != nil || string(got) != "secret-from-stdin\n" {
		t.Fatalf("file from stdin = %q, %v", got, err)
	}
}

func TestSystemctlShimRestartsAndSSListsPort(t *testing.T) {
	th := newTestHost(t)
	_, errOut, err := th.run(t, "sudo -n -u tidb systemctl daemon-reload && sudo systemctl restart tikv-20160.service")
	if err != nil {
		t.Fatalf("restart over ssh: %v (%s)", err, errOut)
	}
	waitFor(t, "the service to run", th.svc.Running)
	out, _, err := th.run(t, "ss -ltn")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, ":20160 ") || !strings.Contains(out, ":20180 ") {
		t.Fatalf("ss -ltn does not list the ports:\n%s", out)
	}
	out, _, err = th.run(t, "systemctl is-active tikv-20160")
	if err != nil || strings.TrimSpace(out) != "active" {
		t.Fatalf("is-active = %q, %v", out, err)
	}
	_, errOut, err = th.run(t, "systemctl restart tikv-1.service")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != exitNotLoaded || !strings.Contains(errOut, "Unit tikv-1.service not found.") {
		t.Fatalf("unknown unit: err %v, stderr %q", err, errOut)
	}
	if _, _, err := th.run(t, "systemctl stop tikv-20160"); err != nil {
		t.Fatal(err)
	}
	out, _, _ = th.run(t, "ss -ltn")
	if strings.Contains(out, ":20160 ") {
		t.Fatalf("ss lists a stopped service:\n%s", out)
	}
	out, _, err = th.run(t, "systemctl is-active tikv-20160.service")
	if !errors.As(err, &ee) || ee.ExitStatus() != exitNotActive || strings.TrimSpace(out) != "inactive" {
		t.Fatalf("is-active after stop = %q, %v", out, err)
	}
}

func TestRestartLoopUntilStop(t *testing.T) {
	th := newTestHost(t)
	th.svc.mu.Lock()
	th.svc.failNext = 1 << 30
	th.svc.mu.Unlock()
	if err := th.h.StartUnit(th.unit); err != nil {
		t.Fatal(err)
	}
	// RestartSec=15s at speed 1000 is 15ms of wall time per attempt.
	waitFor(t, "three automatic restarts", func() bool { return th.svc.Starts() >= 3 })
	st, _ := th.h.UnitStatus(th.unit)
	if st.State != StateActivating || st.Sub != "auto-restart" && st.Sub != "start" || !strings.Contains(st.LastErr, "FATAL") {
		t.Fatalf("status during the restart loop: %+v", st)
	}
	if _, _, err := th.run(t, "sudo systemctl stop tikv-20160.service"); err != nil {
		t.Fatal(err)
	}
	n := th.svc.Starts()
	time.Sleep(th.h.clk.Wall(3 * DefaultRestartDelay))
	if got := th.svc.Starts(); got != n {
		t.Fatalf("service restarted %d more times after systemctl stop", got-n)
	}
	if st, _ := th.h.UnitStatus(th.unit); st.State != StateInactive {
		t.Fatalf("state after stop = %s", st.State)
	}
}

func TestRestartAfterUnexpectedExit(t *testing.T) {
	th := newTestHost(t)
	th.h.StartUnit(th.unit)
	waitFor(t, "the first start", th.svc.Running)
	th.svc.Stop() // the process dies on its own
	waitFor(t, "systemd to restart it", func() bool { return th.svc.Starts() >= 2 && th.svc.Running() })
}

func TestRefuseAndDropFaults(t *testing.T) {
	th := newTestHost(t)
	th.h.SetRefuse(true)
	if _, _, err := th.run(t, "true"); err == nil {
		t.Fatal("connection accepted while refusing")
	}
	th.h.SetRefuse(false)
	if _, _, err := th.run(t, "true"); err != nil {
		t.Fatalf("after refuse off: %v", err)
	}
	th.h.DropNext(1)
	marker := filepath.Join(th.h.Root(), "ran")
	_, _, err := th.run(t, "touch ran")
	if err == nil || errors.As(err, new(*ssh.ExitError)) {
		t.Fatalf("dropped session returned %v, want a missing exit status or a closed connection", err)
	}
	if _, statErr := os.Stat(marker); statErr != nil {
		t.Fatalf("the dropped command should still have run: %v", statErr)
	}
	if _, _, err := th.run(t, "true"); err != nil {
		t.Fatalf("only one session should drop: %v", err)
	}
}

func TestWrongKeyAndWrongHostKeyAreRejected(t *testing.T) {
	th := newTestHost(t)
	other, _ := NewOperatorKey()
	bad := *th.client
	bad.Auth = []ssh.AuthMethod{ssh.PublicKeys(other.Signer)}
	if c, err := ssh.Dial("tcp", th.h.Addr(), &bad); err == nil {
		c.Close()
		t.Fatal("unauthorized key accepted")
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(th.h.Addr())}, other.Signer.PublicKey())+"\n"), 0o600)
	cb, _ := knownhosts.New(kh)
	wrong := *th.client
	wrong.HostKeyCallback = cb
	_, err := ssh.Dial("tcp", th.h.Addr(), &wrong)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		t.Fatalf("wrong known_hosts entry: got %v, want a host key mismatch", err)
	}
}

func TestLatencyDelaysSessions(t *testing.T) {
	th := newTestHost(t)
	th.h.SetLatency(time.Hour)
	done := make(chan error, 1)
	go func() {
		_, _, err := th.run(t, "touch delayed")
		done <- err
	}()
	waitFor(t, "the delayed session to open", func() bool {
		th.h.mu.Lock()
		defer th.h.mu.Unlock()
		return len(th.h.conns) == 1
	})
	time.Sleep(20 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(th.h.Root(), "delayed")); err == nil {
		t.Fatal("the command ran before the injected latency passed")
	}
	th.h.Close()
	if err := <-done; err == nil {
		t.Fatal("a session cut by Close reported success")
	}
}

func TestTiUPLayoutFiles(t *testing.T) {
	th := newTestHost(t)
	deploy := filepath.Join(th.h.Root(), "home", "tidb", "deploy", "tikv-20160")
	conf, err := os.ReadFile(filepath.Join(deploy, "conf", "tikv.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := tiupHeader + "[server]\n[server.labels]\nhost = \"host-1\"\nzone = \"z1\"\n"
	if string(conf) != want {
		t.Fatalf("tikv.toml:\n%s\nwant:\n%s", conf, want)
	}
	script, _ := os.ReadFile(filepath.Join(deploy, "scripts", "run_tikv.sh"))
	if !strings.Contains(string(script), fmt.Sprintf("cd %q || exit 1", deploy)) ||
		!strings.Contains(string(script), `--pd "127.0.0.1:2379"`) {
		t.Fatalf("run_tikv.sh:\n%s", script)
	}
	unit, _ := os.ReadFile(filepath.Join(th.h.Root(), "etc", "systemd", "system", "tikv-20160.service"))
	for _, s := range []string{"Restart=always", "RestartSec=15s", "User=tidb", deploy + "/scripts/run_tikv.sh"} {
		if !strings.Contains(string(unit), s) {
			t.Fatalf("unit file lacks %q:\n%s", s, unit)
		}
	}
	for _, d := range []string{"log", "bin", "data"} {
		if fi, err := os.Stat(filepath.Join(deploy, d)); err != nil || !fi.IsDir() {
			t.Fatalf("missing dir %s: %v", d, err)
		}
	}
}

func TestRenderTOMLShapeAndDaemonReload(t *testing.T) {
	got := RenderTOML(map[string]any{
		"readpool": map[string]any{"coprocessor": map[string]any{"use-unified-pool": true}, "storage": map[string]any{"use-unified-pool": false}},
		"server":   map[string]any{"labels": map[string]any{"host": "h"}},
	})
	want := "[readpool]\n[readpool.coprocessor]\nuse-unified-pool = true\n[readpool.storage]\nuse-unified-pool = false\n\n[server]\n[server.labels]\nhost = \"h\"\n"
	if got != want {
		t.Fatalf("RenderTOML:\n%s\nwant:\n%s", got, want)
	}
	if d, err := parseSystemdSpan("1min"); err != nil || d != time.Minute {
		t.Fatalf("parseSystemdSpan(1min) = %v, %v", d, err)
	}
	if d, err := parseSystemdSpan("5"); err != nil || d != 5*time.Second {
		t.Fatalf("parseSystemdSpan(5) = %v, %v", d, err)
	}
}
