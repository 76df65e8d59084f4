package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvdisk"
)

// LookQuery says what one look at a store's host reads. Everything asked is
// read in one round trip (one SSH session, cluster/ssh.Batch): issue 17
// counted the remote commands of a rollout per store, and a readiness check
// or a verification that asked for the log, the port and key.dict one
// command each cost each host a shell apiece.
type LookQuery struct {
	LogFrom int64 // read the log from this byte offset on; < 0: not read
	Port    bool  // whether TiKV's port listens (`ss -ltn`, TiUP's rule)
	KeyDict bool  // key.dict's metadata (never a key)
}

// Look is what one look found. Each part carries its own error: a part that
// could not be read is unknown, never clean.
type Look struct {
	LogRead   bool     // the log was read (LogErr nil)
	LogNames  []string // catalogue message names since the offset, in order
	Fatal     string   // the first FATAL message since the offset
	LogErr    error
	Listening bool
	PortErr   error
	KeyDict   KeyDictState
	KDErr     error
}

// portIn queues `ss -ltn` in b; the function reports whether port listens,
// looking for ":<port> " as TiUP does (pingcap/tiup
// pkg/cluster/module/wait_for.go).
func portIn(n ssh.Node, b *ssh.Batch, port int) func() (bool, error) {
	get := n.RunIn(b, "ss -ltn")
	return func() (bool, error) {
		res, err := get()
		if err != nil {
			return false, err
		}
		if res.ExitCode != 0 {
			return false, fmt.Errorf("ss -ltn on %s exited %d: %s", n.Host, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
		return strings.Contains(string(res.Stdout), ":"+strconv.Itoa(port)+" "), nil
	}
}

// readFromIn queues `tail -c +<offset+1>` of p in b: the bytes from offset on.
func readFromIn(n ssh.Node, b *ssh.Batch, p string, offset int64) func() ([]byte, error) {
	get := n.RunIn(b, fmt.Sprintf("tail -c +%d -- %s", offset+1, ssh.Quote(p)))
	return func() ([]byte, error) {
		res, err := get()
		if err != nil {
			return nil, err
		}
		if res.ExitCode != 0 {
			return nil, fmt.Errorf("reading %s on %s: %s", p, n.Host, strings.TrimSpace(string(res.Stderr)))
		}
		return res.Stdout, nil
	}
}

// keyDictIn queues the read of key.dict in b; the function gives its
// metadata (Exists false when there is none). The file's bytes are cleared
// once parsed.
func keyDictIn(n ssh.Node, b *ssh.Batch, np NodePlan) func() (KeyDictState, error) {
	get := n.ReadFileIn(b, path.Join(np.DataDir, tikv.KeyDictName))
	return func() (KeyDictState, error) {
		raw, err := get()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return KeyDictState{}, nil
			}
			return KeyDictState{}, err
		}
		meta, err := tikvdisk.ReadKeyDictMeta(raw)
		clear(raw)
		if err != nil {
			return KeyDictState{}, fmt.Errorf("%s on %s: %w", tikv.KeyDictName, np.Host, err)
		}
		return KeyDictState{Exists: true, Method: meta.Method, KMSVendor: meta.KMSVendor}, nil
	}
}

// Look reads what q asks of the store's host in one round trip.
func (in SSHInspector) Look(ctx context.Context, n NodePlan, q LookQuery) Look {
	node := in.Nodes[n.StoreID]
	b := node.N.Batch()
	var getLog func() ([]byte, error)
	var getPort func() (bool, error)
	var getKD func() (KeyDictState, error)
	if q.LogFrom >= 0 {
		getLog = readFromIn(node.N, b, n.LogFile, q.LogFrom)
	}
	if q.Port {
		getPort = portIn(node.N, b, n.Port)
	}
	if q.KeyDict {
		getKD = keyDictIn(node.N, b, n)
	}
	b.Run(ctx) // each part's error is its own
	var l Look
	if getLog != nil {
		if raw, err := getLog(); err != nil {
			l.LogErr = err
		} else {
			l.LogNames, l.Fatal, l.LogErr = ScanLog(bytes.NewReader(raw))
			l.LogRead = l.LogErr == nil
		}
	}
	if getPort != nil {
		l.Listening, l.PortErr = getPort()
	}
	if getKD != nil {
		l.KeyDict, l.KDErr = getKD()
	}
	return l
}
