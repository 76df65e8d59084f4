package tikvlog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TimeLayout is the unified-log timestamp, TiKV's "%Y/%m/%d %H:%M:%S%.3f %:z"
// (components/tikv_util/src/logger/mod.rs TIMESTAMP_FORMAT; tikv/rfcs
// text/0018-unified-log-format.md; reference pd-and-tiup.md §4).
const TimeLayout = "2006/01/02 15:04:05.000 -07:00"

// Levels returns the unified-log levels (components/tikv_util/src/logger/mod.rs get_unified_log_level).
func Levels() []string { return []string{"FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"} }

// Field is one [key=value] field of a log line.
type Field struct {
	Key, Value string
}

// Line is one line of TiKV's unified log format:
// [time] [LEVEL] [source:line] [message] [key=value]...
type Line struct {
	Time    time.Time
	Level   string
	Source  string // "mod.rs:496", or "<unknown>"
	Message string
	Fields  []Field // in the order they were written
}

// Field returns the value of the first field named key.
func (l Line) Field(key string) (string, bool) {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// ParseLine parses one unified-format log line (tikv/rfcs 0018): a header
// of time, level and source, the message, then fields, each in brackets and
// separated by single spaces; messages, keys and values are JSON-quoted when
// they hold spaces, control characters, '"', '=', '[' or ']'.
func ParseLine(line string) (Line, error) {
	line = strings.TrimRight(line, "\r\n")
	p := logParser{s: line}
	var l Line
	ts, err := p.bare("time")
	if err != nil {
		return l, err
	}
	if l.Time, err = time.Parse(TimeLayout, ts); err != nil {
		return l, fmt.Errorf("log line: time %q does not match %q", ts, "yyyy/MM/dd HH:mm:ss.SSS +hh:mm")
	}
	if err := p.space(); err != nil {
		return l, err
	}
	if l.Level, err = p.bare("level"); err != nil {
		return l, err
	}
	if !slices.Contains(Levels(), l.Level) {
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
		var f Field
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
