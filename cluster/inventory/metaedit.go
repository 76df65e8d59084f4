package inventory

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// SetServerConfigTiKV sets keys in server_configs.tikv of a TiUP meta.yaml
// (or bare topology) and returns the new file. Keys are dotted TiKV config
// paths ("security.encryption.data-encryption-method"); a nil value removes
// the key. An existing key is updated where it is, whether written dotted or
// nested ("security:" → "encryption:" → …); a new key is added dotted, the
// way TiUP's examples write them. This keeps `tiup cluster reload`, which
// re-renders tikv.toml from meta.yaml, from reverting a config change.
//
// Only the server_configs.tikv block is rewritten: every other byte of the
// file is kept. When the layout does not allow that (flow style, no
// server_configs and topology not last), the whole file is re-encoded with
// yaml.v3, which keeps comments but may change spacing and quoting. Either
// way the result is re-parsed and checked: everything outside
// server_configs.tikv must decode exactly as before.
func SetServerConfigTiKV(metaYAML []byte, kv map[string]any) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(metaYAML, &doc); err != nil {
		return nil, yamlError("meta.yaml", err)
	}
	root := docRoot(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("meta.yaml: want a YAML mapping (TiUP meta.yaml or topology)")
	}
	topo := root
	if t := mapGet(root, "topology"); t != nil {
		if t.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("meta.yaml:%d: topology: want a mapping", t.Line)
		}
		topo = t
	}

	// The new server_configs.tikv mapping.
	sc := mapGet(topo, "server_configs")
	tk := mapGet(sc, "tikv")
	newTK := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if tk != nil && tk.Kind == yaml.MappingNode {
		newTK = deepCopy(tk)
		newTK.Style = 0
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			return nil, fmt.Errorf("server_configs.tikv: invalid key %q: want a dotted path such as security.encryption.data-encryption-method", k)
		}
		if err := setPath(newTK, strings.Split(k, "."), kv[k]); err != nil {
			return nil, err
		}
	}

	if out, ok := spliceTiKV(metaYAML, root, topo, sc, newTK); ok {
		if err := checkEdit(metaYAML, out, newTK); err == nil {
			return out, nil
		}
	}
	// Fallback: edit the tree and re-encode everything.
	if sc == nil || sc.Kind != yaml.MappingNode {
		sc = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		mapSet(topo, "server_configs", sc)
	}
	mapSet(sc, "tikv", newTK)
	out, err := encodeMeta(&doc)
	if err != nil {
		return nil, err
	}
	if err := checkEdit(metaYAML, out, newTK); err != nil {
		return nil, fmt.Errorf("editing meta.yaml: %w", err)
	}
	return out, nil
}

// spliceTiKV replaces only the lines of server_configs.tikv (or inserts them).
func spliceTiKV(src []byte, root, topo, sc, newTK *yaml.Node) ([]byte, bool) {
	lines := strings.Split(string(src), "\n")
	switch {
	case sc != nil && sc.Kind == yaml.MappingNode && sc.Style&yaml.FlowStyle == 0 && len(sc.Content) > 0:
		if k := mapKey(sc, "tikv"); k != nil {
			start := k.Line - 1
			end := blockEnd(lines, start, k.Column-1)
			block := renderTiKV(k.Column-1, newTK, k.LineComment)
			return joinLines(lines[:start], block, lines[end:]), true
		}
		// Insert before the first key of server_configs, at its indentation.
		first := sc.Content[0]
		if first.HeadComment != "" {
			return nil, false
		}
		at := first.Line - 1
		return joinLines(lines[:at], renderTiKV(first.Column-1, newTK, ""), lines[at:]), true
	case sc == nil:
		// Append server_configs at the end of the topology mapping, when it ends the file.
		if len(topo.Content) == 0 {
			return nil, false
		}
		col := topo.Content[0].Column - 1
		if topo != root {
			last := root.Content[len(root.Content)-2]
			if last.Value != "topology" {
				return nil, false
			}
		}
		trimmed := strings.TrimRight(string(src), "\n")
		block := append([]string{strings.Repeat(" ", col) + "server_configs:"}, renderTiKV(col+2, newTK, "")...)
		return []byte(trimmed + "\n" + strings.Join(block, "\n") + "\n"), true
	}
	return nil, false
}

// blockEnd returns the index of the first line after the block whose key is
// on line start at column col: following lines that are blank, comments, or
// indented deeper than col belong to it; trailing blank and shallow comment
// lines are left outside.
func blockEnd(lines []string, start, col int) int {
	end := start + 1
	for end < len(lines) {
		t := strings.TrimSpace(lines[end])
		if t == "" || strings.HasPrefix(t, "#") || indentOf(lines[end]) > col {
			end++
			continue
		}
		break
	}
	for end-1 > start {
		t := strings.TrimSpace(lines[end-1])
		if t == "" || (strings.HasPrefix(t, "#") && indentOf(lines[end-1]) <= col) {
			end--
			continue
		}
		break
	}
	return end
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// renderTiKV renders "tikv:" and its mapping at column col.
func renderTiKV(col int, m *yaml.Node, lineComment string) []string {
	pad := strings.Repeat(" ", col)
	head := pad + "tikv:"
	if len(m.Content) == 0 {
		head += " {}"
	}
	if lineComment != "" {
		head += " " + lineComment
	}
	out := []string{head}
	if len(m.Content) == 0 {
		return out
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	_ = enc.Encode(m) // a mapping of decoded nodes always encodes
	_ = enc.Close()
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		if l == "" {
			out = append(out, "")
			continue
		}
		out = append(out, pad+"  "+l)
	}
	return out
}

func joinLines(parts ...[]string) []byte {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return []byte(strings.Join(all, "\n"))
}

// checkEdit verifies that out differs from src only in server_configs.tikv,
// which must decode as want.
func checkEdit(src, out []byte, want *yaml.Node) error {
	var before, after any
	if err := yaml.Unmarshal(src, &before); err != nil {
		return err
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		return fmt.Errorf("result does not parse: %w", err)
	}
	var wantMap map[string]any
	if err := want.Decode(&wantMap); err != nil {
		return err
	}
	gotTK := popTiKV(after)
	popTiKV(before)
	if len(wantMap) == 0 && len(gotTK) == 0 {
		wantMap, gotTK = nil, nil
	}
	if !reflect.DeepEqual(gotTK, wantMap) {
		return fmt.Errorf("server_configs.tikv came out as %v, want %v", gotTK, wantMap)
	}
	if !reflect.DeepEqual(emptyServerConfigs(before), emptyServerConfigs(after)) {
		return fmt.Errorf("content outside server_configs.tikv changed")
	}
	return nil
}

// popTiKV removes and returns server_configs.tikv from a decoded document.
func popTiKV(doc any) map[string]any {
	m, _ := doc.(map[string]any)
	if t, ok := m["topology"].(map[string]any); ok {
		m = t
	}
	sc, _ := m["server_configs"].(map[string]any)
	tk, _ := sc["tikv"].(map[string]any)
	delete(sc, "tikv")
	return tk
}

// emptyServerConfigs drops a server_configs left empty, so adding one is not a change.
func emptyServerConfigs(doc any) any {
	m, _ := doc.(map[string]any)
	t := m
	if tt, ok := m["topology"].(map[string]any); ok {
		t = tt
	}
	if sc, ok := t["server_configs"].(map[string]any); ok && len(sc) == 0 {
		delete(t, "server_configs")
	} else if t != nil && t["server_configs"] == nil {
		delete(t, "server_configs")
	}
	return doc
}

// setPath sets (or with value nil, removes) segs in mapping m, following an
// existing dotted or nested spelling, else adding the remaining path dotted.
func setPath(m *yaml.Node, segs []string, value any) error {
	for i := len(segs); i >= 1; i-- {
		key := strings.Join(segs[:i], ".")
		idx := mapIndex(m, key)
		if idx < 0 {
			continue
		}
		if i == len(segs) {
			if value == nil {
				m.Content = append(m.Content[:idx], m.Content[idx+2:]...)
				return nil
			}
			v, err := valueNode(value)
			if err != nil {
				return fmt.Errorf("server_configs.tikv %s: %w", strings.Join(segs, "."), err)
			}
			v.LineComment = m.Content[idx+1].LineComment
			m.Content[idx+1] = v
			return nil
		}
		child := m.Content[idx+1]
		if child.Kind == yaml.MappingNode {
			child.Style = 0
			return setPath(child, segs[i:], value)
		}
		return fmt.Errorf("server_configs.tikv: %s is a value, not a table; cannot set %s below it", key, strings.Join(segs, "."))
	}
	if value == nil {
		return nil
	}
	v, err := valueNode(value)
	if err != nil {
		return fmt.Errorf("server_configs.tikv %s: %w", strings.Join(segs, "."), err)
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.Join(segs, ".")}
	m.Content = append(m.Content, k, v)
	return nil
}

func valueNode(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return &n, nil
}

func mapIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func mapKey(m *yaml.Node, key string) *yaml.Node {
	if i := mapIndex(m, key); i >= 0 {
		return m.Content[i]
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	if i := mapIndex(m, key); i >= 0 {
		m.Content[i+1] = v
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepCopy(ch)
	}
	return &c
}
