package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyProblem says why a host key was refused.
type HostKeyProblem int

const (
	// HostKeyUnknown means known_hosts has no entry for the host.
	HostKeyUnknown HostKeyProblem = iota + 1
	// HostKeyChanged means known_hosts has keys for the host, and the offered key is not one of them.
	HostKeyChanged
	// HostKeyRevoked means the offered key is marked @revoked.
	HostKeyRevoked
)

// HostKeyError is a refused host key. Its message carries the fingerprint, the
// known_hosts files and the fix.
type HostKeyError struct {
	Problem HostKeyProblem
	Address string                // host or [host]:port as known_hosts spells it
	Offered xssh.PublicKey        // the key the server presented
	Known   []knownhosts.KnownKey // entries for the host (HostKeyChanged) or the revoking line
	Files   []string              // the known_hosts files consulted
}

func (e *HostKeyError) Error() string {
	fp := xssh.FingerprintSHA256(e.Offered)
	typ := e.Offered.Type()
	files := strings.Join(e.Files, ", ")
	if files == "" {
		files = "(no known_hosts file)"
	}
	host, port := splitKnownAddress(e.Address)
	switch e.Problem {
	case HostKeyUnknown:
		first := "~/.ssh/known_hosts"
		if len(e.Files) > 0 {
			first = e.Files[0]
		}
		scan := "ssh-keyscan -t " + keyscanType(typ)
		if port != "22" {
			scan += " -p " + port
		}
		scan += " " + Quote(host) + " >> " + Quote(first)
		return fmt.Sprintf("host key for %s is unknown: the server offered %s %s, which is not in %s\n"+
			"hint: check that fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then add it with `%s`; "+
			"or allow trust on first use with the AcceptNewHostKeys option (OpenSSH StrictHostKeyChecking accept-new), which appends unknown keys and still refuses changed ones",
			e.Address, typ, fp, files, keyscanType(typ), scan)
	case HostKeyChanged:
		var known []string
		for _, k := range e.Known {
			known = append(known, fmt.Sprintf("%s:%d has %s %s", k.Filename, k.Line, k.Key.Type(), xssh.FingerprintSHA256(k.Key)))
		}
		file := files
		if len(e.Known) > 0 {
			file = e.Known[0].Filename
		}
		return fmt.Sprintf("host key for %s has CHANGED: the server offered %s %s, but %s; this may be a man-in-the-middle attack, or the host was reinstalled\n"+
			"hint: if the change is expected, verify the new fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), remove the old entry with `ssh-keygen -R %s -f %s`, then add the new key (ssh-keyscan, or AcceptNewHostKeys)",
			e.Address, typ, fp, strings.Join(known, "; "), keyscanType(typ), Quote(e.Address), file)
	default:
		where := files
		if len(e.Known) > 0 {
			where = fmt.Sprintf("%s:%d", e.Known[0].Filename, e.Known[0].Line)
		}
		return fmt.Sprintf("host key for %s is revoked: the server offered %s %s, marked @revoked at %s\n"+
			"hint: the host must get a new host key; do not remove the @revoked line", e.Address, typ, fp, where)
	}
}

// keyscanType maps a key type to ssh-keyscan's -t name, which is also the
// <name> in /etc/ssh/ssh_host_<name>_key.pub.
func keyscanType(t string) string {
	switch {
	case t == xssh.KeyAlgoED25519:
		return "ed25519"
	case t == xssh.KeyAlgoRSA:
		return "rsa"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	}
	return t
}

func splitKnownAddress(a string) (host, port string) {
	if h, p, err := net.SplitHostPort(a); err == nil {
		return h, p
	}
	return a, "22"
}

// hostKeys checks server keys against known_hosts files and, with acceptNew,
// appends unknown ones to the first file.
type hostKeys struct {
	files     []string
	acceptNew bool
	mu        *sync.Mutex      // serialises appends across dials of one Client
	cache     *knownHostsCache // the Client's parsed files; nil parses on every load
}

// knownHostsCache keeps the known_hosts files a Client parsed, so that a
// dial parses them again only when one of them changed (another dial's
// accept-new append, an operator's edit), not twice per dial: with 300 hosts
// in the file that was 300 × 2 × 300 lines parsed, and as many databases
// alive at once as dials in flight.
type knownHostsCache struct {
	mu      sync.Mutex
	entries map[string]knownHostsEntry // key: the file list
}

type knownHostsEntry struct {
	stamps []fileStamp
	cb     xssh.HostKeyCallback
}

// fileStamp is what says a file changed: its size, mtime and inode (or that
// it does not exist).
type fileStamp struct {
	exists bool
	size   int64
	mod    time.Time
	sys    any
}

func (a fileStamp) same(b fileStamp) bool {
	if a.exists != b.exists || a.size != b.size || !a.mod.Equal(b.mod) {
		return false
	}
	ai, aok := a.sys.(*syscall.Stat_t)
	bi, bok := b.sys.(*syscall.Stat_t)
	return aok == bok && (!aok || ai.Ino == bi.Ino && ai.Dev == bi.Dev && ai.Ctim == bi.Ctim)
}

// load builds a knownhosts callback from the files that exist, or returns
// the one built before from the same unchanged files.
func (h hostKeys) load() (xssh.HostKeyCallback, error) {
	var existing []string
	stamps := make([]fileStamp, len(h.files))
	for i, f := range h.files {
		fi, err := os.Stat(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading known_hosts %s: %w", f, err)
		}
		stamps[i] = fileStamp{exists: true, size: fi.Size(), mod: fi.ModTime(), sys: fi.Sys()}
		existing = append(existing, f)
	}
	key := strings.Join(h.files, "\x00")
	if h.cache != nil {
		h.cache.mu.Lock()
		e, ok := h.cache.entries[key]
		h.cache.mu.Unlock()
		if ok && slices.EqualFunc(e.stamps, stamps, fileStamp.same) {
			return e.cb, nil
		}
	}
	cb := xssh.HostKeyCallback(func(string, net.Addr, xssh.PublicKey) error { return &knownhosts.KeyError{} })
	if len(existing) > 0 {
		var err error
		if cb, err = knownhosts.New(existing...); err != nil {
			return nil, fmt.Errorf("reading known_hosts %s: %w", strings.Join(existing, ", "), err)
		}
	}
	if h.cache != nil {
		h.cache.mu.Lock()
		if h.cache.entries == nil {
			h.cache.entries = map[string]knownHostsEntry{}
		}
		h.cache.entries[key] = knownHostsEntry{stamps: stamps, cb: cb}
		h.cache.mu.Unlock()
	}
	return cb, nil
}

// callback returns the HostKeyCallback for one dial.
func (h hostKeys) callback() (xssh.HostKeyCallback, error) {
	cb, err := h.load()
	if err != nil {
		return nil, err
	}
	return func(hostname string, remote net.Addr, key xssh.PublicKey) error {
		err := cb(hostname, remote, key)
		if err == nil {
			return nil
		}
		address := knownhosts.Normalize(hostname)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &ke) && len(ke.Want) == 0:
			if h.acceptNew {
				return h.appendKey(hostname, remote, key)
			}
			return &HostKeyError{Problem: HostKeyUnknown, Address: address, Offered: key, Files: h.files}
		case errors.As(err, &ke):
			return &HostKeyError{Problem: HostKeyChanged, Address: address, Offered: key, Known: ke.Want, Files: h.files}
		case errors.As(err, &re):
			return &HostKeyError{Problem: HostKeyRevoked, Address: address, Offered: key, Known: []knownhosts.KnownKey{re.Revoked}, Files: h.files}
		}
		return fmt.Errorf("checking the host key of %s: %w", address, err)
	}, nil
}

// appendKey records an unknown host key in the first known_hosts file, after
// re-checking under the lock (another dial may have added it meanwhile).
func (h hostKeys) appendKey(hostname string, remote net.Addr, key xssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cb, err := h.load()
	if err != nil {
		return err
	}
	if err := cb(hostname, remote, key); err == nil {
		return nil
	} else if ke := (*knownhosts.KeyError)(nil); errors.As(err, &ke) && len(ke.Want) > 0 {
		return &HostKeyError{Problem: HostKeyChanged, Address: knownhosts.Normalize(hostname), Offered: key, Known: ke.Want, Files: h.files}
	}
	if len(h.files) == 0 {
		return errors.New("accept-new: no known_hosts file is configured to record the new host key in")
	}
	file := h.files[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("recording the host key of %s: %w", hostname, err)
	}
	prefix := ""
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
		prefix = "\n"
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording the host key of %s in %s: %w", hostname, file, err)
	}
	line := prefix + knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("recording the host key of %s in %s: %w", hostname, file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording the host key of %s in %s: %w", hostname, file, err)
	}
	return nil
}

// algorithms returns HostKeyAlgorithms for hostport: the algorithms of the key
// types known_hosts already has for it first (in file order), then every other
// supported algorithm. Without this, x/crypto offers its default order, a server
// with both keys answers with ed25519, and a host known only by its RSA key looks
// "changed". With no known key it returns nil (the library default).
func (h hostKeys) algorithms(hostport string) ([]string, error) {
	cb, err := h.load()
	if err != nil {
		return nil, err
	}
	// Any key that is not in the file makes knownhosts list the host's known keys.
	probe, err := xssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		return nil, fmt.Errorf("building the host key probe: %w", err)
	}
	var ke *knownhosts.KeyError
	if err := cb(hostport, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil, nil
	}
	var algos []string
	for _, k := range ke.Want {
		for _, a := range algorithmsForKeyType(k.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	for _, a := range xssh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos, nil
}

// algorithmsForKeyType lists the signature algorithms of one key type, best
// first (RFC 8332: an ssh-rsa key signs with rsa-sha2-512/256).
func algorithmsForKeyType(t string) []string {
	if t == xssh.KeyAlgoRSA {
		return []string{xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA}
	}
	return []string{t}
}
