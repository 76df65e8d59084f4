package ssh

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// UnprotectedKeyError is an identity file that group or others may access.
// OpenSSH refuses such a key ("WARNING: UNPROTECTED PRIVATE KEY FILE!",
// "Permissions 0%3.3o for '%s' are too open.", "This private key will be
// ignored."): sshkey_perm_ok in openssh/openssh-portable authfile.c, which
// checks st_mode & 077 for a key owned by the calling user and ignores keys
// owned by someone else (root-owned keys used through sudo, for instance).
type UnprotectedKeyError struct {
	Path string
	Mode fs.FileMode // permission bits, e.g. 0644
}

func (e *UnprotectedKeyError) Error() string {
	return fmt.Sprintf("UNPROTECTED PRIVATE KEY FILE: permissions %#o for %s are too open; private key files must not be accessible by others, so this key is refused (as OpenSSH does)", uint32(e.Mode), e.Path)
}

// Hint returns the fix.
func (e *UnprotectedKeyError) Hint() string {
	return "chmod 600 " + Quote(e.Path)
}

// checkKeyFileMode applies OpenSSH's sshkey_perm_ok rule to an identity file:
// a key owned by this user must have no group or other permission bits.
// A file that cannot be stat'ed is left to the read that follows.
func checkKeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) == os.Getuid() && fi.Mode().Perm()&0o077 != 0 {
		return &UnprotectedKeyError{Path: path, Mode: fi.Mode().Perm()}
	}
	return nil
}

// CheckIdentityFile refuses an identity file whose permissions OpenSSH would
// refuse (see UnprotectedKeyError); callers check configured files up front so
// bad input stops the command before any host is contacted.
func CheckIdentityFile(path string) error { return checkKeyFileMode(path) }
