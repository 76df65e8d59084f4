package schedule

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Lock takes an exclusive, non-blocking flock(2) on path (created 0600) so
// that two rotations never run at once, and writes the holder's pid into it.
// When another process holds the lock the error names that pid. The returned
// unlock removes the file while still holding the lock, then releases it, so
// no lock file is left behind (issue 15). That removal is safe because a
// locker checks, once it holds the lock, that path still names the file it
// locked, and starts over when it does not (the file was removed or replaced
// between its open and its flock).
func Lock(path string) (unlock func(), err error) {
	for attempt := 0; ; attempt++ {
		f, err := lockOnce(path)
		if err != nil {
			return nil, err
		}
		fi, ferr := f.Stat()
		pi, perr := os.Stat(path)
		if ferr == nil && perr == nil && os.SameFile(fi, pi) {
			if err := f.Truncate(0); err == nil {
				_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
				_ = f.Sync()
			}
			return func() {
				_ = os.Remove(path)
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		_ = f.Close()
		if attempt >= 10 {
			return nil, fmt.Errorf("locking %s: the lock file keeps being replaced by another process", path)
		}
	}
}

// lockOnce opens path and takes the flock on the file it opened.
func lockOnce(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening rotation lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "unknown"
		if data, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
				holder = strconv.Itoa(pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("rotation lock %s is held by pid %s: another tikv-ear rotate is running; wait for it to finish", path, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}
