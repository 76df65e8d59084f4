package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestQuoteRoundTripsThroughSh(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", `"$HOME" $(id) ` + "`id`", "tab\there\nnewline", "--flag", "*?[x]", "'''", "ünï"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) came back as %q", s, out)
		}
	}
	if got := Command("systemctl", "restart", "tikv-20160.service"); got != "systemctl restart tikv-20160.service" {
		t.Errorf("Command = %q", got)
	}
}

func TestSudoFailure(t *testing.T) {
	tests := []struct {
		res  Result
		want string
	}{
		{Result{ExitCode: 1, Stderr: []byte("sudo: a password is required\n")}, "sudo: a password is required"},
		{Result{ExitCode: 1, Stderr: []byte("tidb is not in the sudoers file.  This incident will be reported.\n")}, ""}, // no "sudo:" prefix: the command's own output
		{Result{ExitCode: 1, Stderr: []byte("sudo: tidb is not in the sudoers file.\n")}, "sudo: tidb is not in the sudoers file."},
		{Result{ExitCode: 127, Stderr: []byte("bash: line 1: sudo: command not found\n")}, "sudo is not installed on the host"},
		{Result{ExitCode: 1, Stderr: []byte("grep: nothing\n")}, ""},
		{Result{ExitCode: 0}, ""},
	}
	for _, tt := range tests {
		if got := sudoFailure(tt.res); got != tt.want {
			t.Errorf("sudoFailure(%q, %d) = %q, want %q", tt.res.Stderr, tt.res.ExitCode, got, tt.want)
		}
	}
}

func TestPidStripper(t *testing.T) {
	var p pidStripper
	for _, chunk := range []string{"tikv-ear-p", "id=4242\nreal ", "stderr\n"} {
		p.Write([]byte(chunk))
	}
	out, pid := p.result()
	if pid != "4242" || string(out) != "real stderr\n" {
		t.Fatalf("got %q, pid %q", out, pid)
	}
	var q pidStripper
	q.Write([]byte("sudo: a password is required\n"))
	if out, pid := q.result(); pid != "" || string(out) != "sudo: a password is required\n" {
		t.Fatalf("no marker: got %q, pid %q", out, pid)
	}
	var w pidStripper // a login shell warned first
	w.Write([]byte("bash: warning: setlocale: LC_ALL: cannot change locale\ntikv-ear-pid=7\nmine"))
	if out, pid := w.result(); pid != "7" || string(out) != "bash: warning: setlocale: LC_ALL: cannot change locale\nmine" {
		t.Fatalf("marker on line 2: got %q, pid %q", out, pid)
	}
}

// TestPidStripperSaysWhenThePidIsKnown: a cancelled Run waits on seen() for
// the pid line before it kills the command; seen() must close once the line
// is read (or the stripper stops looking), and not before.
func TestPidStripperSaysWhenThePidIsKnown(t *testing.T) {
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	var p pidStripper
	seen := p.seen()
	p.Write([]byte("tikv-ear-pid=42"))
	if closed(seen) || p.remotePID() != "" {
		t.Fatal("seen() closed before the pid line ended")
	}
	p.Write([]byte("\n"))
	if !closed(seen) || p.remotePID() != "42" {
		t.Fatalf("seen() not closed after the pid line (pid %q)", p.remotePID())
	}
	if !closed(p.seen()) {
		t.Fatal("seen() asked after the pid line is not closed")
	}
	var q pidStripper
	seen = q.seen()
	for range 16 {
		q.Write([]byte("a warning\n"))
	}
	if !closed(seen) || q.remotePID() != "" {
		t.Fatal("seen() not closed once the stripper stopped looking")
	}
}

func TestForEachBoundsConcurrency(t *testing.T) {
	hosts := make([]string, 10)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d", i)
	}
	var active, peak atomic.Int32
	started := make(chan struct{}, len(hosts))
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- ForEach(context.Background(), hosts, 3, func(ctx context.Context, h string) error {
			n := active.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			started <- struct{}{}
			<-release
			active.Add(-1)
			if h == "h4" || h == "h7" {
				return errors.New("boom")
			}
			return nil
		})
	}()
	for range 3 {
		<-started // three run at once...
	}
	close(release) // ...then let everything finish
	err := <-done
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want 3", p)
	}
	var he *HostError
	if !errors.As(err, &he) || he.Host != "h4" || !strings.Contains(err.Error(), "h7: boom") {
		t.Fatalf("joined error = %v", err)
	}
}

func TestForEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int32
	err := ForEach(ctx, []string{"a", "b"}, 1, func(context.Context, string) error { calls.Add(1); return nil })
	if calls.Load() != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("calls %d, err %v", calls.Load(), err)
	}
}

// scriptExec answers commands by the first matching prefix rule.
type scriptExec struct {
	mu    sync.Mutex
	rules []scriptRule
	cmds  []string
}

type scriptRule struct {
	contains string
	results  []Result // consumed in order; the last one repeats
	err      error
}

func (s *scriptExec) Run(_ context.Context, _ string, cmd string, _ io.Reader) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmds = append(s.cmds, cmd)
	for i := range s.rules {
		r := &s.rules[i]
		if strings.Contains(cmd, r.contains) {
			if r.err != nil {
				return Result{}, r.err
			}
			res := r.results[0]
			if len(r.results) > 1 {
				r.results = r.results[1:]
			}
			return res, nil
		}
	}
	return Result{ExitCode: 127, Stderr: []byte("unexpected command")}, nil
}

// fakeClock advances instantly.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return true
}

func TestServiceCommands(t *testing.T) {
	ex := &scriptExec{rules: []scriptRule{
		{contains: "systemctl restart tikv-20160.service", results: []Result{{}}},
		{contains: "systemctl is-active tikv-20160.service", results: []Result{{ExitCode: 3, Stdout: []byte("failed\n")}, {Stdout: []byte("active\n")}}},
	}}
	n := Node{Exec: ex, Host: "h"}
	ctx := context.Background()
	if err := n.RestartService(ctx, "tikv-20160.service"); err != nil {
		t.Fatal(err)
	}
	if ex.cmds[0] != "systemctl restart tikv-20160.service" { // no daemon-reload: the unit file is never changed
		t.Fatalf("restart command %q, want systemctl restart alone", ex.cmds[0])
	}
	if ok, state, err := n.ServiceActive(ctx, "tikv-20160.service"); ok || state != "failed" || err != nil {
		t.Fatalf("ServiceActive = %v %q %v, want false failed", ok, state, err)
	}
	if ok, state, err := n.ServiceActive(ctx, "tikv-20160.service"); !ok || state != "active" || err != nil {
		t.Fatalf("ServiceActive = %v %q %v, want true active", ok, state, err)
	}
	if err := n.RestartService(ctx, "tikv; rm -rf /"); err == nil {
		t.Fatal("accepted a unit name with a space")
	}
}

func TestWaitPortTimesOutWithTiUPWording(t *testing.T) {
	ss := "State Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 4096 0.0.0.0:201600 0.0.0.0:*\n"
	ex := &scriptExec{rules: []scriptRule{{contains: "ss -ltn", results: []Result{{Stdout: []byte(ss)}}}}}
	clk := &fakeClock{now: time.Unix(0, 0)}
	n := Node{Exec: ex, Host: "h", Clock: clk}
	err := n.WaitPort(context.Background(), 20160, time.Second, 120*time.Second)
	if err == nil || err.Error() != "h: timed out waiting for port 20160 to be started after 2m0s" {
		t.Fatalf("err = %v", err)
	}
	if len(ex.cmds) != 121 {
		t.Fatalf("%d polls, want 121 (one per second for 2m, plus the first)", len(ex.cmds))
	}
	ex2 := &scriptExec{rules: []scriptRule{{contains: "ss -ltn", results: []Result{
		{Stdout: []byte(ss)},
		{Stdout: []byte(ss + "LISTEN 0 4096 0.0.0.0:20160 0.0.0.0:*\n")},
	}}}}
	if err := (Node{Exec: ex2, Host: "h", Clock: clk}).WaitPort(context.Background(), 20160, time.Second, time.Minute); err != nil || len(ex2.cmds) != 2 {
		t.Fatalf("err %v after %d polls", err, len(ex2.cmds))
	}
}

func TestFollowLogOffsetsPartialLinesAndTruncation(t *testing.T) {
	ex := &scriptExec{rules: []scriptRule{{contains: "tail -c", results: []Result{
		{Stdout: []byte("absent\n")},
		{Stdout: []byte("7 20\nab")},       // offset 0: a partial line
		{Stdout: []byte("7 24\nc\nde\nf")}, // completes "abc", then "de", partial "f"
		{Stdout: []byte("7 3\n")},          // truncated below our offset: restart at 0
		{Stdout: []byte("7 3\nxy\n")},
	}}}}
	n := Node{Exec: ex, Host: "h", Clock: &fakeClock{}}
	var got []LogLine
	err := n.FollowLog(context.Background(), "/var/log/tikv.log", 0, time.Second, func(l LogLine) error {
		got = append(got, l)
		if l.Text == "xy" {
			return ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogLine{{"abc", 0, 4}, {"de", 4, 7}, {"xy", 0, 3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Each poll asked for the right offset (tail -c +N is 1-based).
	for i, off := range []string{"+1 ", "+1 ", "+3 ", "+9 ", "+1 "} {
		if !strings.Contains(ex.cmds[i], "tail -c "+off) {
			t.Errorf("poll %d: %q, want tail -c %s", i, ex.cmds[i], off)
		}
	}
}

func TestParseStatAndDF(t *testing.T) {
	fi, err := parseStat("/k", "4750/1000/1001/65/tidb/tidb/regular file\ntmpfs\n")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode.Perm() != 0o750 || fi.Mode&0o4000 != 0 || fi.Mode.String() != "urwxr-x---" || fi.FSType != "tmpfs" || fi.Size != 65 {
		t.Fatalf("parseStat = %+v (mode %v)", fi, fi.Mode)
	}
	if _, err := parseStat("/k", "garbage\n"); err == nil {
		t.Fatal("parseStat accepted garbage")
	}
	ds, err := parseDF("/d", "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/my disk   100 40 60 40% /data dir\n")
	if err != nil {
		t.Fatal(err)
	}
	if ds != (DiskSpace{Filesystem: "/dev/my disk", Total: 102400, Used: 40960, Available: 61440, MountedOn: "/data dir"}) {
		t.Fatalf("parseDF = %+v", ds)
	}
	if !cpuFlagsHaveAES("flags\t\t: fpu vme aes avx") || cpuFlagsHaveAES("flags : fpu vaes avx") {
		t.Fatal("cpuFlagsHaveAES")
	}
}

func TestNodeErrorsCarryHostOpAndStderr(t *testing.T) {
	ex := &scriptExec{rules: []scriptRule{
		{contains: "cat --", results: []Result{{ExitCode: 1, Stderr: []byte("cat: /x: Permission denied\n")}}},
		{contains: "df -P", err: errors.New("connection lost")},
	}}
	n := Node{Exec: ex, Host: "tikv-1"}
	_, err := n.ReadFile(context.Background(), "/x")
	var ce *CommandError
	if !errors.As(err, &ce) || err.Error() != "reading /x on tikv-1: exit status 1: cat: /x: Permission denied" {
		t.Fatalf("ReadFile error = %v", err)
	}
	if _, err := n.FreeSpace(context.Background(), "/d"); err == nil || err.Error() != "df /d on tikv-1: connection lost" {
		t.Fatalf("FreeSpace error = %v", err)
	}
}

func FuzzParseRemoteOutput(f *testing.F) {
	f.Add("644/0/0/3/root/root/regular file\ntmpfs\n")
	f.Add("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 40 60 40% /\n")
	f.Add("tikv-ear-pid=12\nrest")
	f.Fuzz(func(t *testing.T, out string) {
		parseStat("/p", out)
		parseDF("/p", out)
		cpuFlagsHaveAES(out)
		var p pidStripper
		p.Write([]byte(out))
		if b, _ := p.result(); len(b) > len(out) {
			t.Fatalf("stripper grew the output: %q -> %q", out, b)
		}
	})
}

func TestKnownHostsParsedOnceUntilChanged(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "known_hosts")
	key := func(seed byte) xssh.PublicKey {
		k, err := xssh.NewPublicKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)).Public())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if err := os.WriteFile(file, []byte(knownhosts.Line([]string{"[127.0.0.1]:2201"}, key(1))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := &knownHostsCache{}
	h := hostKeys{files: []string{file, filepath.Join(dir, "absent")}, mu: &sync.Mutex{}, cache: cache}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2201}
	first, err := h.load()
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.load()
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(first).Pointer() != reflect.ValueOf(again).Pointer() {
		t.Error("an unchanged known_hosts was parsed again")
	}
	if err := first("127.0.0.1:2201", addr, key(1)); err != nil {
		t.Errorf("known key refused: %v", err)
	}
	// Another dial (or the operator) records a second host: the next load sees it.
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(knownhosts.Line([]string{"[127.0.0.1]:2202"}, key(2)) + "\n")
	f.Close()
	changed, err := h.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := changed("127.0.0.1:2202", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2202}, key(2)); err != nil {
		t.Errorf("a key appended after the first load is not seen: %v", err)
	}
	// A replaced key (same length, so same size) is seen too: the file is a new inode or a new mtime.
	if err := os.WriteFile(file+".new", []byte(knownhosts.Line([]string{"[127.0.0.1]:2201"}, key(3))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".new", file); err != nil {
		t.Fatal(err)
	}
	replaced, err := h.load()
	if err != nil {
		t.Fatal(err)
	}
	var ke *knownhosts.KeyError
	if err := replaced("127.0.0.1:2201", addr, key(1)); !errors.As(err, &ke) || len(ke.Want) != 1 {
		t.Errorf("the old key is still accepted after the file was replaced: %v", err)
	}
}

// TestParentOfIsDirname holds Stat's process-free parent against dirname(1)
// for the absolute paths Stat may walk up from.
func TestParentOfIsDirname(t *testing.T) {
	for _, p := range []string{"/", "//", "/a", "/a/", "/a/b", "/a/b/", "/a//b", "/a//b//", "/data/tikv/key.dict", "/with space/x", "/st*r/[x]", "/a/-n"} {
		out, err := exec.Command("/bin/sh", "-c", parentOf+` "$1"; printf %s "$d"`, "sh", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		want, err := exec.Command("dirname", "--", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != strings.TrimSuffix(string(want), "\n") {
			t.Errorf("parent of %q = %q, dirname says %q", p, out, want)
		}
	}
}
