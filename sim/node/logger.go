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
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
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
	// version is the TiKV release the process plays: catalogue lines use
	// its wording and level (tikvlog.Msg.ForVersion). Zero means the newest.
	version tikv.Version
}

// text renders m with tail in the played release's wording.
func (l *logger) text(m tikvlog.Msg, tail string) string {
	w, ok := l.wording(m)
	if !ok {
		w = m.Newest()
	}
	return w.Format(tail)
}

// setVersion makes catalogue lines use release v's wordings.
func (l *logger) setVersion(v tikv.Version) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.version = v
}

// wording returns the wording the played release logs m in; ok is false
// when that release does not log m, or logs it below TiKV's default level
// "info" (log-level in etc/config-template.toml), so it never reaches tikv.log.
func (l *logger) wording(m tikvlog.Msg) (tikvlog.Wording, bool) {
	l.mu.Lock()
	v := l.version
	l.mu.Unlock()
	if v == (tikv.Version{}) {
		return m.Newest(), m.Level != "DEBUG" && m.Level != "TRACE"
	}
	w, ok := m.ForVersion(v)
	return w, ok && w.Level != "DEBUG" && w.Level != "TRACE"
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

// write appends a raw line to path (creating the directory); a disk-full
// fault drops it. The file's mtime is set to the sim clock, as a real host's
// clock stamps both the log lines and the file.
func (l *logger) write(path, line string) {
	if l.full != nil && l.full(path) {
		return
	}
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	_, _ = f.WriteString(line + "\n")
	_ = f.Close()
	now := l.clk.Now()
	_ = os.Chtimes(path, now, now)
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

// catalogue logs a catalogue message in the wording and at the level of the
// release the node plays, with its source basename; a release that does not
// log the message writes nothing. The line numbers in srcLine are fixed sim
// values, not facts: matchers never use them.
func (l *logger) catalogue(m tikvlog.Msg, tail string, thread int, fields ...field) {
	w, ok := l.wording(m)
	if !ok {
		return
	}
	src := srcLine(m.Name, w.Source)
	if w.Panic {
		// The panic hook logs the payload from components/tikv_util/src/lib.rs with
		// thread_name, location and backtrace; slog prints key-values last-first (the
		// order tikv/tikv#7881's log shows for "new encrypted file"). The sim writes
		// no backtrace: it has none to give.
		fields = append(fields, field{"location", w.Source + ":" + fmt.Sprint(simLine(m.Name))}, field{"thread_name", "main"})
		src = srcLine(m.Name, "components/tikv_util/src/lib.rs")
	}
	l.logf(w.Level, src, thread, w.Format(tail), fields...)
}

// srcLine returns "<basename>:<line>" for a catalogue message emitted from source.
func srcLine(name, source string) string {
	src := source
	if i := strings.IndexByte(src, ' '); i > 0 {
		src = src[:i] // "components/server/src/server.rs (tikv/tikv#12162, #12919)"
	}
	return fmt.Sprintf("%s:%d", filepath.Base(src), simLine(name))
}

// simLine returns one fixed, plausible line number per message. NOT FACTS: upstream
// line numbers change with every release, and no matcher relies on them.
func simLine(name string) int {
	switch name {
	case tikvlog.MsgInitKMSBackend.Name:
		return 79
	case tikvlog.MsgFailedAccessMasterKey.Name:
		return 38
	case tikvlog.MsgNoDicts.Name, tikvlog.MsgEmptyFileDict.Name, tikvlog.MsgFoundDicts.Name:
		return 171
	case tikvlog.MsgFailedLoadKeyDict.Name, tikvlog.MsgFailedLoadFileDict.Name:
		return 185
	case tikvlog.MsgDisabled.Name, tikvlog.MsgBeingEnabled.Name, tikvlog.MsgEnabled.Name:
		return 729
	case tikvlog.MsgFallbackPreviousKey.Name, tikvlog.MsgPersistedReplaceMasterKey.Name:
		return 757
	case tikvlog.MsgTryRotateDataKey.Name, tikvlog.MsgRotateWorkerCancelled.Name:
		return 606
	case tikvlog.MsgRotateDataKey.Name:
		return 530
	case tikvlog.MsgInstallingDictFile.Name:
		return 150
	case tikvlog.MsgEncryptionInitFailed.Name:
		return 272
	case tikvlog.MsgRaftEngineOpenFailed.Name:
		return 1783
	}
	return 100
}
