// Package filekey is the "file" master-key backend: a 32-byte key from
// crypto/rand kept on the operator's machine (0400 in a 0700 directory) and
// delivered to each TiKV host as 64 lowercase hex characters and LF (exactly
// 65 bytes, components/encryption/src/master_key/file.rs) in a 0400 file on tmpfs.
//
// It is for development and staging only: Validate refuses it for a production
// plan, as the TiKV docs recommend a KMS for production (reference
// tikv-encryption.md §1.3 rule 6).
//
// Runbook:
//   - Prepare(current) creates generation 1 in key-dir if none exists;
//     Prepare(new) creates the next generation (master-g<N>.key).
//   - Deliver streams the key over stdin to <host-key-dir>/master-g<N>.key.
//   - Rotation: deliver both generations, render master-key = new and
//     previous-master-key = old, rolling restart, then Retire the old one
//     (shreds the operator copy and, with opts.Hosts, the host copies).
//   - Fingerprint: core.Fingerprint, "sha256:" + the SHA-256 (64 hex digits) of
//     the 65-byte file; compare on a host with `sha256sum <file>`.
package filekey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

// Config is the [key.file] section of a plan.
type Config struct {
	// KeyDir is the operator-side directory that holds the generated keys (0700).
	KeyDir string `toml:"key-dir"`
	// HostKeyDir is the directory on TiKV hosts (tmpfs), default /run/tikv-keys.
	HostKeyDir string `toml:"host-key-dir,omitempty"`
	// Owner owns the key file on hosts, default "tidb".
	Owner string `toml:"owner,omitempty"`
}

// Fields lists the [key.file] settings for form generation. TiKV itself only
// gets the key file's path ([security.encryption.master-key] type = "file",
// path; reference tikv-encryption.md §1.2).
func Fields() []core.Field {
	return []core.Field{
		{Key: "key-dir", Label: "Key directory here", Help: "private directory on this machine that keeps the generated keys (0700)", Placeholder: "/etc/tikv-ear/keys", Required: true},
		{Key: "host-key-dir", Label: "Key directory on the hosts", Help: "where the key file goes on the TiKV hosts (a tmpfs)", Default: core.DefaultHostKeyDir, Required: true, Format: core.FormatAbsPath},
		{Key: "owner", Label: "Key file owner", Help: "the user TiKV runs as", Default: core.DefaultOwner, Required: true},
	}
}

// Backend is the file backend.
type Backend struct {
	cfg Config
}

var _ core.Backend = (*Backend)(nil)

// New returns a file backend; it performs no I/O.
func New(cfg Config) (*Backend, error) {
	if cfg.KeyDir == "" {
		return nil, errors.New("file key backend: key-dir is empty: set [key.file] key-dir to a private directory on this machine")
	}
	if cfg.HostKeyDir == "" {
		cfg.HostKeyDir = core.DefaultHostKeyDir
	}
	if cfg.Owner == "" {
		cfg.Owner = core.DefaultOwner
	}
	return &Backend{cfg: cfg}, nil
}

// Name implements core.Backend.
func (b *Backend) Name() string { return core.BackendFile }

// Validate implements core.Backend: production is refused.
func (b *Backend) Validate(env core.Environment, tikvVersions []string) []core.Finding {
	_, fs := core.VersionFindings(tikvVersions)
	if env == core.EnvProduction {
		fs = append(fs, core.Finding{
			Severity: core.SeverityError, Code: "file-key-production",
			Message: "[key] backend = \"file\" is not allowed for environment \"production\": the master key is generated and stored outside any key service",
			Fix:     "use a KMS (backend = \"aws\", \"gcp\" or \"azure\") or backend = \"vault\", which never stores the key in plaintext",
			Source:  "pingcap/docs encryption-at-rest.md: KMS is recommended for production",
		})
	}
	if !filepath.IsAbs(b.cfg.HostKeyDir) {
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: "host-key-dir",
			Message: fmt.Sprintf("[key.file] host-key-dir %q is not an absolute path", b.cfg.HostKeyDir), Fix: "use e.g. /run/tikv-keys"})
	}
	return fs
}

// Preflight implements core.Backend: the key directory is private and every
// stored key is well-formed.
func (b *Backend) Preflight(ctx context.Context) []core.Check {
	name := "key dir " + b.cfg.KeyDir
	fi, err := os.Stat(b.cfg.KeyDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []core.Check{{Name: name, Status: core.StatusWarn, Reason: b.cfg.KeyDir + " does not exist yet", Fix: "it is created with mode 0700 by prepare"}}
	case err != nil:
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: err.Error(), Fix: "check the path in [key.file] key-dir"}}
	case !fi.IsDir():
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: b.cfg.KeyDir + " is not a directory", Fix: "point [key.file] key-dir at a directory"}}
	case fi.Mode().Perm()&0o077 != 0:
		return []core.Check{{Name: name, Status: core.StatusFail, Reason: fmt.Sprintf("%s has mode %#o, open to group or others", b.cfg.KeyDir, fi.Mode().Perm()), Fix: "chmod 0700 " + b.cfg.KeyDir}}
	}
	checks := []core.Check{{Name: name, Status: core.StatusPass, Reason: "directory with mode 0700"}}
	gens, err := b.generations()
	if err != nil {
		return append(checks, core.Check{Name: name, Status: core.StatusFail, Reason: err.Error()})
	}
	for _, g := range gens {
		p := b.localPath(g)
		c := core.Check{Name: "key file " + p, Status: core.StatusPass, Reason: "65 bytes, hex and LF, mode 0400"}
		if err := checkLocalKey(p); err != nil {
			c.Status, c.Reason, c.Fix = core.StatusFail, err.Error(), "remove the damaged generation and prepare a new one"
		}
		checks = append(checks, c)
	}
	return checks
}

// HostPreflight implements core.Backend.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	return core.HostKeyChecks(ctx, h, b.cfg.HostKeyDir)
}

// parseGen returns N for a file named master-g<N>.key.
func parseGen(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "master-g")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, ".key")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil && n > 0
}

func (b *Backend) localPath(gen int) string {
	return filepath.Join(b.cfg.KeyDir, "master-g"+strconv.Itoa(gen)+".key")
}

// generations lists the stored generations in ascending order.
func (b *Backend) generations() ([]int, error) {
	ents, err := os.ReadDir(b.cfg.KeyDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading key dir %s: %w", b.cfg.KeyDir, err)
	}
	var gens []int
	for _, e := range ents { // ReadDir sorts by name; sort numerically below
		if n, ok := parseGen(e.Name()); ok {
			gens = append(gens, n)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

func checkLocalKey(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("reading key file %s: %w", p, err)
	}
	if fi.Mode().Perm() != core.KeyFileMode {
		return fmt.Errorf("key file %s has mode %#o, want 0400", p, fi.Mode().Perm())
	}
	content, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading key file %s: %w", p, err)
	}
	defer core.Wipe(content)
	if err := core.CheckFileKey(content); err != nil {
		return fmt.Errorf("key file %s: %w", p, err)
	}
	return nil
}

// Prepare implements core.Backend.
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	gens, err := b.generations()
	if err != nil {
		return core.KeyRef{}, err
	}
	switch purpose {
	case core.PurposeCurrent:
		if len(gens) > 0 {
			return b.ref(gens[len(gens)-1])
		}
		return b.create(1)
	case core.PurposeNew:
		next := 1
		if len(gens) > 0 {
			next = gens[len(gens)-1] + 1
		}
		return b.create(next)
	}
	return core.KeyRef{}, fmt.Errorf("file key backend: unknown purpose %q (want %q or %q)", purpose, core.PurposeCurrent, core.PurposeNew)
}

func (b *Backend) create(gen int) (core.KeyRef, error) {
	if err := os.MkdirAll(b.cfg.KeyDir, 0o700); err != nil {
		return core.KeyRef{}, fmt.Errorf("creating key dir %s: %w", b.cfg.KeyDir, err)
	}
	raw := make([]byte, core.RawKeyLen)
	defer core.Wipe(raw)
	if _, err := rand.Read(raw); err != nil {
		return core.KeyRef{}, fmt.Errorf("generating master key: %w", err)
	}
	content, err := core.EncodeFileKey(raw)
	if err != nil {
		return core.KeyRef{}, err
	}
	defer core.Wipe(content)
	p := b.localPath(gen)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, core.KeyFileMode)
	if err != nil {
		return core.KeyRef{}, fmt.Errorf("creating key file %s: %w", p, err)
	}
	if _, err := f.Write(content); err != nil {
		_ = f.Close()
		_ = os.Remove(p)
		return core.KeyRef{}, fmt.Errorf("writing key file %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return core.KeyRef{}, fmt.Errorf("syncing key file %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return core.KeyRef{}, fmt.Errorf("closing key file %s: %w", p, err)
	}
	return b.ref(gen)
}

func (b *Backend) ref(gen int) (core.KeyRef, error) {
	p := b.localPath(gen)
	content, err := os.ReadFile(p)
	if err != nil {
		return core.KeyRef{}, fmt.Errorf("reading key file %s: %w", p, err)
	}
	defer core.Wipe(content)
	if err := core.CheckFileKey(content); err != nil {
		return core.KeyRef{}, fmt.Errorf("key file %s: %w", p, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return core.KeyRef{}, fmt.Errorf("reading key file %s: %w", p, err)
	}
	return core.KeyRef{
		Backend: core.BackendFile, ID: p, Generation: gen,
		Fingerprint: core.Fingerprint(content), Created: fi.ModTime().UTC().Truncate(time.Second),
	}, nil
}

// MasterKey implements core.Backend: type = "file" at the generation's host path.
func (b *Backend) MasterKey(ref core.KeyRef) tikv.MasterKey {
	return core.FileMasterKey(core.HostKeyPath(b.cfg.HostKeyDir, ref.Generation))
}

// HostPath is where ref's key file lives on a TiKV host.
func (b *Backend) HostPath(ref core.KeyRef) string {
	return core.HostKeyPath(b.cfg.HostKeyDir, ref.Generation)
}

// Deliver implements core.Backend: streams the stored key to the host (0400),
// after checking it still matches ref's fingerprint.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error {
	p := b.localPath(ref.Generation)
	content, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading key file %s: %w", p, err)
	}
	defer core.Wipe(content)
	if err := core.CheckFileKey(content); err != nil {
		return fmt.Errorf("key file %s: %w", p, err)
	}
	if fp := core.Fingerprint(content); ref.Fingerprint != "" && fp != ref.Fingerprint {
		return fmt.Errorf("key file %s has fingerprint %s, the plan expects %s: the key was replaced; restore it, or make a new plan", p, fp, ref.Fingerprint)
	}
	return core.DeliverFileKey(ctx, h, b.HostPath(ref), b.cfg.Owner, content)
}

// Retire implements core.Backend: shreds the operator copy (overwrite, fsync,
// remove) and, with opts.Hosts, removes the host copies with shred.
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	ev := b.evidence(ref)
	if !opts.Confirmed {
		return ev, fmt.Errorf("retiring file key generation %d: not confirmed: shredding is irreversible; confirm explicitly", ref.Generation)
	}
	if opts.Action != "" && opts.Action != "shred" {
		return ev, fmt.Errorf("retiring file key generation %d: unknown action %q (want \"shred\")", ref.Generation, opts.Action)
	}
	for _, h := range opts.Hosts {
		hp := b.HostPath(ref)
		fi, err := h.Stat(ctx, hp)
		if err != nil {
			return ev, fmt.Errorf("checking %s on %s: %w", hp, h.Name(), err)
		}
		if fi.Exists {
			if err := h.Remove(ctx, hp, true); err != nil {
				return ev, fmt.Errorf("removing %s on %s: %w", hp, h.Name(), err)
			}
			ev.Actions = append(ev.Actions, "shredded "+hp+" on "+h.Name())
		}
	}
	p := b.localPath(ref.Generation)
	if err := shred(p); err != nil {
		return ev, err
	}
	ev.Actions = append(ev.Actions, "shredded "+p)
	ev.State = "destroyed"
	return ev, nil
}

func shred(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shredding %s: %w", p, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		return fmt.Errorf("shredding %s: %w", p, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("shredding %s: %w", p, err)
	}
	zeros := make([]byte, fi.Size())
	_, werr := f.WriteAt(zeros, 0)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("shredding %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("shredding %s: %w", p, err)
	}
	return nil
}

// Evidence implements core.Backend.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	return b.evidence(ref), nil
}

func (b *Backend) evidence(ref core.KeyRef) core.Evidence {
	ev := core.Evidence{Backend: core.BackendFile, KeyID: b.localPath(ref.Generation), Generation: ref.Generation,
		Fingerprint: ref.Fingerprint, Created: ref.Created, State: "active",
		Attrs: map[string]string{"host_path": b.HostPath(ref)}}
	if _, err := os.Stat(b.localPath(ref.Generation)); err != nil {
		ev.State = "absent"
	}
	return ev
}
