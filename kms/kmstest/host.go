package kmstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"sync"

	"github.com/tikv-ear/tikv-ear/kms/core"
)

// Host is an in-memory core.Host for tests. Every directory reports FSType
// (default "tmpfs"); files keep their content, mode and owner. Safe for
// concurrent use.
type Host struct {
	HostName string
	// FSType is reported for every path (e.g. "tmpfs" or "ext4").
	FSType string

	mu      sync.Mutex
	files   map[string]memFile
	removed map[string]bool // path -> shredded
	// FailWrite, when set, is returned by WriteSecretFile.
	FailWrite error
}

type memFile struct {
	content []byte
	mode    os.FileMode
	owner   string
}

// NewHost returns an empty host whose filesystem is tmpfs.
func NewHost(name string) *Host {
	return &Host{HostName: name, FSType: "tmpfs", files: map[string]memFile{}, removed: map[string]bool{}}
}

// Name implements core.Host.
func (h *Host) Name() string { return h.HostName }

// WriteSecretFile implements core.Host.
func (h *Host) WriteSecretFile(_ context.Context, p string, content io.Reader, mode os.FileMode, owner string) error {
	if h.FailWrite != nil {
		return h.FailWrite
	}
	b, err := io.ReadAll(content)
	if err != nil {
		return fmt.Errorf("reading content for %s: %w", p, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[path.Clean(p)] = memFile{content: b, mode: mode.Perm(), owner: owner}
	return nil
}

// Stat implements core.Host.
func (h *Host) Stat(_ context.Context, p string) (core.FileInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fi := core.FileInfo{FSType: h.FSType}
	p = path.Clean(p)
	if f, ok := h.files[p]; ok {
		fi.Exists, fi.Mode, fi.Owner, fi.Size = true, f.mode, f.owner, int64(len(f.content))
		return fi, nil
	}
	for name := range h.files { // a directory exists when it holds a file
		if path.Dir(name) == p {
			fi.Exists, fi.Mode = true, os.ModeDir|0o700
			return fi, nil
		}
	}
	return fi, nil
}

// Remove implements core.Host.
func (h *Host) Remove(_ context.Context, p string, shred bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p = path.Clean(p)
	if _, ok := h.files[p]; !ok {
		return fmt.Errorf("removing %s: %w", p, os.ErrNotExist)
	}
	delete(h.files, p)
	h.removed[p] = shred
	return nil
}

// File returns a copy of the content of p and whether it exists.
func (h *Host) File(p string) ([]byte, os.FileMode, string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[path.Clean(p)]
	return bytes.Clone(f.content), f.mode, f.owner, ok
}

// Removed reports whether p was removed, and whether it was shredded.
func (h *Host) Removed(p string) (removed, shredded bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	shredded, removed = h.removed[path.Clean(p)]
	return removed, shredded
}

// Paths lists the files on the host, sorted.
func (h *Host) Paths() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for p := range h.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// ErrWriteFailed returns a generic transport error for Host.FailWrite.
func ErrWriteFailed() error { return errors.New("ssh: connection lost") }
