package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Clock is the time source of Node's polling loops; sim/clock.Clock fits, so
// tests and the demo can run on a compressed clock. nil means the wall clock.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done; it reports whether d passed.
	Sleep(ctx context.Context, d time.Duration) bool
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Node is one host seen through an Executor: the file, service and system
// operations tikv-ear needs. Paths must be absolute. The zero Clock is the wall clock.
type Node struct {
	Exec  Executor
	Host  string
	Clock Clock
}

func (n Node) clock() Clock {
	if n.Clock == nil {
		return wallClock{}
	}
	return n.Clock
}

// run runs cmd and turns a transport failure or a non-zero exit into an error.
func (n Node) run(ctx context.Context, op, cmd string, stdin io.Reader) (Result, error) {
	res, err := n.Exec.Run(ctx, n.Host, cmd, stdin)
	if err != nil {
		return res, fmt.Errorf("%s on %s: %w", op, n.Host, err)
	}
	if res.ExitCode != 0 {
		return res, newCommandError(n.Host, op, res)
	}
	return res, nil
}

func checkPath(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("path %q is not absolute; node operations take absolute paths", p)
	}
	if strings.ContainsAny(p, "\x00\n") {
		return fmt.Errorf("path %q contains a NUL or newline", p)
	}
	return nil
}

// ReadFile returns the content of path. A missing file gives an error that
// matches fs.ErrNotExist.
func (n Node) ReadFile(ctx context.Context, p string) ([]byte, error) {
	return alone(ctx, n, func(b *Batch) func() ([]byte, error) { return n.ReadFileIn(b, p) })
}

// alone runs one operation's command in a batch of its own (sent unwrapped).
func alone[T any](ctx context.Context, n Node, add func(*Batch) func() (T, error)) (T, error) {
	b := n.Batch()
	get := add(b)
	b.Run(ctx) // the error is also the operation's own
	return get()
}

// ReadFileIn queues ReadFile's command in b; the returned function gives
// what ReadFile would have, once b has run.
func (n Node) ReadFileIn(b *Batch, p string) func() ([]byte, error) {
	if err := checkPath(p); err != nil {
		return func() ([]byte, error) { return nil, err }
	}
	get := b.Add("cat -- " + Quote(p))
	return func() ([]byte, error) {
		op := "reading " + p
		res, err := get()
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", op, n.Host, err)
		}
		if res.ExitCode != 0 {
			if bytes.Contains(res.Stderr, []byte("No such file or directory")) {
				return nil, fmt.Errorf("%s on %s: %w", op, n.Host, fs.ErrNotExist)
			}
			return nil, newCommandError(n.Host, op, res)
		}
		return res.Stdout, nil
	}
}

// RunIn queues cmd in b as Exec.Run would run it; the returned function
// gives its Result once b has run.
func (n Node) RunIn(b *Batch, cmd string) func() (Result, error) { return b.Add(cmd) }

// checked turns a transport failure or a non-zero exit of a batched command
// into an error, as run does for a lone one.
func (n Node) checked(op string, get func() (Result, error)) (Result, error) {
	res, err := get()
	if err != nil {
		return res, fmt.Errorf("%s on %s: %w", op, n.Host, err)
	}
	if res.ExitCode != 0 {
		return res, newCommandError(n.Host, op, res)
	}
	return res, nil
}

// FileInfo is what Stat found.
type FileInfo struct {
	Path   string
	Exists bool
	Mode   fs.FileMode // permission bits plus setuid/setgid/sticky, dir and symlink type bits
	Owner  string      // user name ("UNKNOWN" when the uid has no name)
	Group  string
	UID    int
	GID    int
	Size   int64
	Type   string // stat's %F: "regular file", "directory", "symbolic link", ...
	FSType string // the mount's file system type from `stat -f -c %T`: "tmpfs", "ext2/ext3", "xfs", ...
}

// Stat describes path (not following a final symlink). A missing path is not
// an error: Exists is false, and FSType is the file system of its nearest
// existing ancestor, where it would be created (so a plan checking a key
// directory not made yet and a verify checking the key file in it name the
// same file system).
func (n Node) Stat(ctx context.Context, p string) (FileInfo, error) {
	return alone(ctx, n, func(b *Batch) func() (FileInfo, error) { return n.StatIn(b, p) })
}

// StatIn queues Stat's command in b; the returned function gives what Stat
// would have, once b has run.
func (n Node) StatIn(b *Batch, p string) func() (FileInfo, error) {
	if err := checkPath(p); err != nil {
		return func() (FileInfo, error) { return FileInfo{}, err }
	}
	q := Quote(p)
	cmd := "if " + existsTest(q) + "; then stat -c '%a/%u/%g/%s/%U/%G/%F' -- " + q +
		" && stat -f -c %T -- " + q + "; else echo absent; " + parentOf + " " + q + "; " +
		"while [ ! -e \"$d\" ] && [ \"$d\" != / ]; do tikv_ear_parent \"$d\"; done; stat -f -c %T -- \"$d\"; fi"
	get := b.Add(cmd)
	return func() (FileInfo, error) {
		res, err := n.checked("stat "+p, get)
		if err != nil {
			return FileInfo{}, err
		}
		return parseStat(p, string(res.Stdout))
	}
}

// ExistsIn queues a test of whether path exists (a dangling symlink counts),
// with the shell's builtins only; the returned function answers once b has
// run. Stat says more, at the cost of stat(1) processes.
func (n Node) ExistsIn(b *Batch, p string) func() (bool, error) {
	if err := checkPath(p); err != nil {
		return func() (bool, error) { return false, err }
	}
	q := Quote(p)
	get := b.Add("if " + existsTest(q) + "; then echo yes; else echo no; fi")
	return func() (bool, error) {
		res, err := n.checked("testing "+p, get)
		if err != nil {
			return false, err
		}
		switch out := strings.TrimSpace(string(res.Stdout)); out {
		case "yes", "no":
			return out == "yes", nil
		default:
			return false, fmt.Errorf("testing %s on %s: unexpected output %q", p, n.Host, out)
		}
	}
}

// existsTest is the shell test for "q (a quoted path) exists", a dangling
// symlink included, which Stat and ExistsIn share.
func existsTest(q string) string { return "[ -e " + q + " ] || [ -L " + q + " ]" }

// parentOf defines and calls tikv_ear_parent, which sets d to dirname(1)
// of its absolute argument without starting a process: trailing slashes
// off, the last component off, trailing slashes off again, "/" when
// nothing is left (POSIX dirname's steps for a path starting with "/").
const parentOf = `tikv_ear_parent() { d=${1%"${1##*[!/]}"}; d=${d%/*}; d=${d%"${d##*[!/]}"}; [ -n "$d" ] || d=/; }; tikv_ear_parent`

func parseStat(p, out string) (FileInfo, error) {
	fi := FileInfo{Path: p}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) >= 1 && lines[0] == "absent" {
		if len(lines) == 2 {
			fi.FSType = lines[1] // the nearest existing ancestor's
		}
		return fi, nil
	}
	bad := fmt.Errorf("stat %s: unexpected output %q", p, out)
	if len(lines) != 2 {
		return fi, bad
	}
	f := strings.SplitN(lines[0], "/", 7)
	if len(f) != 7 {
		return fi, bad
	}
	mode, err1 := strconv.ParseUint(f[0], 8, 32)
	uid, err2 := strconv.Atoi(f[1])
	gid, err3 := strconv.Atoi(f[2])
	size, err4 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return fi, bad
	}
	fi.Exists = true
	fi.Mode = unixMode(uint32(mode), f[6])
	fi.UID, fi.GID, fi.Size = uid, gid, size
	fi.Owner, fi.Group, fi.Type = f[4], f[5], f[6]
	fi.FSType = lines[1]
	return fi, nil
}

func unixMode(m uint32, typ string) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch typ {
	case "directory":
		mode |= fs.ModeDir
	case "symbolic link":
		mode |= fs.ModeSymlink
	}
	return mode
}

// WriteOptions say how WriteFileAtomic leaves the file.
type WriteOptions struct {
	// Mode is the permission bits; 0 keeps the previous file's, or 0600 for a new file.
	Mode fs.FileMode
	// Owner and Group (names or numbers); "" keeps the previous file's, or the
	// writing user's for a new file.
	Owner, Group string
	// Backup keeps the previous version as <path>.tikv-ear.bak.<UTC timestamp>
	// (a hard link to the old inode, or a copy when links are not possible).
	Backup bool
}

// WriteResult reports what WriteFileAtomic did.
type WriteResult struct {
	BackupPath string // "" when no backup was made (not asked, or no previous file)
	Size       int64  // size of the file now at path
}

// BackupSuffix is inserted between the path and the timestamp of a backup.
const BackupSuffix = ".tikv-ear.bak."

// WriteFileAtomic replaces path with content. The content travels only over
// the session's stdin into a temporary file in the same directory (umask 077),
// which gets its mode and owner, is fsynced, and is renamed over path; the
// directory is then synced. The command line never contains the content. A
// symlink at path is refused rather than replaced.
func (n Node) WriteFileAtomic(ctx context.Context, p string, content []byte, opts WriteOptions) (WriteResult, error) {
	if err := checkPath(p); err != nil {
		return WriteResult{}, err
	}
	if p == "/" || strings.HasSuffix(p, "/") {
		return WriteResult{}, fmt.Errorf("path %q names a directory, not a file", p)
	}
	dir, base := path.Split(p)
	backup := ""
	if opts.Backup {
		backup = p + BackupSuffix + n.clock().Now().UTC().Format("20060102T150405.000000000Z")
	}
	mode := ""
	if opts.Mode != 0 {
		mode = fmt.Sprintf("%o", unixPerm(opts.Mode))
	}
	q := Quote(p)
	var s strings.Builder
	s.WriteString("set -eu\numask 077\n")
	s.WriteString("p=" + q + "\n")
	s.WriteString("mode=" + Quote(mode) + "; own=" + Quote(opts.Owner) + "; grp=" + Quote(opts.Group) + "\n")
	s.WriteString(`if [ -L "$p" ]; then echo "tikv-ear: $p is a symbolic link; refusing to replace it (write its target instead)" >&2; exit 3; fi` + "\n")
	s.WriteString("tmp=$(mktemp " + Quote(dir+"."+base+".tikv-ear.XXXXXX") + ")\n")
	s.WriteString(`trap 'rm -f -- "$tmp"' EXIT` + "\n")
	s.WriteString(`cat > "$tmp"` + "\n")
	// One stat for the three (a process each was most of a write's cost on a
	// busy host: issue 17).
	s.WriteString(`if [ -e "$p" ]; then` + "\n")
	s.WriteString(`  cur=$(stat -c '%a %u %g' -- "$p"); set -- $cur` + "\n")
	s.WriteString(`  [ -n "$mode" ] || mode=$1; [ -n "$own" ] || own=$2; [ -n "$grp" ] || grp=$3` + "\n")
	s.WriteString("fi\n")
	s.WriteString(`if [ -n "$own" ] || [ -n "$grp" ]; then chown -- "$own${grp:+:$grp}" "$tmp"; fi` + "\n")
	s.WriteString(`chmod -- "${mode:-600}" "$tmp"` + "\n")
	s.WriteString(`sync -- "$tmp" 2>/dev/null || sync` + "\n")
	if backup != "" {
		b := Quote(backup)
		s.WriteString(`if [ -e "$p" ]; then ln -- "$p" ` + b + ` 2>/dev/null || cp -p -- "$p" ` + b + `; echo backup; fi` + "\n")
	}
	s.WriteString(`mv -f -- "$tmp" "$p"` + "\n")
	s.WriteString("sync -- " + Quote(dir) + " 2>/dev/null || true\n")
	s.WriteString(`echo "size $(stat -c %s -- "$p")"` + "\n")

	res, err := n.run(ctx, "writing "+p, s.String(), bytes.NewReader(content))
	if err != nil {
		return WriteResult{}, err
	}
	var wr WriteResult
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		switch {
		case line == "backup":
			wr.BackupPath = backup
		case strings.HasPrefix(line, "size "):
			wr.Size, _ = strconv.ParseInt(strings.TrimPrefix(line, "size "), 10, 64)
		}
	}
	if wr.Size != int64(len(content)) {
		return wr, fmt.Errorf("writing %s on %s: the file has %d bytes after the write, want %d", p, n.Host, wr.Size, len(content))
	}
	return wr, nil
}

// unixPerm maps permission and special bits to their octal form.
func unixPerm(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// UploadKey writes key material to path with mode 0400, owned by owner:group
// ("" keeps the previous owner or the writer's), without a backup: the key
// travels only over stdin (reference kms-and-evidence.md §2.2 step 3a). Put it
// on a tmpfs; Stat(dir).FSType tells.
func (n Node) UploadKey(ctx context.Context, p string, key []byte, owner, group string) error {
	_, err := n.WriteFileAtomic(ctx, p, key, WriteOptions{Mode: 0o400, Owner: owner, Group: group})
	return err
}

// Remove deletes path; a missing path is not an error.
func (n Node) Remove(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	_, err := n.run(ctx, "removing "+p, "rm -f -- "+Quote(p), nil)
	return err
}

// checkUnit refuses unit names that are empty, look like options or hold
// spaces or slashes.
func checkUnit(name string) error {
	if name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, " \t\n/'\"") {
		return fmt.Errorf("systemd unit name %q is not valid (want e.g. tikv-20160.service)", name)
	}
	return nil
}

// RestartService runs "systemctl restart <name>". TiUP runs "systemctl
// daemon-reload && systemctl restart <name>" (pingcap/tiup
// pkg/cluster/module/systemd.go; reference pd-and-tiup.md §2.2 step 3)
// because its reload re-renders the unit file; tikv-ear changes only
// tikv.toml, never the unit, so it does not reload systemd: a daemon-reload
// would also make live any unit-file edit left pending on the host, a change
// the plan never showed, and it re-reads every unit on the host for each
// store. TiUP's unit name is tikv-<port>.service.
func (n Node) RestartService(ctx context.Context, name string) error {
	if err := checkUnit(name); err != nil {
		return err
	}
	cmd := "systemctl restart " + Quote(name)
	_, err := n.run(ctx, "restarting "+name, cmd, nil)
	return err
}

// RunRestartCommand runs an operator-supplied restart command (for clusters
// not managed by TiUP's systemd units). It must not contain secrets.
func (n Node) RunRestartCommand(ctx context.Context, cmd string) error {
	if strings.TrimSpace(cmd) == "" {
		return errors.New("the restart command is empty")
	}
	_, err := n.run(ctx, "running the restart command", cmd, nil)
	return err
}

// ServiceActive runs "systemctl is-active <name>" and returns whether the unit
// is active and the state it printed (active, inactive, failed, activating, ...).
func (n Node) ServiceActive(ctx context.Context, name string) (bool, string, error) {
	if err := checkUnit(name); err != nil {
		return false, "", err
	}
	op := "checking service " + name
	res, err := n.Exec.Run(ctx, n.Host, "systemctl is-active "+Quote(name), nil)
	if err != nil {
		return false, "", fmt.Errorf("%s on %s: %w", op, n.Host, err)
	}
	state := strings.TrimSpace(string(res.Stdout))
	if res.ExitCode == 0 {
		return true, state, nil
	}
	if state == "" || res.ExitCode == 127 {
		return false, "", newCommandError(n.Host, op, res)
	}
	return false, state, nil
}

// WaitPort polls "ss -ltn" every poll until its output contains ":<port> ",
// TiUP's readiness rule for TiKV's main port (pingcap/tiup
// pkg/cluster/module/wait_for.go; reference pd-and-tiup.md §2.2 step 3), or
// fails after timeout with TiUP's wording.
func (n Node) WaitPort(ctx context.Context, port int, poll, timeout time.Duration) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is out of range 1-65535", port)
	}
	if poll <= 0 {
		poll = time.Second // TiUP's WaitForConfig default Sleep
	}
	pattern := []byte(fmt.Sprintf(":%d ", port))
	clk := n.clock()
	start := clk.Now()
	var last error
	for {
		res, err := n.Exec.Run(ctx, n.Host, "ss -ltn", nil)
		switch {
		case err != nil:
			last = err
		case res.ExitCode == 127:
			return fmt.Errorf("waiting for port %d on %s: ss is not installed (install iproute2): %s", port, n.Host, strings.TrimSpace(string(res.Stderr)))
		case res.ExitCode != 0:
			last = newCommandError(n.Host, "ss -ltn", res)
		case bytes.Contains(res.Stdout, pattern):
			return nil
		default:
			last = nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for port %d on %s: %w", port, n.Host, ctx.Err())
		}
		if clk.Now().Sub(start) >= timeout {
			err := fmt.Errorf("timed out waiting for port %d to be started after %s", port, timeout)
			if last != nil {
				err = fmt.Errorf("%w (last error: %v)", err, last)
			}
			return fmt.Errorf("%s: %w", n.Host, err)
		}
		if !clk.Sleep(ctx, poll) {
			return fmt.Errorf("waiting for port %d on %s: %w", port, n.Host, ctx.Err())
		}
	}
}

// LogLine is one complete line of a followed log.
type LogLine struct {
	Text   string // without the newline
	Offset int64  // byte offset of the line's start in the file
	End    int64  // offset just past its newline: resume FollowLog from here
}

// ErrStopFollowing, returned by a FollowLog callback, ends FollowLog with nil.
var ErrStopFollowing = errors.New("stop following the log")

// followChunk bounds the bytes read per poll.
const followChunk = 1 << 20

// FollowLog calls fn for every complete line appended to path from byte
// offset from on, polling every poll, until ctx is done (its error is
// returned) or fn returns an error (ErrStopFollowing gives nil).
//
// It polls with offsets rather than holding one "tail -F" session: each poll
// is a short command ("stat" for inode and size, then "tail -c +N | head -c
// 1MiB") on the pooled connection, so a dropped connection costs one poll,
// not the stream, and the resume point is always exact (LogLine.End).
// Rotation (new inode) and truncation (size below the offset) restart at 0;
// lines written to the old file after the last poll are lost. A missing file
// is waited for. Three failed polls in a row end FollowLog with the error.
func (n Node) FollowLog(ctx context.Context, p string, from int64, poll time.Duration, fn func(LogLine) error) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if poll <= 0 {
		poll = time.Second
	}
	clk := n.clock()
	q := Quote(p)
	var inode string
	offset := max(from, 0)
	var pending []byte // an incomplete last line
	failures := 0
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cmd := "if [ -e " + q + " ]; then stat -L -c '%i %s' -- " + q + " && tail -c +" + strconv.FormatInt(offset+1, 10) +
			" -- " + q + " | head -c " + strconv.Itoa(followChunk) + "; else echo absent; fi"
		res, err := n.Exec.Run(ctx, n.Host, cmd, nil)
		if err == nil && res.ExitCode != 0 {
			return newCommandError(n.Host, "following "+p, res)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if failures++; failures >= 3 {
				return fmt.Errorf("following %s on %s: %w", p, n.Host, err)
			}
			if !clk.Sleep(ctx, poll) {
				return ctx.Err()
			}
			continue
		}
		failures = 0
		header, data, _ := bytes.Cut(res.Stdout, []byte("\n"))
		if string(header) == "absent" {
			if !clk.Sleep(ctx, poll) {
				return ctx.Err()
			}
			continue
		}
		ino, sizeStr, ok := strings.Cut(string(header), " ")
		size, perr := strconv.ParseInt(sizeStr, 10, 64)
		if !ok || perr != nil {
			return fmt.Errorf("following %s on %s: unexpected stat output %q", p, n.Host, header)
		}
		if (inode != "" && ino != inode) || size < offset {
			inode, offset, pending = ino, 0, nil // rotated or truncated: start the new file
			continue
		}
		inode = ino
		lineStart := offset - int64(len(pending))
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending = append(pending, data...)
				offset += int64(len(data))
				break
			}
			text := string(append(pending, data[:i]...))
			pending = nil
			offset += int64(i + 1)
			data = data[i+1:]
			if err := fn(LogLine{Text: text, Offset: lineStart, End: offset}); err != nil {
				if errors.Is(err, ErrStopFollowing) {
					return nil
				}
				return err
			}
			lineStart = offset
		}
		if len(res.Stdout)-len(header)-1 >= followChunk {
			continue // more is waiting
		}
		if !clk.Sleep(ctx, poll) {
			return ctx.Err()
		}
	}
}

// CPUHasAES reports whether the host's CPU advertises AES instructions: the
// "aes" flag on the first "flags" (x86) or "Features" (arm64) line of
// /proc/cpuinfo (Linux arch/x86/include/asm/cpufeatures.h X86_FEATURE_AES,
// arch/arm64/kernel/cpuinfo.c hwcap_str).
func (n Node) CPUHasAES(ctx context.Context) (bool, error) {
	return alone(ctx, n, n.CPUHasAESIn)
}

// CPUHasAESIn queues CPUHasAES's command in b; the returned function gives
// what CPUHasAES would have, once b has run.
func (n Node) CPUHasAESIn(b *Batch) func() (bool, error) {
	get := b.Add(cpuFlagsCommand("/proc/cpuinfo"))
	return func() (bool, error) {
		res, err := get()
		if err != nil {
			return false, fmt.Errorf("reading /proc/cpuinfo on %s: %w", n.Host, err)
		}
		if res.ExitCode == 1 {
			return false, fmt.Errorf("reading /proc/cpuinfo on %s: no flags or Features line", n.Host)
		}
		if res.ExitCode != 0 {
			return false, newCommandError(n.Host, "reading /proc/cpuinfo", res)
		}
		return cpuFlagsHaveAES(string(res.Stdout)), nil
	}
}

// cpuFlagsCommand prints the first line of the file whose key (the text
// before its first colon, trailing blanks off) is "flags" or "Features", and
// exits 1 when there is none: what grep -m1 -E '^(flags|Features)[[:space:]]*:'
// printed, with the shell's builtins instead of a process (preflight reads it
// on every host; issue 17).
func cpuFlagsCommand(path string) string {
	return `while IFS= read -r l; do k=${l%%:*}; [ "$k" = "$l" ] && continue; k=${k%"${k##*[![:space:]]}"}; ` +
		`case $k in flags|Features) printf '%s\n' "$l"; exit 0;; esac; done <` + Quote(path) + `; exit 1`
}

func cpuFlagsHaveAES(line string) bool {
	_, flags, ok := strings.Cut(line, ":")
	if !ok {
		return false
	}
	for _, f := range strings.Fields(flags) {
		if f == "aes" {
			return true
		}
	}
	return false
}

// DiskSpace is one df -P line, in bytes.
type DiskSpace struct {
	Filesystem string
	Total      uint64
	Used       uint64
	Available  uint64
	MountedOn  string
}

var dfLine = regexp.MustCompile(`^(.*\S)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(/.*)$`)

// FreeSpace runs "df -P -k" for path and returns the space of its file system.
func (n Node) FreeSpace(ctx context.Context, p string) (DiskSpace, error) {
	return alone(ctx, n, func(b *Batch) func() (DiskSpace, error) { return n.FreeSpaceIn(b, p) })
}

// FreeSpaceIn queues FreeSpace's command in b; the returned function gives
// what FreeSpace would have, once b has run.
func (n Node) FreeSpaceIn(b *Batch, p string) func() (DiskSpace, error) {
	if err := checkPath(p); err != nil {
		return func() (DiskSpace, error) { return DiskSpace{}, err }
	}
	get := b.Add("df -P -k -- " + Quote(p))
	return func() (DiskSpace, error) {
		res, err := n.checked("df "+p, get)
		if err != nil {
			return DiskSpace{}, err
		}
		return parseDF(p, string(res.Stdout))
	}
}

func parseDF(p, out string) (DiskSpace, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 {
		return DiskSpace{}, fmt.Errorf("df %s: unexpected output %q", p, out)
	}
	m := dfLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		return DiskSpace{}, fmt.Errorf("df %s: unexpected output %q", p, out)
	}
	num := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v * 1024 }
	return DiskSpace{Filesystem: m[1], Total: num(m[2]), Used: num(m[3]), Available: num(m[4]), MountedOn: m[6]}, nil
}
