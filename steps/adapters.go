package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/cluster/tikvdisk"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/tikvstatus"
	"github.com/tikv-ear/tikv-ear/kms"
)

// SSHNode is the engine's Node over an SSH executor and the TiKV status port.
type SSHNode struct {
	N      ssh.Node
	Plan   NodePlan
	Status *tikvstatus.StatusClient
}

// NewSSHNode builds the node for one plan entry.
func NewSSHNode(exec ssh.Executor, n NodePlan, status *tikvstatus.StatusClient) *SSHNode {
	return &SSHNode{N: ssh.Node{Exec: exec, Host: SSHTarget(n)}, Plan: n, Status: status}
}

// SSHTarget is the host string the SSH client resolves: [user@]host[:port].
func SSHTarget(n NodePlan) string {
	t := n.Host
	if n.SSHUser != "" {
		t = n.SSHUser + "@" + t
	}
	if n.SSHPort != 0 && n.SSHPort != 22 {
		t = t + ":" + strconv.Itoa(n.SSHPort)
	}
	return t
}

// ReadFile reads a file; ok is false when it does not exist.
func (s *SSHNode) ReadFile(ctx context.Context, p string) ([]byte, bool, error) {
	b, err := s.N.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// WriteFile replaces p atomically, keeping mode and owner and a backup.
func (s *SSHNode) WriteFile(ctx context.Context, p string, data []byte) (string, error) {
	res, err := s.N.WriteFileAtomic(ctx, p, data, ssh.WriteOptions{Backup: true})
	return res.BackupPath, err
}

// Remove deletes p.
func (s *SSHNode) Remove(ctx context.Context, p string) error { return s.N.Remove(ctx, p) }

// Restart restarts the service, or runs the plan's restart command.
func (s *SSHNode) Restart(ctx context.Context) error {
	if s.Plan.RestartCommand != "" {
		return s.N.RunRestartCommand(ctx, s.Plan.RestartCommand)
	}
	return s.N.RestartService(ctx, s.Plan.Service)
}

// PortListening runs `ss -ltn` once and looks for ":<port> ", as TiUP does
// (pingcap/tiup pkg/cluster/module/wait_for.go).
func (s *SSHNode) PortListening(ctx context.Context, port int) (bool, error) {
	b := s.N.Batch()
	get := portIn(s.N, b, port)
	b.Run(ctx)
	return get()
}

// FileSize returns the size of p (0 when absent).
func (s *SSHNode) FileSize(ctx context.Context, p string) (int64, error) {
	fi, err := s.N.Stat(ctx, p)
	if err != nil || !fi.Exists {
		return 0, err
	}
	return fi.Size, nil
}

// ReadFileAndSize reads p and the size of sizeOf (0 when absent or
// unreadable) in one round trip.
func (s *SSHNode) ReadFileAndSize(ctx context.Context, p, sizeOf string) ([]byte, bool, int64, error) {
	b := s.N.Batch()
	getData := s.N.ReadFileIn(b, p)
	getSize := s.N.StatIn(b, sizeOf)
	b.Run(ctx)
	data, err := getData()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, 0, nil
	}
	if err != nil {
		return nil, false, 0, err
	}
	if fi, err := getSize(); err == nil && fi.Exists {
		return data, true, fi.Size, nil
	}
	return data, true, 0, nil
}

// Metrics reads the status port.
func (s *SSHNode) Metrics(ctx context.Context) (Sample, error) {
	m, err := s.Status.Metrics(ctx)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Leaders: int(m.LeaderCount), Regions: int(m.RegionCount), Initialized: m.IsInitialized == 1,
		FileNum: int64(m.FileNum), DataKeys: int64(m.DataKeyStorageTotal)}, nil
}

// ReadFrom returns the bytes of p from offset on (tail -c +N).
func (s *SSHNode) ReadFrom(ctx context.Context, p string, offset int64) ([]byte, error) {
	b := s.N.Batch()
	get := readFromIn(s.N, b, p, offset)
	b.Run(ctx)
	return get()
}

// SSHInspector reads running config, key.dict and logs of SSH nodes.
type SSHInspector struct{ Nodes map[uint64]*SSHNode }

// RunningEncryption reads /config from the status port.
func (in SSHInspector) RunningEncryption(ctx context.Context, n NodePlan) (tikv.Encryption, error) {
	return in.Nodes[n.StoreID].Status.Config(ctx)
}

// ScanLog returns the catalogue message names in order and the first FATAL
// message. Every FATAL record counts, not only the catalogue's and not only
// whole ones: TiKV logs many fatal startup errors the catalogue does not
// name, and a cut or pasted-over FATAL record is still a failed start
// (tikvlog.Reader recovers its level).
func ScanLog(r io.Reader) (names []string, fatal string, err error) {
	rd := tikvlog.NewReader(r)
	for rd.Next() {
		rec := rd.Record()
		if rec.HasLevel() && rec.Level == "FATAL" && fatal == "" {
			fatal = rec.Message
			if fatal == "" {
				fatal = rec.Raw
			}
		}
		if m, _, ok := tikvlog.MatchCatalogue(rec); ok {
			names = append(names, m.Name)
		}
	}
	if err := rd.Err(); err != nil {
		return names, fatal, fmt.Errorf("reading the log: %w", err)
	}
	return names, fatal, nil
}

// KeyHost is a kms.Host over SSH: key material only ever travels over stdin.
type KeyHost struct {
	N     ssh.Node
	Label string
}

// Name identifies the host in messages.
func (h KeyHost) Name() string { return h.Label }

// WriteSecretFile creates the key directory (0700) and writes the file atomically.
func (h KeyHost) WriteSecretFile(ctx context.Context, p string, content io.Reader, mode os.FileMode, owner string) error {
	b, err := io.ReadAll(content)
	defer clear(b)
	if err != nil {
		return fmt.Errorf("reading key material: %w", err)
	}
	dir := path.Dir(p)
	if res, err := h.N.Exec.Run(ctx, h.N.Host, "mkdir -p -m 0700 -- "+ssh.Quote(dir), nil); err != nil || res.ExitCode != 0 {
		if err == nil {
			err = fmt.Errorf("%s", strings.TrimSpace(string(res.Stderr)))
		}
		return fmt.Errorf("creating %s on %s: %w", dir, h.Label, err)
	}
	_, err = h.N.WriteFileAtomic(ctx, p, b, ssh.WriteOptions{Mode: mode, Owner: owner})
	return err
}

// Stat describes p.
func (h KeyHost) Stat(ctx context.Context, p string) (kms.FileInfo, error) {
	fi, err := h.N.Stat(ctx, p)
	if err != nil {
		return kms.FileInfo{}, err
	}
	return kms.FileInfo{Exists: fi.Exists, Mode: fi.Mode, Owner: fi.Owner, Size: fi.Size, FSType: fi.FSType}, nil
}

// Remove deletes p, overwriting it first (shred) when asked.
func (h KeyHost) Remove(ctx context.Context, p string, shred bool) error {
	if !shred {
		return h.N.Remove(ctx, p)
	}
	res, err := h.N.Exec.Run(ctx, h.N.Host, "if [ -e "+ssh.Quote(p)+" ]; then shred -u -- "+ssh.Quote(p)+"; fi", nil)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("%s", strings.TrimSpace(string(res.Stderr)))
	}
	if err != nil {
		return fmt.Errorf("shredding %s on %s: %w", p, h.Label, err)
	}
	return nil
}

// BackendKeys is the engine's Keys over a kms backend: it delivers every key
// generation the target config names (the current and, while rotating, the previous).
type BackendKeys struct {
	B     kms.Backend
	Refs  []kms.KeyRef
	Hosts map[uint64]kms.Host
	// Retired generations whose host files Cleanup removes.
	Retired []kms.KeyRef
}

// Name is the backend name.
func (k *BackendKeys) Name() string { return k.B.Name() }

// Stage delivers each generation to the store's host.
func (k *BackendKeys) Stage(ctx context.Context, n NodePlan) error {
	for _, ref := range k.Refs {
		if err := k.B.Deliver(ctx, k.Hosts[n.StoreID], ref); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup removes retired generations' key files from the host.
func (k *BackendKeys) Cleanup(ctx context.Context, n NodePlan) error {
	for _, ref := range k.Retired {
		mk := k.B.MasterKey(ref)
		if mk.Type == tikv.MasterKeyFile && mk.Path != "" {
			if err := k.Hosts[n.StoreID].Remove(ctx, mk.Path, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// TOMLEditor applies the encryption edits with cluster/tikv's comment-preserving editor.
func TOMLEditor(orig []byte, enc tikv.Encryption) ([]byte, error) {
	return tikvconf.ApplyEdits(orig, tikvconf.EncryptionEdits(enc)...)
}

// Prove runs the on-disk proof on the host in one session: the listing of
// the data files with their SST trailers and Raft Engine headers
// (tikvdisk.RemoteProbeCommand, a handful of processes whatever the number
// of files) beside file.dict, which cross-checks it when it is readable. The
// one-read-per-file listing runs only when the probe's output does not fit
// together exactly (a file changed meanwhile).
func (s *SSHNode) Prove(ctx context.Context, dataDir string) (tikvdisk.Proof, error) {
	dirs := tikvdisk.RemoteProveDirs(dataDir)
	b := s.N.Batch()
	list := s.N.RunIn(b, tikvdisk.RemoteProbeCommand(dirs...))
	dict := s.N.ReadFileIn(b, path.Join(dataDir, tikv.FileDictName))
	b.Run(ctx) // a failure is each read's own error
	res, err := list()
	if err != nil {
		return tikvdisk.Proof{}, fmt.Errorf("proving %s on %s: %w", dataDir, s.N.Host, err)
	}
	entries, err := tikvdisk.ProbeOrFallback(res.Stdout, res.Stderr, func() ([]byte, error) {
		res, err := s.N.Exec.Run(ctx, s.N.Host, tikvdisk.RemoteTrailerCommand(dirs...), nil)
		return res.Stdout, err
	})
	if err != nil {
		return tikvdisk.Proof{}, fmt.Errorf("proving %s on %s: %w", dataDir, s.N.Host, err)
	}
	var opts tikvdisk.ProveOptions
	if b, err := dict(); err == nil {
		if fd, err := tikvdisk.ReadFileDict(b); err == nil {
			opts.FileDict = &fd
		}
	}
	return tikvdisk.ProveListing(entries, opts), nil
}
