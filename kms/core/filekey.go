package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strconv"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// RawKeyLen is the master-key length TiKV's file backend expects: 32 bytes for
// AES-256-GCM regardless of data-encryption-method (etc/config-template.toml;
// reference tikv-encryption.md §1.3 rule 4).
const RawKeyLen = 32

// KeyFileMode is the mode of every key file the tool writes.
const KeyFileMode = 0o400

// DefaultHostKeyDir is where key files live on TiKV hosts: a dedicated tmpfs
// (reference kms-and-evidence.md §2.2 step 4).
const DefaultHostKeyDir = "/run/tikv-keys"

// DefaultOwner owns key files on TiKV hosts unless the plan says otherwise: TiUP's
// deploy user defaults to "tidb" (reference pd-and-tiup.md, meta.yaml global.user).
const DefaultOwner = "tidb"

// EncodeFileKey returns the TiKV file-key content for a raw 32-byte key:
// 64 lowercase hex characters and LF, exactly tikv.FileKeySize (65) bytes
// (components/encryption/src/master_key/file.rs FileBackend::new). The caller
// owns the result and should Wipe it when done.
func EncodeFileKey(raw []byte) ([]byte, error) {
	if len(raw) != RawKeyLen {
		return nil, fmt.Errorf("encoding file master key: want %d raw bytes, got %d", RawKeyLen, len(raw))
	}
	out := make([]byte, tikv.FileKeySize)
	hex.Encode(out, raw)
	out[tikv.FileKeySize-1] = '\n'
	return out, nil
}

// CheckFileKey applies TiKV's rules to file-key content and returns the first
// violation with TiKV's own wording (master_key/file.rs), or nil. The error never
// contains key material.
func CheckFileKey(content []byte) error {
	if len(content) != tikv.FileKeySize {
		return fmt.Errorf("mismatch master key file size, expected %d, actual %d", tikv.FileKeySize, len(content))
	}
	if content[len(content)-1] != '\n' {
		return errors.New("master key file should end with newline")
	}
	for i, c := range content[:len(content)-1] {
		if !isHex(c) {
			return fmt.Errorf("failed to decode master key from file: invalid hex character at offset %d", i)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Fingerprint identifies file-key content without revealing it: "sha256:" and the
// SHA-256 over the 65-byte file content, in lowercase hex (the report's format).
//
// Choice: a plain SHA-256 of a uniformly random 256-bit key does not practically
// leak it (reference kms-and-evidence.md §2.2 step 5), and hashing the file
// content (not the raw bytes) lets anyone compare it on the host with
// `sha256sum <key file>` without moving the key, to tell generations apart and
// to detect substitution.
func Fingerprint(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Wipe overwrites b with zeros.
func Wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// HostKeyPath is the key file of generation gen inside dir on a TiKV host, e.g.
// /run/tikv-keys/master-g3.key. One file per generation lets rotation keep the
// previous key beside the new one.
func HostKeyPath(dir string, gen int) string {
	if dir == "" {
		dir = DefaultHostKeyDir
	}
	return path.Join(dir, "master-g"+strconv.Itoa(gen)+".key")
}

// FileMasterKey is the tikv.toml table for a file key at path.
func FileMasterKey(path string) tikv.MasterKey {
	return tikv.MasterKey{Type: tikv.MasterKeyFile, Path: path}
}

// DeliverFileKey streams content (hex+LF) to path on h with mode 0400 and owner,
// then checks size and mode. Errors name the host and path, never the content.
func DeliverFileKey(ctx context.Context, h Host, path, owner string, content []byte) error {
	if err := CheckFileKey(content); err != nil {
		return fmt.Errorf("refusing to deliver %s to %s: %w", path, h.Name(), err)
	}
	if err := h.WriteSecretFile(ctx, path, bytes.NewReader(content), KeyFileMode, owner); err != nil {
		return fmt.Errorf("writing key file %s on %s: %w", path, h.Name(), err)
	}
	fi, err := h.Stat(ctx, path)
	if err != nil {
		return fmt.Errorf("checking key file %s on %s: %w", path, h.Name(), err)
	}
	if !fi.Exists || fi.Size != tikv.FileKeySize || fi.Mode.Perm() != KeyFileMode {
		return fmt.Errorf("key file %s on %s: want %d bytes mode 0400, got exists=%t size=%d mode=%#o",
			path, h.Name(), tikv.FileKeySize, fi.Exists, fi.Size, fi.Mode.Perm())
	}
	return nil
}

// HostKeyChecks probes the key directory and (optional) key files on h: the
// directory should be on tmpfs (a key on persistent disk "leaks the key",
// reference kms-and-evidence.md §2.1), files must be 65 bytes and 0400.
// Missing files are a warning: they are delivered later.
func HostKeyChecks(ctx context.Context, h Host, dir string, files ...string) []Check {
	if dir == "" {
		dir = DefaultHostKeyDir
	}
	var checks []Check
	fi, err := h.Stat(ctx, dir)
	name := "key dir " + dir + " on " + h.Name()
	switch {
	case err != nil:
		checks = append(checks, Check{Name: name, Status: StatusFail, Reason: fmt.Sprintf("stat %s: %v", dir, err), Fix: "check SSH access and sudo on the host"})
	case fi.FSType != "tmpfs":
		fs := fi.FSType
		if fs == "" {
			fs = "a file system that could not be read"
		}
		where := fmt.Sprintf("%s is on %s", dir, fs)
		if !fi.Exists {
			where = fmt.Sprintf("%s does not exist yet and would be created on %s", dir, fs)
		}
		checks = append(checks, Check{Name: name, Status: StatusWarn,
			Reason: where + ", not tmpfs: the plaintext master key would rest on disk",
			Fix:    "mount a dedicated tmpfs: tmpfs " + dir + " tmpfs mode=0700,uid=<tikv user>,noexec,nosuid,nodev,size=1m"})
	default:
		checks = append(checks, Check{Name: name, Status: StatusPass, Reason: dir + " is tmpfs"})
	}
	for _, f := range files {
		checks = append(checks, keyFileCheck(ctx, h, f))
	}
	return checks
}

func keyFileCheck(ctx context.Context, h Host, p string) Check {
	name := "key file " + p + " on " + h.Name()
	fi, err := h.Stat(ctx, p)
	switch {
	case err != nil:
		return Check{Name: name, Status: StatusFail, Reason: fmt.Sprintf("stat %s: %v", p, err), Fix: "check SSH access and sudo on the host"}
	case !fi.Exists:
		return Check{Name: name, Status: StatusWarn, Reason: p + " is absent", Fix: "deliver the key before restarting TiKV"}
	case fi.Size != tikv.FileKeySize:
		return Check{Name: name, Status: StatusFail,
			Reason: fmt.Sprintf("mismatch master key file size, expected %d, actual %d", tikv.FileKeySize, fi.Size),
			Fix:    "re-deliver the key: 64 hex characters and LF"}
	case fi.Mode.Perm()&0o077 != 0:
		return Check{Name: name, Status: StatusFail, Reason: fmt.Sprintf("%s has mode %#o, readable by group or others", p, fi.Mode.Perm()), Fix: "chmod 0400 " + p}
	}
	return Check{Name: name, Status: StatusPass, Reason: fmt.Sprintf("%d bytes, mode %#o, owner %s", fi.Size, fi.Mode.Perm(), fi.Owner)}
}

// CredentialFileCheck checks a credential file TiKV reads on a host (a GCP
// service-account file, an Azure PKCS12 certificate): present, and not open to
// group or others. name labels the check; missingFix says how to provide it.
func CredentialFileCheck(ctx context.Context, h Host, name, path, missingFix string) Check {
	c := Check{Name: name}
	fi, err := h.Stat(ctx, path)
	switch {
	case err != nil:
		c.Status, c.Reason = StatusFail, err.Error()
	case !fi.Exists:
		c.Status, c.Reason, c.Fix = StatusFail, "absent", missingFix
	case fi.Mode.Perm()&0o077 != 0:
		c.Status, c.Reason, c.Fix = StatusWarn, fmt.Sprintf("mode %#o is open to group or others", fi.Mode.Perm()), "chmod 0400 "+path
	default:
		c.Status, c.Reason = StatusPass, fmt.Sprintf("present, mode %#o", fi.Mode.Perm())
	}
	return c
}
