package tikv

import (
	"bytes"
	"fmt"
	"strings"
)

// Severity grades a Problem.
type Severity int

const (
	// SeverityError means TiKV would refuse the config or fail to start with it.
	SeverityError Severity = iota
	// SeverityWarning means TiKV starts, but the setting is risky or ignored.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one finding about a tikv.toml: where it is, which key, what is
// wrong and how to fix it. File, Line and Column are zero when unknown.
type Problem struct {
	Severity Severity
	File     string
	Line     int
	Column   int
	Key      string // dotted key path, e.g. security.encryption.master-key.key-id
	Message  string
	Fix      string
}

// Error renders the problem on one line: "file:line:col: severity: key: message (fix: ...)".
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Severity.String())
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(p.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// DetectTiUP reports whether data is a tikv.toml rendered by TiUP: its first
// line is TiUP's "auto-generated. Do not edit!" header (Merge2Toml).
func DetectTiUP(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return string(bytes.TrimRight(line, "\r")) == TiUPHeader
}
