package host

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestTikvCtlShimWithoutAHandlerFails(t *testing.T) {
	th := newTestHost(t)
	out, errOut, err := th.run(t, "tikv-ctl --host 127.0.0.1:20160 compact -d kv -c default --bottommost force")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != exitFailure || out != "" ||
		!strings.Contains(errOut, "tikv-ctl (sim shim): this simulated host has no tikv-ctl") {
		t.Fatalf("tikv-ctl on a host without a handler: err %v, stdout %q, stderr %q", err, out, errOut)
	}
}

// The forwarding shim hands its arguments over unchanged (spaces, quotes,
// newlines, $ and backslashes included), prints the handler's stdout byte for
// byte and its stderr line, exits with its status, and the host counts the
// command and the shim call.
func TestForwardShimKeepsArgumentsOutputAndStatus(t *testing.T) {
	th := newTestHost(t)
	var mu sync.Mutex
	var got []string
	th.h.cfg.TikvCtl = func(args []string) (string, string, int) {
		mu.Lock()
		defer mu.Unlock()
		got = args
		return "it's \"quoted\"\n$HOME `x` \\n\n\n", "bad 'thing'", 3
	}
	before := th.h.Counts()
	out, errOut, err := th.run(t, `tikv-ctl --host 'a b' "it's" '$(id)' 'x
y' '\n'`)
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Fatalf("exit: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"--host", "a b", "it's", "$(id)", "x\ny", `\n`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("arguments %q, want %q", got, want)
	}
	if out != "it's \"quoted\"\n$HOME `x` \\n\n\n" || errOut != "bad 'thing'\n" {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
	after := th.h.Counts()
	if after.Commands != before.Commands+1 || after.Conns != before.Conns+1 || after.Shims["tikv-ctl"] != before.Shims["tikv-ctl"]+1 {
		t.Fatalf("counts before %+v, after %+v", before, after)
	}
}

// A shim whose control server is gone says so on stderr and exits 1; one
// whose server answers an error status says which.
func TestShimsSayWhenTheSimDoesNotAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String() + "/host/h1"
	ln.Close()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	for _, tc := range []struct{ url, want string }{
		{gone, "systemctl: cannot reach the simulated cluster at " + gone + "/systemctl"},
		{srv.URL + "/host/h1", "systemctl: the simulated cluster at " + srv.URL + "/host/h1/systemctl answered: HTTP/1.0 404 Not Found"},
	} {
		dir := t.TempDir()
		if err := writeShims(dir, "h1", tc.url); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(dir, "systemctl"), "restart", "tikv-20160.service")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || stdout.String() != "" || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("shim against %s: err %v, stdout %q, stderr %q; want exit 1 and %q", tc.url, err, stdout.String(), stderr.String(), tc.want)
		}
	}
}
