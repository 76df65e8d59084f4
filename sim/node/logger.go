package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// Unified log format (pd-and-tiup.md §4; tikv/rfcs text/0018-unified-log-format.md;
// tikv components/tikv_util/src/logger/mod.rs TIMESTAMP_FORMAT "%Y/%m/%d %H:%M:%S%.3f %:z").
const logTimeLayout = "2006/01/02 15:04:05.000 -07:00"

// Thread ids the sim prints in the [thread_id=N] field (ThreadIDrain). The values
// are not facts about TiKV; matchers must not rely on them.
const (
	threadMain   = 1
	threadEncKey = 7 // the "enc:key" background rotation thread
	threadServer = 3
)

// field is one [key=value] pair of a unified log line.
type field struct{ k, v string }

// logger appends unified-format lines to tikv.log; FATAL lines also go to tikv_stderr.log.
type logger struct {
	mu         sync.Mutex
	path       string
	stderrPath string
	clk        *clock.Clock
	full       func(path string) bool // disk-full fault: writes under the prefix fail
}

// needsQuote reports whether a key, value or message must be JSON-quoted:
// it contains U+0000–U+0020, '"', '=', '[' or ']' (pd-and-tiup.md §4).
func needsQuote(s string) bool {
	for _, r := range s {
		if r <= 0x20 || r == '"' || r == '=' || r == '[' || r == ']' {
			return true
		}
	}
	return false
}

func quote(s string) string {
	if !needsQuote(s) {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// formatLine renders one unified log line without the trailing newline.
func (l *logger) formatLine(level, src string, thread int, msg string, fields []field) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] [%s] [%s] [%s]", l.clk.Now().UTC().Format(logTimeLayout), level, src, quote(msg))
	for _, f := range fields {
		fmt.Fprintf(&b, " [%s=%s]", quote(f.k), quote(f.v))
	}
	fmt.Fprintf(&b, " [thread_id=%d]", thread)
	return b.String()
}

// write appends a raw line to path (creating the directory); a disk-full fault drops it.
func (l *logger) write(path, line string) {
	if l.full != nil && l.full(path) {
		return
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(line + "\n")
}

// logf writes one line at level with the given source ("file.rs:line").
func (l *logger) logf(level, src string, thread int, msg string, fields ...field) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := l.formatLine(level, src, thread, msg, fields)
	l.write(l.path, line)
	if level == "FATAL" {
		l.write(l.stderrPath, line)
	}
}

// stderr appends a raw line to tikv_stderr.log only (output written before the logger exists).
func (l *logger) stderr(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(l.stderrPath, line)
}

// catalogue logs a catalogue message with its level and source basename.
// The line numbers in srcLine are fixed sim values, not facts: matchers never use them.
func (l *logger) catalogue(m tikv.Msg, tail string, thread int, fields ...field) {
	l.logf(m.Level, srcLine(m), thread, m.Format(tail), fields...)
}

// srcLine returns "<basename>:<line>" for a catalogue message.
func srcLine(m tikv.Msg) string {
	src := m.Source
	if i := strings.IndexByte(src, ' '); i > 0 {
		src = src[:i] // "components/server/src/server.rs (tikv/tikv#12162, #12919)"
	}
	return fmt.Sprintf("%s:%d", filepath.Base(src), simLine(m.Name))
}

// simLine returns one fixed, plausible line number per message. NOT FACTS: upstream
// line numbers change with every release, and no matcher relies on them.
func simLine(name string) int {
	switch name {
	case tikv.MsgInitKMSBackend.Name:
		return 79
	case tikv.MsgFailedAccessMasterKey.Name:
		return 38
	case tikv.MsgNoDicts.Name, tikv.MsgEmptyFileDict.Name, tikv.MsgFoundDicts.Name:
		return 171
	case tikv.MsgFailedLoadKeyDict.Name, tikv.MsgFailedLoadFileDict.Name:
		return 185
	case tikv.MsgDisabled.Name, tikv.MsgBeingEnabled.Name, tikv.MsgEnabled.Name:
		return 729
	case tikv.MsgFallbackPreviousKey.Name, tikv.MsgPersistedReplaceMasterKey.Name:
		return 757
	case tikv.MsgTryRotateDataKey.Name, tikv.MsgRotateWorkerCancelled.Name:
		return 606
	case tikv.MsgRotateDataKey.Name:
		return 530
	case tikv.MsgInstallingDictFile.Name:
		return 150
	case tikv.MsgEncryptionInitFailed.Name:
		return 272
	case tikv.MsgRaftEngineOpenFailed.Name:
		return 1783
	}
	return 100
}
