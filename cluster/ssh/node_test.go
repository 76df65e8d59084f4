package ssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recordingExec wraps an Executor and records every command and stdin.
type recordingExec struct {
	inner  Executor
	mu     sync.Mutex
	cmds   []string
	stdins [][]byte
}

func (r *recordingExec) Run(ctx context.Context, host, cmd string, stdin io.Reader) (Result, error) {
	var in []byte
	if stdin != nil {
		var err error
		if in, err = io.ReadAll(stdin); err != nil {
			return Result{}, err
		}
		stdin = bytes.NewReader(in)
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, cmd)
	r.stdins = append(r.stdins, in)
	r.mu.Unlock()
	return r.inner.Run(ctx, host, cmd, stdin)
}

func testNode(t *testing.T) (Node, *Client) {
	s := sharedSSHD(t)
	c := newClient(t, s.options(t))
	return Node{Exec: c, Host: "127.0.0.1"}, c
}

func TestWriteFileAtomicKeepsModeOwnerAndBacksUp(t *testing.T) {
	n, _ := testNode(t)
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "tikv.toml")

	// A new file: 0600, content exact, no backup.
	wr, err := n.WriteFileAtomic(ctx, p, []byte("v1\n"), WriteOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	if wr.BackupPath != "" || wr.Size != 3 {
		t.Fatalf("first write: %+v, want no backup and size 3", wr)
	}
	assertFile(t, p, "v1\n", 0o600)

	// The previous mode and owner are kept when not given; a backup holds v1.
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	wr, err = n.WriteFileAtomic(ctx, p, []byte("v2\n"), WriteOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	assertFile(t, p, "v2\n", 0o640)
	assertOwner(t, p, 65534, 65534)
	if !strings.HasPrefix(wr.BackupPath, p+BackupSuffix) {
		t.Fatalf("backup path %q, want prefix %s", wr.BackupPath, p+BackupSuffix)
	}
	assertFile(t, wr.BackupPath, "v1\n", 0o640)
	assertOwner(t, wr.BackupPath, 65534, 65534)

	// Explicit mode and owner win; no temporary files are left behind.
	if _, err := n.WriteFileAtomic(ctx, p, []byte("v3\n"), WriteOptions{Mode: 0o644, Owner: "0", Group: "0"}); err != nil {
		t.Fatal(err)
	}
	assertFile(t, p, "v3\n", 0o644)
	assertOwner(t, p, 0, 0)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want the file and one backup", names)
	}

	info, err := n.Stat(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Exists || info.Mode != 0o644 || info.Owner != "root" || info.UID != 0 || info.Size != 3 || info.Type != "regular file" || info.FSType == "" {
		t.Fatalf("Stat = %+v", info)
	}
}

func TestWriteFileAtomicRefusesSymlinkAndRelative(t *testing.T) {
	n, _ := testNode(t)
	ctx := context.Background()
	dir := t.TempDir()
	target := filepath.Join(dir, "real")
	writeFile(t, target, []byte("keep"), 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := n.WriteFileAtomic(ctx, link, []byte("x"), WriteOptions{})
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("writing through a symlink: %v", err)
	}
	assertFile(t, target, "keep", 0o600)
	if _, err := n.WriteFileAtomic(ctx, "relative/path", nil, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Fatalf("relative path: %v", err)
	}
}

func TestUploadKeyOnlyOverStdin(t *testing.T) {
	s := sharedSSHD(t)
	c := newClient(t, s.options(t))
	var hookMu sync.Mutex
	var sessionLines []string
	c.opts.OnSession = func(_, line string) { hookMu.Lock(); sessionLines = append(sessionLines, line); hookMu.Unlock() }
	rec := &recordingExec{inner: c}
	n := Node{Exec: rec, Host: "127.0.0.1"}

	key := []byte("c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00\n")
	dir := t.TempDir()
	p := filepath.Join(dir, "master.key")
	writeFile(t, p, []byte("old key material\n"), 0o600) // replaced, never backed up
	if err := n.UploadKey(context.Background(), p, key, "", ""); err != nil {
		t.Fatal(err)
	}
	assertFile(t, p, string(key), 0o400)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the key (no backup, no temp file)", len(entries))
	}

	hookMu.Lock()
	defer hookMu.Unlock()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.cmds) != 1 || !bytes.Equal(rec.stdins[0], key) {
		t.Fatalf("want one command with the key as its stdin, got %d commands", len(rec.cmds))
	}
	secret := strings.TrimSpace(string(key))
	for _, line := range append(rec.cmds, sessionLines...) {
		if strings.Contains(line, secret) || strings.Contains(line, secret[:16]) {
			t.Fatalf("key material in a command line: %q", line)
		}
	}
}

func TestReadFileAndStat(t *testing.T) {
	n, _ := testNode(t)
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "it's a file")
	writeFile(t, p, []byte("line\n\x00bin"), 0o600)
	b, err := n.ReadFile(ctx, p)
	if err != nil || string(b) != "line\n\x00bin" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := n.ReadFile(ctx, filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	fi, err := n.Stat(ctx, filepath.Join(dir, "missing"))
	if err != nil || fi.Exists {
		t.Fatalf("Stat(missing) = %+v, %v", fi, err)
	}
	fi, err = n.Stat(ctx, dir)
	if err != nil || !fi.Mode.IsDir() {
		t.Fatalf("Stat(dir) = %+v, %v", fi, err)
	}
	// A path not made yet names the file system it would be created on: the
	// one of its nearest existing ancestor (plan checks a key dir before it
	// exists; verify checks the key file in it later: both name the same).
	missing, err := n.Stat(ctx, filepath.Join(dir, "not", "made", "yet"))
	if err != nil || missing.Exists || missing.FSType == "" || missing.FSType != fi.FSType {
		t.Fatalf("Stat(missing dir) = %+v, %v; want Exists false on %q, the file system of %s", missing, err, fi.FSType, dir)
	}
	fi, err = n.Stat(ctx, "/proc/self")
	if err != nil || fi.FSType != "proc" || fi.Mode&fs.ModeSymlink == 0 {
		t.Fatalf("Stat(/proc/self) = %+v, %v; want a symlink on proc", fi, err)
	}
}

func TestWaitPort(t *testing.T) {
	n, _ := testNode(t)
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := n.WaitPort(ctx, port, 10*time.Millisecond, 5*time.Second); err != nil {
		t.Fatalf("listening port: %v", err)
	}
	l.Close()
	err = n.WaitPort(ctx, port, 10*time.Millisecond, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "timed out waiting for port") {
		t.Fatalf("closed port: %v", err)
	}
}

func TestFollowLog(t *testing.T) {
	n, _ := testNode(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "tikv.log")
	writeFile(t, p, []byte("old line\n"), 0o644)
	appendTo := func(s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		f.WriteString(s)
		f.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go appendTo("first\n")
	var got []LogLine
	err := n.FollowLog(ctx, p, int64(len("old line\n")), 5*time.Millisecond, func(l LogLine) error {
		got = append(got, l)
		switch l.Text {
		case "first":
			appendTo("second, written ")
			appendTo("in two parts\n")
		case "second, written in two parts":
			// Rotate: the old file moves away, a new one starts.
			if err := os.Rename(p, p+".1"); err != nil {
				return err
			}
			writeFile(t, p, []byte("after rotation\n"), 0o644)
		case "after rotation":
			return ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		t.Fatalf("FollowLog: %v", err)
	}
	want := []LogLine{
		{Text: "first", Offset: 9, End: 15},
		{Text: "second, written in two parts", Offset: 15, End: 44},
		{Text: "after rotation", Offset: 0, End: 15},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCPUAndDisk(t *testing.T) {
	n, _ := testNode(t)
	ctx := context.Background()
	has, err := n.CPUHasAES(ctx)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := os.ReadFile("/proc/cpuinfo")
	want := false
	for _, line := range strings.Split(string(local), "\n") {
		if strings.HasPrefix(line, "flags") || strings.HasPrefix(line, "Features") {
			want = cpuFlagsHaveAES(line)
			break
		}
	}
	if has != want {
		t.Fatalf("CPUHasAES = %v, local /proc/cpuinfo says %v", has, want)
	}

	dir := t.TempDir()
	ds, err := n.FreeSpace(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if total := st.Blocks * uint64(st.Bsize); ds.Total == 0 || ds.Total > total+1024 || ds.Total+1024*1024 < total || ds.MountedOn == "" {
		t.Fatalf("FreeSpace = %+v, statfs total %d", ds, total)
	}
}

func assertFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != content {
		t.Fatalf("%s holds %q, want %q", p, b, content)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Fatalf("%s has mode %v, want %v", p, fi.Mode().Perm(), mode)
	}
}

func assertOwner(t *testing.T, p string, uid, gid uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid {
		t.Fatalf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
	}
}
