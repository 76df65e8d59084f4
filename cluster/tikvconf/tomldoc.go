package tikvconf

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlDoc is a byte-position index of a TOML document built with go-toml's
// unstable parser. The config reader uses it for line/column of every key;
// the editor uses it to change values in place and to find insertion points.
type tomlDoc struct {
	data     []byte
	tables   []tomlTable
	kvs      []tomlKV
	comments []tomlComment
}

// tomlTable is one explicit [header] or [[header]].
type tomlTable struct {
	path      []string
	array     bool
	keyStart  int // offset of the first key part (for positions)
	lineStart int
	lineEnd   int // offset just past the header line's newline
}

// tomlKV is one key = value, top level or inside an inline table.
type tomlKV struct {
	path      []string // full path from the document root
	rel       []string // key parts as written (dotted key)
	table     int      // index into tables of the enclosing header; -1 for the root
	inline    int      // index into kvs of the enclosing inline table; -1 when top level
	kvStart   int
	kvEnd     int
	valStart  int
	valEnd    int
	lineStart int
	lineEnd   int
	kind      unstable.Kind
	data      []byte // decoded value for scalars
}

// tomlComment is one top-level comment line.
type tomlComment struct {
	text      string // the comment, starting with '#'
	start     int
	lineStart int
	lineEnd   int
}

// parseTOMLDoc indexes data. It returns the parser's error for malformed input.
func parseTOMLDoc(data []byte) (*tomlDoc, error) {
	d := &tomlDoc{data: data}
	p := unstable.Parser{KeepComments: true}
	p.Reset(data)
	cur := -1
	var curPath []string
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Comment:
			start := int(n.Raw.Offset)
			d.comments = append(d.comments, tomlComment{
				text: string(n.Data), start: start,
				lineStart: d.lineStart(start), lineEnd: d.lineEnd(start + int(n.Raw.Length)),
			})
		case unstable.Table, unstable.ArrayTable:
			path, first := keyParts(n.Key())
			d.tables = append(d.tables, tomlTable{
				path: path, array: n.Kind == unstable.ArrayTable, keyStart: first,
				lineStart: d.lineStart(first), lineEnd: d.lineEnd(first),
			})
			cur = len(d.tables) - 1
			curPath = path
		case unstable.KeyValue:
			d.addKV(n, curPath, cur, -1)
		}
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	return d, nil
}

// keyParts returns the decoded parts of a (dotted) key and the offset of its first part.
func keyParts(it unstable.Iterator) ([]string, int) {
	var parts []string
	first := -1
	for it.Next() {
		k := it.Node()
		if first < 0 {
			first = int(k.Raw.Offset)
		}
		parts = append(parts, string(k.Data))
	}
	return parts, first
}

func (d *tomlDoc) addKV(n *unstable.Node, base []string, table, inline int) {
	rel, _ := keyParts(n.Key())
	v := n.Value()
	kv := tomlKV{
		path:     append(append([]string(nil), base...), rel...),
		rel:      rel,
		table:    table,
		inline:   inline,
		kvStart:  int(n.Raw.Offset),
		kvEnd:    int(n.Raw.Offset + n.Raw.Length),
		valStart: int(v.Raw.Offset),
		kind:     v.Kind,
		data:     append([]byte(nil), v.Data...),
	}
	kv.valEnd = kv.kvEnd
	if inline < 0 {
		kv.lineStart = d.lineStart(kv.kvStart)
		kv.lineEnd = d.lineEnd(kv.kvEnd)
	} else {
		kv.lineStart, kv.lineEnd = kv.kvStart, kv.kvEnd
	}
	d.kvs = append(d.kvs, kv)
	idx := len(d.kvs) - 1
	if v.Kind == unstable.InlineTable {
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.KeyValue {
				d.addKV(c, kv.path, table, idx)
			}
		}
	}
}

// lineStart returns the offset of the start of the line holding off.
func (d *tomlDoc) lineStart(off int) int {
	return bytes.LastIndexByte(d.data[:off], '\n') + 1
}

// lineEnd returns the offset just past the newline of the line holding off (or len(data)).
func (d *tomlDoc) lineEnd(off int) int {
	if off > len(d.data) {
		off = len(d.data)
	}
	i := bytes.IndexByte(d.data[off:], '\n')
	if i < 0 {
		return len(d.data)
	}
	return off + i + 1
}

// position returns the 1-based line and column of an offset.
func (d *tomlDoc) position(off int) (line, col int) {
	if off < 0 {
		return 0, 0
	}
	if off > len(d.data) {
		off = len(d.data)
	}
	line = bytes.Count(d.data[:off], []byte{'\n'}) + 1
	col = off - d.lineStart(off) + 1
	return line, col
}

// regionEnd returns where the region of table t ends: the next header's line, or EOF.
func (d *tomlDoc) regionEnd(t int) int {
	if t+1 < len(d.tables) {
		return d.tables[t+1].lineStart
	}
	return len(d.data)
}

// regionStart returns where the region of table t (or the root, t = -1) starts.
func (d *tomlDoc) regionStart(t int) int {
	if t < 0 {
		return 0
	}
	return d.tables[t].lineEnd
}

// findKV returns the index of the key-value at path, or -1.
func (d *tomlDoc) findKV(path []string) int {
	for i, kv := range d.kvs {
		if equalPath(kv.path, path) {
			return i
		}
	}
	return -1
}

// findTable returns the index of the explicit (non-array) header for path, or -1.
func (d *tomlDoc) findTable(path []string) int {
	for i, t := range d.tables {
		if !t.array && equalPath(t.path, path) {
			return i
		}
	}
	return -1
}

// keyPositions maps every key and header (dotted, joined with ".") to its offset.
func (d *tomlDoc) keyPositions() map[string]int {
	m := make(map[string]int, len(d.kvs)+len(d.tables))
	for _, t := range d.tables {
		k := strings.Join(t.path, ".")
		if _, ok := m[k]; !ok {
			m[k] = t.keyStart
		}
	}
	for _, kv := range d.kvs {
		// Every prefix of a dotted key is defined by it; the first one seen wins.
		for i := len(kv.path) - len(kv.rel) + 1; i <= len(kv.path); i++ {
			k := strings.Join(kv.path[:i], ".")
			if _, ok := m[k]; !ok {
				m[k] = kv.kvStart
			}
		}
	}
	return m
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hasPrefix reports whether path starts with prefix (or equals it).
func hasPrefix(path, prefix []string) bool {
	return len(path) >= len(prefix) && equalPath(path[:len(prefix)], prefix)
}

// splitKeyPath splits "security.encryption.master-key" into its parts.
func splitKeyPath(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty key path")
	}
	parts := strings.Split(s, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("key path %q has an empty part", s)
		}
	}
	return parts, nil
}

// formatKey writes one key part, bare when TOML allows it.
func formatKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return quoteTOML(k)
		}
	}
	return k
}

// formatKeyPath writes a dotted key.
func formatKeyPath(parts []string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = formatKey(p)
	}
	return strings.Join(out, ".")
}

// quoteTOML writes s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
