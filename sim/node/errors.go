package node

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// errKind mirrors the variants of TiKV's encryption Error (components/encryption/src/errors.rs).
type errKind int

const (
	kindOther      errKind = iota // "Other error {0}", code KV:Unknown
	kindIO                        // "IO error {0}", code KV:Encryption:Io
	kindWrongKey                  // "Wrong master key error {0}", code KV:Encryption:WrongMasterKey
	kindBoth                      // "Both master key failed, current key {0}, previous key {1}."
	kindCloud                     // "Cloud KMS error {0}", code KV:Cloud:*
	kindUnknownEnc                // "Unknown encryption error", code KV:Encryption:UnknownEncryption
)

// encErr is an encryption error as TiKV displays it: msg is the inner text (for
// box_err! errors already prefixed with "[<file>:<line>]: "), prev is the
// previous-key error of kindBoth.
type encErr struct {
	kind errKind
	msg  string
	prev string
}

// Error renders the Display form of errors.rs.
func (e *encErr) Error() string {
	switch e.kind {
	case kindIO:
		return fmt.Sprintf(tikv.ErrDisplayIO, e.msg)
	case kindWrongKey:
		return fmt.Sprintf(tikv.ErrDisplayWrongKey, e.msg)
	case kindBoth:
		return fmt.Sprintf(tikv.ErrDisplayBothFailed, e.msg, e.prev)
	case kindCloud:
		return fmt.Sprintf(tikv.ErrDisplayCloudKMS, e.msg)
	case kindUnknownEnc:
		return "Unknown encryption error" // errors.rs #[error("Unknown encryption error")]
	}
	return fmt.Sprintf(tikv.ErrDisplayOther, e.msg)
}

// code returns the error code (components/error_code/src/encryption.rs).
func (e *encErr) code() string {
	switch e.kind {
	case kindIO:
		return tikv.CodeIO
	case kindWrongKey:
		return tikv.CodeWrongMasterKey
	case kindBoth:
		return tikv.CodeBothMasterKeyFail
	case kindCloud:
		return tikv.CodeCloudUnknown
	case kindUnknownEnc:
		return "KV:Encryption:UnknownEncryption" // tikv-encryption.md §2.6 code list
	}
	return tikv.CodeUnknown
}

// boxErr mimics tikv_util's box_err!: "[<file!()>:<line!()>]: <msg>". The line
// numbers passed by callers are fixed sim values, not facts.
func boxErr(file string, line int, msg string) string {
	return fmt.Sprintf("[%s:%d]: %s", file, line, msg)
}

// Upstream files that raise the errors (paths as Rust's file!() prints them).
const (
	srcFileRs     = "components/encryption/src/master_key/file.rs"
	srcMemRs      = "components/encryption/src/master_key/mem.rs"
	srcMasterMod  = "components/encryption/src/master_key/mod.rs"
	srcKmsRs      = "components/encryption/src/master_key/kms.rs"
	srcManagerMod = "components/encryption/src/manager/mod.rs"
	srcExportLib  = "components/encryption/export/src/lib.rs"
	srcConfigRs   = "components/encryption/src/config.rs"
	srcIORs       = "components/encryption/src/io.rs"
)

func otherErr(file string, line int, msg string) *encErr {
	return &encErr{kind: kindOther, msg: boxErr(file, line, msg)}
}

// ioErr renders a Go file-system error the way Rust's std::io::Error displays
// an OS error: "<strerror> (os error N)".
func ioErr(err error) *encErr {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			s = strings.ToUpper(s[:1]) + s[1:]
		}
		return &encErr{kind: kindIO, msg: fmt.Sprintf("%s (os error %d)", s, int(errno))}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &encErr{kind: kindIO, msg: pe.Err.Error()}
	}
	return &encErr{kind: kindIO, msg: err.Error()}
}

// rustBytes renders a byte slice as Rust's {:?} does for &[u8]: "[112, 108, ...]".
func rustBytes(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprint(c)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
