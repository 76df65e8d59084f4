package tikvconf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Edit is one change to a tikv.toml, applied by ApplyEdits. Build it with
// Set, SetTable or Remove.
type Edit struct {
	op     editOp
	key    string
	value  any
	fields []Field
}

type editOp int

const (
	opSet editOp = iota + 1
	opSetTable
	opRemove
)

// Field is one key of a table written by SetTable (tikv.Field).
type Field = tikv.Field

// Set sets the key at a dotted path (e.g. "security.encryption.data-encryption-method")
// to value, which must be a string, bool, int, int64, uint64 or float64.
func Set(key string, value any) Edit { return Edit{op: opSet, key: key, value: value} }

// SetTable makes the table at a dotted path hold exactly fields: keys under
// the table that are not among fields are removed (sub-tables included), the
// fields are set in order. Use it for [security.encryption.master-key].
func SetTable(table string, fields ...Field) Edit {
	return Edit{op: opSetTable, key: table, fields: fields}
}

// Remove deletes a key, or a table with everything under it. Removing what is
// not there is a no-op. Comments are kept.
func Remove(key string) Edit { return Edit{op: opRemove, key: key} }

// String describes the edit for plans and logs. Values of keys that may hold
// secrets are not shown.
func (e Edit) String() string {
	switch e.op {
	case opSet:
		return fmt.Sprintf("set %s = %s", e.key, redactedValue(e.key, e.value))
	case opSetTable:
		parts := make([]string, len(e.fields))
		for i, f := range e.fields {
			parts[i] = fmt.Sprintf("%s = %s", f.Key, redactedValue(f.Key, f.Value))
		}
		return fmt.Sprintf("set table [%s] {%s}", e.key, strings.Join(parts, ", "))
	case opRemove:
		return "remove " + e.key
	}
	return "invalid edit"
}

// secretKeyNames are config keys whose values are secrets or credentials (reference §1.2, §4.2).
func secretKeyNames() []string {
	return []string{"secret-access-key", "client-secret", "client-certificate", "client-certificate-password", "access-key"}
}

func redactedValue(key string, v any) string {
	leaf := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		leaf = key[i+1:]
	}
	if slices.Contains(secretKeyNames(), leaf) {
		return `"<redacted>"`
	}
	s, err := encodeValue(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return s
}

// ApplyEdits applies edits in order and returns the new document. Only the
// bytes of the edited keys change: values are replaced in place, missing keys
// are inserted into their table (after a commented-out template line such as
// `# data-encryption-method = "plaintext"` when there is one), missing tables
// are created after their commented-out header, before their first sub-table,
// after their parent's family of tables, or at the end. Dotted keys and inline
// tables are edited where they are written. The result is checked to parse.
func ApplyEdits(data []byte, edits ...Edit) ([]byte, error) {
	if _, err := parseTOMLDoc(data); err != nil {
		return nil, fmt.Errorf("parsing document before edit: %w", err)
	}
	out := data
	for _, e := range edits {
		var err error
		switch e.op {
		case opSet:
			out, err = applySet(out, e.key, e.value)
		case opSetTable:
			out, err = applySetTable(out, e.key, e.fields)
		case opRemove:
			out, err = applyRemove(out, e.key)
		default:
			err = errors.New("invalid edit: build it with Set, SetTable or Remove")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e, err)
		}
	}
	var check map[string]any
	if err := toml.Unmarshal(out, &check); err != nil {
		return nil, fmt.Errorf("edited document does not parse (edits conflict with the file's layout): %w", err)
	}
	return out, nil
}

// encodeValue writes a Go value as a TOML value.
func encodeValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return "", errors.New("string value is not valid UTF-8, which TOML cannot hold")
		}
		return quoteTOML(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		if x > math.MaxInt64 {
			return "", fmt.Errorf("integer %d does not fit in TOML", x)
		}
		return strconv.FormatUint(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("float %v is not allowed", x)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s, nil
	}
	return "", fmt.Errorf("value of type %T is not supported (use string, bool, int, int64, uint64 or float64)", v)
}

func splice(data []byte, start, end int, text string) []byte {
	out := make([]byte, 0, len(data)-(end-start)+len(text))
	out = append(out, data[:start]...)
	out = append(out, text...)
	return append(out, data[end:]...)
}

func applySet(data []byte, key string, value any) ([]byte, error) {
	path, err := splitKeyPath(key)
	if err != nil {
		return nil, err
	}
	enc, err := encodeValue(value)
	if err != nil {
		return nil, err
	}
	doc, err := parseTOMLDoc(data)
	if err != nil {
		return nil, err
	}
	if i := doc.findKV(path); i >= 0 {
		kv := doc.kvs[i]
		if kv.kind == unstable.InlineTable {
			return nil, fmt.Errorf("%s is a table; use SetTable", key)
		}
		if sameValue(doc, kv, value, enc) {
			return data, nil
		}
		return splice(data, kv.valStart, kv.valEnd, enc), nil
	}
	if doc.isTable(path) {
		return nil, fmt.Errorf("%s is a table; use SetTable", key)
	}
	for k := len(path) - 1; k >= 1; k-- {
		if i := doc.findKV(path[:k]); i >= 0 && doc.kvs[i].kind != unstable.InlineTable {
			return nil, fmt.Errorf("%s is a value, not a table", strings.Join(path[:k], "."))
		}
	}
	pos, text := doc.insertion(path, enc)
	if bytes.Contains(data, []byte("\r\n")) {
		text = strings.ReplaceAll(text, "\n", "\r\n") // keep the file's line endings
	}
	return splice(data, pos, pos, text), nil
}

// sameValue reports whether kv already holds value, so that an edit that
// changes nothing leaves the bytes as they are.
func sameValue(doc *tomlDoc, kv tomlKV, value any, enc string) bool {
	if s, ok := value.(string); ok {
		return kv.kind == unstable.String && string(kv.data) == s
	}
	return string(doc.data[kv.valStart:kv.valEnd]) == enc
}

// isTable reports whether path names a table: a header, or a prefix of some key.
func (d *tomlDoc) isTable(path []string) bool {
	for _, t := range d.tables {
		if hasPrefix(t.path, path) {
			return true
		}
	}
	for _, kv := range d.kvs {
		if len(kv.path) > len(path) && hasPrefix(kv.path, path) {
			return true
		}
	}
	return false
}

// insertion finds where a missing key goes and the text to insert there.
func (d *tomlDoc) insertion(path []string, enc string) (int, string) {
	parent, leaf := path[:len(path)-1], path[len(path)-1]
	line := formatKey(leaf) + " = " + enc + "\n"

	// The parent is a [header] (or the root).
	if len(parent) == 0 {
		return d.lineInsert(d.keyInsertPos(-1, leaf), line)
	}
	if t := d.findTable(parent); t >= 0 {
		return d.lineInsert(d.keyInsertPos(t, leaf), line)
	}
	// The parent (or an ancestor) is an inline table.
	for k := len(parent); k >= 1; k-- {
		if i := d.findKV(parent[:k]); i >= 0 {
			return d.inlineInsert(i, path[k:], enc)
		}
	}
	// The parent (or an ancestor below the deepest header) is defined by
	// dotted keys inside some table: add another dotted key there.
	for k := len(parent); k >= 1; k-- {
		if d.findTable(parent[:k]) >= 0 {
			break
		}
		if last := d.lastDottedDefinition(parent[:k]); last >= 0 {
			kv := d.kvs[last]
			rel := path[len(kv.path)-len(kv.rel):]
			return d.lineInsert(kv.lineEnd, formatKeyPath(rel)+" = "+enc+"\n")
		}
	}
	// Create the table.
	block := "[" + formatKeyPath(parent) + "]\n" + line
	if pos, ok := d.commentedHeaderPos(parent); ok {
		return d.lineInsert(pos, block)
	}
	for h, t := range d.tables {
		if len(t.path) > len(parent) && hasPrefix(t.path, parent) {
			return d.attachedCommentStart(h), block + "\n"
		}
	}
	for k := len(parent) - 1; k >= 1; k-- {
		if d.findTable(parent[:k]) < 0 {
			continue
		}
		lastH := -1
		for h, t := range d.tables {
			if hasPrefix(t.path, parent[:k]) {
				lastH = h
			}
		}
		end := d.regionEnd(lastH)
		if lastH+1 < len(d.tables) {
			end = d.attachedCommentStart(lastH + 1)
		}
		end = d.backOverBlankLines(d.regionStart(lastH), end)
		return d.lineInsert(end, "\n"+block)
	}
	if len(d.data) == 0 {
		return 0, block
	}
	return d.lineInsert(len(d.data), "\n"+block)
}

// lastDottedDefinition returns the last top-level key-value that defines the
// table p through a dotted key (its header path is shorter than p), or -1.
func (d *tomlDoc) lastDottedDefinition(p []string) int {
	last := -1
	for i, kv := range d.kvs {
		if kv.inline < 0 && len(kv.path) > len(p) && hasPrefix(kv.path, p) && len(kv.path)-len(kv.rel) < len(p) {
			last = i
		}
	}
	return last
}

// lineInsert makes sure text starts on its own line at pos.
func (d *tomlDoc) lineInsert(pos int, text string) (int, string) {
	if pos > 0 && d.data[pos-1] != '\n' {
		return pos, "\n" + text
	}
	return pos, text
}

// keyInsertPos returns where a new key goes in the region of table t: after
// a commented-out `# leaf = ...` template line, else after the table's last
// key, else right after the header.
func (d *tomlDoc) keyInsertPos(t int, leaf string) int {
	start, end := d.regionStart(t), d.regionEnd(t)
	commented := regexp.MustCompile(`^#[ \t]*` + regexp.QuoteMeta(formatKey(leaf)) + `[ \t]*=`)
	commentedHeader := regexp.MustCompile(commentedHeaderPattern)
	for _, c := range d.comments {
		if c.start < start || c.start >= end {
			continue
		}
		if commentedHeader.MatchString(c.text) {
			break // a commented-out sub-table starts here; its keys are not ours
		}
		if commented.MatchString(c.text) {
			return c.lineEnd
		}
	}
	pos := -1
	for _, kv := range d.kvs {
		if kv.inline < 0 && kv.table == t {
			pos = kv.lineEnd
		}
	}
	if pos >= 0 {
		return pos
	}
	return start
}

// Patterns of commented-out template lines: a table header and a key.
const (
	commentedHeaderPattern = `^#[ \t]*\[`
	commentedKeyPattern    = `^#[ \t]*[A-Za-z0-9_."'-]+[ \t]*=`
)

// commentedHeaderPos finds a commented-out `# [parent]` line and returns the
// position after it and its commented-out keys, if a real header may go there
// (no key of the enclosing table follows it).
func (d *tomlDoc) commentedHeaderPos(parent []string) (int, bool) {
	re := regexp.MustCompile(`^#[ \t]*\[[ \t]*` + regexp.QuoteMeta(formatKeyPath(parent)) + `[ \t]*\][ \t]*$`)
	commentedKey := regexp.MustCompile(commentedKeyPattern)
	for i, c := range d.comments {
		if !re.MatchString(strings.TrimRight(c.text, "\r")) {
			continue
		}
		pos := c.lineEnd
		for j := i + 1; j < len(d.comments); j++ {
			n := d.comments[j]
			if n.lineStart != pos || !commentedKey.MatchString(n.text) {
				break
			}
			pos = n.lineEnd
		}
		t := d.tableAt(pos)
		ok := true
		for _, kv := range d.kvs {
			if kv.inline < 0 && kv.table == t && kv.kvStart >= pos {
				ok = false
				break
			}
		}
		if ok {
			return pos, true
		}
	}
	return 0, false
}

// tableAt returns the table whose region holds pos (-1 for the root).
func (d *tomlDoc) tableAt(pos int) int {
	t := -1
	for i, h := range d.tables {
		if h.lineStart < pos {
			t = i
		}
	}
	return t
}

// attachedCommentStart returns the start of the comment lines directly above header h.
func (d *tomlDoc) attachedCommentStart(h int) int {
	pos := d.tables[h].lineStart
	for i := len(d.comments) - 1; i >= 0; i-- {
		c := d.comments[i]
		if c.lineEnd > pos {
			continue
		}
		if c.lineEnd != pos || !isBlank(d.data[c.lineStart:c.start]) {
			break
		}
		pos = c.lineStart
	}
	return pos
}

// backOverBlankLines moves end back over blank lines, not before min.
func (d *tomlDoc) backOverBlankLines(min, end int) int {
	for end > min {
		ls := bytes.LastIndexByte(d.data[:end-1], '\n') + 1
		if ls < min || !isBlank(d.data[ls:end]) {
			break
		}
		end = ls
	}
	return end
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// inlineInsert adds rel = enc to the inline table kvs[i].
func (d *tomlDoc) inlineInsert(i int, rel []string, enc string) (int, string) {
	member := formatKeyPath(rel) + " = " + enc
	last := -1
	for j, kv := range d.kvs {
		if kv.inline == i {
			last = j
		}
	}
	if last >= 0 {
		return d.kvs[last].kvEnd, ", " + member
	}
	return d.kvs[i].valStart + 1, " " + member + " "
}

type span struct{ start, end int }

func applyRemove(data []byte, key string) ([]byte, error) {
	path, err := splitKeyPath(key)
	if err != nil {
		return nil, err
	}
	doc, err := parseTOMLDoc(data)
	if err != nil {
		return nil, err
	}
	var spans []span
	for _, t := range doc.tables {
		if hasPrefix(t.path, path) {
			spans = append(spans, span{t.lineStart, t.lineEnd})
		}
	}
	for _, kv := range doc.kvs {
		if !hasPrefix(kv.path, path) {
			continue
		}
		if kv.inline < 0 {
			spans = append(spans, span{kv.lineStart, kv.lineEnd})
			continue
		}
		if hasPrefix(doc.kvs[kv.inline].path, path) {
			continue // its container goes as a whole
		}
		spans = append(spans, doc.memberSpan(kv))
	}
	return deleteSpans(data, spans), nil
}

// memberSpan is an inline-table member with one neighbouring comma.
func (d *tomlDoc) memberSpan(kv tomlKV) span {
	s, e := kv.kvStart, kv.kvEnd
	j := e
	for j < len(d.data) && (d.data[j] == ' ' || d.data[j] == '\t') {
		j++
	}
	if j < len(d.data) && d.data[j] == ',' {
		j++
		for j < len(d.data) && (d.data[j] == ' ' || d.data[j] == '\t') {
			j++
		}
		return span{s, j}
	}
	i := s
	for i > 0 && (d.data[i-1] == ' ' || d.data[i-1] == '\t') {
		i--
	}
	if i > 0 && d.data[i-1] == ',' {
		return span{i - 1, e}
	}
	return span{s, e}
}

func deleteSpans(data []byte, spans []span) []byte {
	if len(spans) == 0 {
		return data
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	out := make([]byte, 0, len(data))
	pos := 0
	for _, s := range spans {
		if s.start > pos {
			out = append(out, data[pos:s.start]...)
		}
		if s.end > pos {
			pos = s.end
		}
	}
	return append(out, data[pos:]...)
}

func applySetTable(data []byte, key string, fields []Field) ([]byte, error) {
	path, err := splitKeyPath(key)
	if err != nil {
		return nil, err
	}
	want := make([][]string, len(fields))
	for i, f := range fields {
		rel, err := splitKeyPath(f.Key)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", i, err)
		}
		want[i] = append(append([]string(nil), path...), rel...)
	}
	doc, err := parseTOMLDoc(data)
	if err != nil {
		return nil, err
	}
	if i := doc.findKV(path); i >= 0 && doc.kvs[i].kind != unstable.InlineTable {
		return nil, fmt.Errorf("%s is a value, not a table", key)
	}
	needed := func(p []string) bool {
		for _, w := range want {
			if hasPrefix(w, p) {
				return true
			}
		}
		return false
	}
	// Remove keys under the table that the new content does not have.
	var stale []string
	for _, kv := range doc.kvs {
		if len(kv.path) > len(path) && hasPrefix(kv.path, path) && kv.kind != unstable.InlineTable && !needed(kv.path) {
			stale = append(stale, strings.Join(kv.path, "."))
		}
	}
	for _, k := range stale {
		if data, err = applyRemove(data, k); err != nil {
			return nil, err
		}
	}
	// Remove sub-table headers (and emptied inline tables) nothing needs any more.
	if doc, err = parseTOMLDoc(data); err != nil {
		return nil, err
	}
	var spans []span
	for _, t := range doc.tables {
		if len(t.path) > len(path) && hasPrefix(t.path, path) && !needed(t.path) && !doc.hasKeysUnder(t.path) {
			spans = append(spans, span{t.lineStart, t.lineEnd})
		}
	}
	for _, kv := range doc.kvs {
		if kv.kind == unstable.InlineTable && len(kv.path) > len(path) && hasPrefix(kv.path, path) && !needed(kv.path) && !doc.hasKeysUnder(kv.path) {
			if kv.inline < 0 {
				spans = append(spans, span{kv.lineStart, kv.lineEnd})
			} else {
				spans = append(spans, doc.memberSpan(kv))
			}
		}
	}
	data = deleteSpans(data, spans)
	for i, f := range fields {
		if data, err = applySet(data, strings.Join(want[i], "."), f.Value); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// hasKeysUnder reports whether any key-value lies strictly under path.
func (d *tomlDoc) hasKeysUnder(path []string) bool {
	for _, kv := range d.kvs {
		if len(kv.path) > len(path) && hasPrefix(kv.path, path) {
			return true
		}
	}
	return false
}

// EncryptionEdits returns the edits that make a tikv.toml's [security.encryption]
// say enc: the method and rotation period are set, the master-key table is
// replaced whole, and previous-master-key is written when set or removed when not.
func EncryptionEdits(enc tikv.Encryption) []Edit {
	edits := []Edit{Set(tikv.KeyMethod, enc.EffectiveMethod())}
	if enc.DataKeyRotationPeriod != "" {
		edits = append(edits, Set(tikv.KeyRotationPeriod, enc.DataKeyRotationPeriod))
	}
	if enc.EnableFileDictionaryLog != nil {
		edits = append(edits, Set(tikv.KeyFileDictLog, *enc.EnableFileDictionaryLog))
	}
	if enc.MasterKey.Type == "" {
		edits = append(edits, Remove(tikv.KeyMasterKey))
	} else {
		edits = append(edits, SetTable(tikv.KeyMasterKey, tikv.MasterKeyFields(enc.MasterKey)...))
	}
	if enc.PreviousMasterKey.Type == "" {
		edits = append(edits, Remove(tikv.KeyPreviousMasterKey))
	} else {
		edits = append(edits, SetTable(tikv.KeyPreviousMasterKey, tikv.MasterKeyFields(enc.PreviousMasterKey)...))
	}
	return edits
}
