package tikvlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Class says how much of a record could be read.
type Class string

// The classes of a record. Every physical line of a log ends up in exactly
// one record, so nothing read is dropped without a word.
const (
	// Parsed: the record is a whole unified-format line.
	Parsed Class = "parsed"
	// Partial: the record is damaged (cut off, spread over several lines,
	// markdown debris in a field, no [timestamp] prefix, a Rust panic on
	// stderr) but its level and message were recovered.
	Partial Class = "partial"
	// Unparsed: no level could be recovered.
	Unparsed Class = "unparsed"
)

// Record is one log record: a line, or a line and its continuation lines.
type Record struct {
	// Line is the 1-based number of its first physical line; Lines how many
	// physical lines it spans.
	Line, Lines int
	// Class says how much was recovered; Problem why it is not Parsed.
	Class   Class
	Problem string
	// Time is zero when the record carries none.
	Time    time.Time
	Level   string
	Source  string
	Message string
	Fields  []Field
	// Raw is the record's text as read, lines joined with "\n".
	Raw string
}

// Field returns the value of the first field named key.
func (r Record) Field(key string) (string, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// HasLevel reports whether a level was recovered (Parsed or Partial).
func (r Record) HasLevel() bool { return r.Class != Unparsed && r.Level != "" }

// maxRecordLines bounds how many continuation lines join one record (a Rust
// backtrace with real newlines runs to a few hundred).
const maxRecordLines = 4096

// maxPhysicalLine bounds one physical line (TiKV's panic lines carry a backtrace field).
const maxPhysicalLine = 16 << 20

// Reader splits a TiKV log (tikv.log or tikv_stderr.log) into records.
type Reader struct {
	sc      *bufio.Scanner
	lineNo  int
	pending *pendingRecord
	next    string // a physical line read ahead that starts a new record
	nextNo  int
	hasNext bool
	rec     Record
	err     error
}

type pendingRecord struct {
	line  int
	lines []string
}

// NewReader returns a reader over r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxPhysicalLine)
	return &Reader{sc: sc}
}

// Next advances to the next record; it returns false at the end of the
// stream or on a read error (see Err).
func (rd *Reader) Next() bool {
	for {
		line, no, ok := rd.readLine()
		if !ok {
			if rd.pending != nil {
				rd.flush()
				return true
			}
			return false
		}
		if rd.pending == nil {
			if strings.TrimSpace(line) != "" { // blank lines carry nothing
				rd.pending = &pendingRecord{line: no, lines: []string{line}}
			}
			continue
		}
		if !StartsRecord(line) && rd.continues(line) && len(rd.pending.lines) < maxRecordLines {
			rd.pending.lines = append(rd.pending.lines, line)
			continue
		}
		rd.next, rd.nextNo, rd.hasNext = line, no, true
		rd.flush()
		return true
	}
}

// readLine returns the next physical line and its number.
func (rd *Reader) readLine() (string, int, bool) {
	if rd.hasNext {
		rd.hasNext = false
		return rd.next, rd.nextNo, true
	}
	if rd.sc.Scan() {
		rd.lineNo++
		return strings.TrimRight(rd.sc.Text(), "\r"), rd.lineNo, true
	}
	if err := rd.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			rd.err = fmt.Errorf("reading log line %d: longer than %d bytes: %w", rd.lineNo+1, maxPhysicalLine, err)
		} else {
			rd.err = fmt.Errorf("reading log line %d: %w", rd.lineNo+1, err)
		}
	}
	return "", 0, false
}

// continues reports whether line belongs to the pending record: the record
// has an open quote (a message or field cut by a real newline), or the line
// is indented or a panic's trailer (backtrace frames, "note: run with
// RUST_BACKTRACE", "stack backtrace:").
func (rd *Reader) continues(line string) bool {
	if strings.TrimSpace(line) == "" {
		return openQuote(strings.Join(rd.pending.lines, "\n"))
	}
	if openQuote(strings.Join(rd.pending.lines, "\n")) {
		return true
	}
	if line[0] == ' ' || line[0] == '\t' {
		return true
	}
	first := rd.pending.lines[0]
	if panicHeader.MatchString(first) {
		return true // a Rust panic's message and notes run until the next record
	}
	return strings.HasPrefix(line, "stack backtrace:") || strings.HasPrefix(line, "note: run with `RUST_BACKTRACE")
}

func (rd *Reader) flush() {
	p := rd.pending
	rd.pending = nil
	rd.rec = Classify(strings.Join(p.lines, "\n"))
	rd.rec.Line, rd.rec.Lines = p.line, len(p.lines)
	if len(p.lines) > 1 && rd.rec.Class == Parsed {
		rd.rec.Class, rd.rec.Problem = Partial, fmt.Sprintf("the record spans %d lines (real newlines inside it)", len(p.lines))
	}
}

// Record returns the current record.
func (rd *Reader) Record() Record { return rd.rec }

// Err returns the read error that stopped the reader, if any.
func (rd *Reader) Err() error { return rd.err }

// openQuote reports whether s ends inside a JSON-quoted string.
func openQuote(s string) bool {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if in {
				i++
			}
		case '"':
			in = !in
		}
	}
	return in
}

var (
	// bareTime is the unified timestamp without its brackets.
	bareTime = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d\d:\d\d`)
	// levelTok finds a bracketed level near the start of a record.
	levelTok = regexp.MustCompile(`\[(FATAL|ERROR|WARN|INFO|DEBUG|TRACE|CRITICAL|WARNING)\]`)
	// mdLink is markdown link debris a paste leaves in a field:
	// "[server.rs:1372](http://server.rs:1372/)".
	mdLink = regexp.MustCompile(`\[([^\[\]]*)\]\([^()\s]*\)`)
	// panicHeader is Rust's default panic message on stderr, before TiKV's
	// panic hook is set: "thread 'main' panicked at 'msg', file:line:col"
	// (Rust < 1.73) or "thread 'main' panicked at file:line:col:" with the
	// message on the next lines (Rust ≥ 1.73; library/std/src/panicking.rs).
	panicHeader = regexp.MustCompile(`^thread '([^']*)' panicked at (.*)$`)
	oldPanic    = regexp.MustCompile(`^'(.*)', (\S+:\d+(?::\d+)?)$`)
	newPanic    = regexp.MustCompile(`^(\S+:\d+:\d+):$`)
)

// StartsRecord reports whether a physical line begins a new record: a
// [timestamp] or bare timestamp, a bracketed level, or a Rust panic header.
func StartsRecord(line string) bool {
	s := trimDebris(line)
	if s == "" {
		return false
	}
	if bareTime.MatchString(s) || panicHeader.MatchString(s) {
		return true
	}
	if s[0] == '[' {
		if bareTime.MatchString(s[1:]) {
			return true
		}
		if loc := levelTok.FindStringIndex(s); loc != nil && loc[0] == 0 {
			return true
		}
	}
	return false
}

// trimDebris removes what pastes put before a record: indentation and a
// markdown quote marker.
func trimDebris(line string) string {
	s := strings.TrimLeft(line, " \t")
	for strings.HasPrefix(s, "> ") || strings.HasPrefix(s, ">") && len(s) > 1 && s[1] == '[' {
		s = strings.TrimLeft(strings.TrimPrefix(s, ">"), " ")
	}
	return s
}

// Classify reads one record's text (lines joined with "\n"): whole when it
// is a unified-format line, else as much as can be recovered.
func Classify(text string) Record {
	r := Record{Raw: text}
	if !strings.Contains(text, "\n") {
		if l, err := ParseLine(text); err == nil {
			r.Class, r.Time, r.Level, r.Source, r.Message, r.Fields = Parsed, l.Time, l.Level, l.Source, l.Message, l.Fields
			return r
		}
	}
	s := trimDebris(text)
	if m := panicHeader.FindStringSubmatch(firstLine(s)); m != nil {
		return panicRecord(r, s, m)
	}
	var problems []string
	// Time: "[ts] " or a bare "ts " at the start.
	switch {
	case strings.HasPrefix(s, "[") && bareTime.MatchString(s[1:]):
		ts := bareTime.FindString(s[1:])
		if t, err := time.Parse(TimeLayout, ts); err == nil {
			r.Time = t
		} else {
			problems = append(problems, fmt.Sprintf("timestamp %q is not %q", ts, TimeLayout))
		}
		s = strings.TrimPrefix(s[1+len(ts):], "]")
	case bareTime.MatchString(s):
		ts := bareTime.FindString(s)
		if t, err := time.Parse(TimeLayout, ts); err == nil {
			r.Time = t
		}
		s = s[len(ts):]
		problems = append(problems, "the timestamp has no brackets")
	default:
		problems = append(problems, "no [timestamp] prefix")
	}
	s = strings.TrimLeft(s, " ")
	loc := levelTok.FindStringSubmatchIndex(s)
	if loc == nil || loc[0] > 0 {
		r.Class, r.Problem = Unparsed, "no [LEVEL] where a unified log record has it"
		return r
	}
	r.Level = normLevel(s[loc[2]:loc[3]])
	s = strings.TrimLeft(s[loc[1]:], " ")
	// Source: "[file.rs:123]", possibly with markdown link debris inside.
	if strings.HasPrefix(s, "[") {
		end := sourceEnd(s)
		src := s[1:end]
		if clean := mdLink.ReplaceAllString(src, "$1"); clean != src {
			problems = append(problems, "markdown link debris in the source field")
			src = clean
		}
		r.Source = strings.Trim(src, "[]")
		s = s[min(end+1, len(s)):]
		s = strings.TrimLeft(s, " ")
	} else {
		problems = append(problems, "no [source] field")
	}
	// Message.
	if !strings.HasPrefix(s, "[") {
		r.Message = strings.TrimSpace(s)
		problems = append(problems, "the message is not bracketed")
		r.Class, r.Problem = Partial, strings.Join(problems, "; ")
		return r
	}
	s = s[1:]
	msg, rest, ok := lenientText(s, "]")
	r.Message = mdLink.ReplaceAllString(msg, "$1")
	if !ok {
		problems = append(problems, "the record is cut off inside the message")
		r.Class, r.Problem = Partial, strings.Join(problems, "; ")
		return r
	}
	s = strings.TrimPrefix(rest, "]")
	// Fields, as far as they go.
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if !strings.HasPrefix(s, "[") {
			problems = append(problems, "text after the fields")
			break
		}
		key, rest, ok := lenientText(s[1:], "=]")
		if !ok || !strings.HasPrefix(rest, "=") {
			problems = append(problems, "a field is cut off or has no '='")
			break
		}
		val, rest2, ok := lenientText(rest[1:], "]")
		if !ok {
			r.Fields = append(r.Fields, Field{Key: key, Value: val})
			problems = append(problems, fmt.Sprintf("the record is cut off inside field %q", key))
			break
		}
		r.Fields = append(r.Fields, Field{Key: key, Value: val})
		s = strings.TrimPrefix(rest2, "]")
	}
	if strings.Contains(text, "\n") && len(problems) == 0 {
		problems = append(problems, "the record spans several lines")
	}
	r.Class = Partial
	if len(problems) == 0 {
		// Whole once the debris was trimmed (indentation, a quote marker).
		problems = append(problems, "text before the record")
	}
	r.Problem = strings.Join(problems, "; ")
	return r
}

// sourceEnd returns the index of the ']' that closes the source field at
// s[0]: the first "] [" after it, or the bracket matching it.
func sourceEnd(s string) int {
	if i := strings.Index(s, "] ["); i > 0 {
		return i
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s) - 1
}

// lenientText reads a JSON-quoted string or bare text up to one of stop. ok
// is false when the text is not closed (the record is cut off); the text read
// so far is still returned. Real newlines inside quotes are kept.
func lenientText(s, stop string) (v, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		end := 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(s) {
			return unquoteLenient(s[1:]), "", false
		}
		return unquoteLenient(s[1:end]), s[end+1:], true
	}
	j := strings.IndexAny(s, stop)
	if j < 0 {
		return s, "", false
	}
	return s[:j], s[j:], true
}

// unquoteLenient decodes the body of a JSON string, tolerating raw control
// characters (real newlines) and a cut escape.
func unquoteLenient(body string) string {
	fixed := strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(body)
	if strings.HasSuffix(fixed, `\`) && !strings.HasSuffix(fixed, `\\`) {
		fixed = fixed[:len(fixed)-1]
	}
	var v string
	if err := json.Unmarshal([]byte(`"`+fixed+`"`), &v); err == nil {
		return v
	}
	return body
}

// panicRecord reads a Rust panic message printed to stderr.
func panicRecord(r Record, s string, m []string) Record {
	r.Class, r.Level = Partial, "FATAL"
	r.Fields = []Field{{Key: "thread_name", Value: m[1]}}
	rest := m[2]
	if pm := oldPanic.FindStringSubmatch(rest); pm != nil {
		r.Message, r.Source = pm[1], pm[2]
	} else if nm := newPanic.FindStringSubmatch(rest); nm != nil {
		r.Source = nm[1]
		var msg []string
		for _, l := range strings.Split(s, "\n")[1:] {
			if strings.HasPrefix(l, "note: ") || strings.HasPrefix(l, "stack backtrace:") {
				break
			}
			msg = append(msg, l)
		}
		r.Message = strings.Join(msg, "\n")
	} else {
		r.Message = strings.TrimPrefix(rest, "'")
	}
	r.Problem = "a Rust panic printed to stderr (no unified log header)"
	return r
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// normLevel maps the spellings other loggers use to unified-log levels.
func normLevel(l string) string {
	switch l {
	case "CRITICAL":
		return "FATAL"
	case "WARNING":
		return "WARN"
	}
	if slices.Contains(Levels(), l) {
		return l
	}
	return l
}
