package tikv

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LogTimeLayout is the unified-log timestamp, TiKV's "%Y/%m/%d %H:%M:%S%.3f %:z"
// (components/tikv_util/src/logger/mod.rs TIMESTAMP_FORMAT; tikv/rfcs
// text/0018-unified-log-format.md; reference pd-and-tiup.md §4).
const LogTimeLayout = "2006/01/02 15:04:05.000 -07:00"

// LogLevels returns the unified-log levels (components/tikv_util/src/logger/mod.rs get_unified_log_level).
func LogLevels() []string { return []string{"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"} }

// LogField is one [key=value] field of a log line.
type LogField struct {
	Key, Value string
}

// LogLine is one line of TiKV's unified log format:
// [time] [LEVEL] [source:line] [message] [key=value]...
type LogLine struct {
	Time    time.Time
	Level   string
	Source  string // "mod.rs:496", or "<unknown>"
	Message string
	Fields  []LogField // in the order they were written
}

// Field returns the value of the first field named key.
func (l LogLine) Field(key string) (string, bool) {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// ParseLogLine parses one unified-format log line (tikv/rfcs 0018): a header
// of time, level and source, the message, then fields, each in brackets and
// separated by single spaces; messages, keys and values are JSON-quoted when
// they hold spaces, control characters, '"', '=', '[' or ']'.
func ParseLogLine(line string) (LogLine, error) {
	line = strings.TrimRight(line, "\r\n")
	p := logParser{s: line}
	var l LogLine
	ts, err := p.bare("time")
	if err != nil {
		return l, err
	}
	if l.Time, err = time.Parse(LogTimeLayout, ts); err != nil {
		return l, fmt.Errorf("log line: time %q does not match %q", ts, "yyyy/MM/dd HH:mm:ss.SSS +hh:mm")
	}
	if err := p.space(); err != nil {
		return l, err
	}
	if l.Level, err = p.bare("level"); err != nil {
		return l, err
	}
	if !slices.Contains(LogLevels(), l.Level) {
		return l, fmt.Errorf("log line: unknown level %q", l.Level)
	}
	if err := p.space(); err != nil {
		return l, err
	}
	if l.Source, err = p.bare("source"); err != nil {
		return l, err
	}
	if err := p.space(); err != nil {
		return l, err
	}
	if err := p.open("message"); err != nil {
		return l, err
	}
	if l.Message, err = p.text("message", "]"); err != nil {
		return l, err
	}
	if err := p.close("message"); err != nil {
		return l, err
	}
	for p.i < len(p.s) {
		if err := p.space(); err != nil {
			return l, err
		}
		if err := p.open("field"); err != nil {
			return l, err
		}
		var f LogField
		if f.Key, err = p.text("field key", "="); err != nil {
			return l, err
		}
		if p.i >= len(p.s) || p.s[p.i] != '=' {
			return l, fmt.Errorf("log line: column %d: field %q has no '='", p.i+1, f.Key)
		}
		p.i++
		if f.Value, err = p.text("field value", "]"); err != nil {
			return l, err
		}
		if err := p.close("field"); err != nil {
			return l, err
		}
		l.Fields = append(l.Fields, f)
	}
	return l, nil
}

type logParser struct {
	s string
	i int
}

func (p *logParser) space() error {
	if p.i >= len(p.s) || p.s[p.i] != ' ' {
		return fmt.Errorf("log line: column %d: expected a space", p.i+1)
	}
	p.i++
	return nil
}

func (p *logParser) open(what string) error {
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return fmt.Errorf("log line: column %d: expected '[' to open the %s", p.i+1, what)
	}
	p.i++
	return nil
}

func (p *logParser) close(what string) error {
	if p.i >= len(p.s) || p.s[p.i] != ']' {
		return fmt.Errorf("log line: column %d: expected ']' to close the %s", p.i+1, what)
	}
	p.i++
	return nil
}

// bare reads "[...]" without quoting.
func (p *logParser) bare(what string) (string, error) {
	if err := p.open(what); err != nil {
		return "", err
	}
	j := strings.IndexByte(p.s[p.i:], ']')
	if j < 0 {
		return "", fmt.Errorf("log line: column %d: the %s is not closed with ']'", p.i+1, what)
	}
	v := p.s[p.i : p.i+j]
	p.i += j + 1
	return v, nil
}

// text reads a JSON-quoted string, or bare text up to one of the stop bytes.
func (p *logParser) text(what, stop string) (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		end := p.i + 1
		for end < len(p.s) && p.s[end] != '"' {
			if p.s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(p.s) {
			return "", fmt.Errorf("log line: column %d: the quoted %s is not closed", p.i+1, what)
		}
		var v string
		if err := json.Unmarshal([]byte(p.s[p.i:end+1]), &v); err != nil {
			return "", fmt.Errorf("log line: column %d: bad quoted %s: %w", p.i+1, what, err)
		}
		p.i = end + 1
		return v, nil
	}
	j := strings.IndexAny(p.s[p.i:], stop)
	if j < 0 {
		return "", fmt.Errorf("log line: column %d: the %s is not closed", p.i+1, what)
	}
	v := p.s[p.i : p.i+j]
	p.i += j
	return v, nil
}

// MatchCatalogue returns the catalogue message (catalog.go) that a log line is.
func MatchCatalogue(l LogLine) (Msg, bool) {
	return Lookup(l.Message)
}

// Event is one encryption event found in a TiKV log.
type Event struct {
	// Msg is the catalogue entry; Msg.Name identifies the event
	// (MsgEnabled.Name, MsgRotateDataKey.Name, ...).
	Msg Msg
	// Line is the parsed log line and LineNo its 1-based line number in the stream.
	Line   LogLine
	LineNo int
	// Method is the data-encryption-method ("aes256-ctr") for enabled,
	// being-enabled and try-rotate events, parsed from the Rust Debug name.
	Method string
	// KeyID is the key_id field of a rotate-data-key event.
	KeyID uint64
	// Err is the error text of a failure (init failed, master key access,
	// raft engine), and Code the error code of an init failure ("KV:Encryption:Io").
	Err  string
	Code string
}

// initFailedCodeSep separates error and code in MsgEncryptionInitFailed
// ("Encryption failed to initialize: {}. code: {}", components/server/src/common.rs).
const initFailedCodeSep = ". code: "

// LogScanner reads a tikv.log stream and yields its encryption events (every
// line whose message is in the catalogue). Lines that are not unified-format
// log lines are counted in Skipped.
type LogScanner struct {
	sc      *bufio.Scanner
	ev      Event
	lineNo  int
	Skipped int
}

// maxLogLine bounds one log line (TiKV's panic lines carry a backtrace field).
const maxLogLine = 16 << 20

// NewLogScanner returns a scanner over r.
func NewLogScanner(r io.Reader) *LogScanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	return &LogScanner{sc: sc}
}

// Scan advances to the next encryption event; it returns false at the end of
// the stream or on a read error (see Err).
func (s *LogScanner) Scan() bool {
	for s.sc.Scan() {
		s.lineNo++
		l, err := ParseLogLine(s.sc.Text())
		if err != nil {
			s.Skipped++
			continue
		}
		m, ok := MatchCatalogue(l)
		if !ok {
			continue
		}
		s.ev = eventFor(m, l, s.lineNo)
		return true
	}
	return false
}

// Event returns the current event.
func (s *LogScanner) Event() Event { return s.ev }

// Err returns the read error that stopped the scan, if any.
func (s *LogScanner) Err() error {
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("reading log line %d: longer than %d bytes: %w", s.lineNo+1, maxLogLine, err)
		}
		return fmt.Errorf("reading log line %d: %w", s.lineNo+1, err)
	}
	return nil
}

func eventFor(m Msg, l LogLine, lineNo int) Event {
	ev := Event{Msg: m, Line: l, LineNo: lineNo}
	tail := strings.TrimPrefix(l.Message, m.Text)
	switch m.Name {
	case MsgEnabled.Name, MsgBeingEnabled.Name, MsgTryRotateDataKey.Name:
		ev.Method = MethodFromDebugName(strings.TrimSpace(tail))
	case MsgRotateDataKey.Name:
		if v, ok := l.Field("key_id"); ok {
			ev.KeyID, _ = strconv.ParseUint(v, 10, 64)
		}
	case MsgEncryptionInitFailed.Name:
		if i := strings.LastIndex(tail, initFailedCodeSep); i >= 0 {
			ev.Err, ev.Code = tail[:i], strings.TrimSpace(tail[i+len(initFailedCodeSep):])
		} else {
			ev.Err = tail
		}
	case MsgFailedAccessMasterKey.Name, MsgRaftEngineOpenFailed.Name:
		ev.Err = tail
	}
	return ev
}
