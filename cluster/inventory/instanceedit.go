package inventory

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Instance names one tikv_servers entry of a TiUP topology: its host and
// port (pingcap/tiup pkg/cluster/spec/tikv.go TiKVSpec: host, port, default
// port 20160).
type Instance struct {
	Host string
	Port int
}

// SetInstanceConfigTiKV sets keys in the config of the given tikv_servers
// entries of a TiUP meta.yaml (TiKVSpec.Config, which TiUP merges over
// server_configs.tikv when it renders that instance's tikv.toml; tiup
// pkg/cluster/spec/tikv.go InitConfig). Keys are dotted TiKV paths; a nil
// value removes a key, and a config left empty is removed. It is how the
// stores one run changed, and only those, are brought in line with TiUP.
// The tree is re-encoded with yaml.v3 (TiUP itself rewrites meta.yaml on
// every operation); the result is checked: apart from those entries' config
// everything decodes exactly as before.
func SetInstanceConfigTiKV(metaYAML []byte, instances []Instance, kv map[string]any) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(metaYAML, &doc); err != nil {
		return nil, yamlError("meta.yaml", err)
	}
	root := docRoot(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("meta.yaml: want a YAML mapping (TiUP meta.yaml or topology)")
	}
	topo := root
	if t := mapGet(root, "topology"); t != nil && t.Kind == yaml.MappingNode {
		topo = t
	}
	seq := mapGet(topo, "tikv_servers")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("meta.yaml: no tikv_servers list")
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	found := map[Instance]bool{}
	for _, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		in := Instance{Port: 20160}
		if h := mapGet(item, "host"); h != nil {
			in.Host = h.Value
		}
		if p := mapGet(item, "port"); p != nil {
			in.Port, _ = strconv.Atoi(p.Value)
		}
		want := false
		for _, x := range instances {
			want = want || x == in
		}
		if !want {
			continue
		}
		found[in] = true
		cfg := mapGet(item, "config")
		if cfg == nil || cfg.Kind != yaml.MappingNode {
			cfg = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		cfg.Style = 0
		for _, k := range keys {
			if err := setPath(cfg, strings.Split(k, "."), kv[k]); err != nil {
				return nil, err
			}
		}
		if len(cfg.Content) == 0 {
			if i := mapIndex(item, "config"); i >= 0 {
				item.Content = append(item.Content[:i], item.Content[i+2:]...)
			}
		} else {
			mapSet(item, "config", cfg)
		}
	}
	for _, x := range instances {
		if !found[x] {
			return nil, fmt.Errorf("meta.yaml: no tikv_servers entry with host %s and port %d", x.Host, x.Port)
		}
	}
	out, err := encodeMeta(&doc)
	if err != nil {
		return nil, err
	}
	var before, after any
	if err := yaml.Unmarshal(metaYAML, &before); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		return nil, fmt.Errorf("editing meta.yaml: the result does not parse: %w", err)
	}
	if !reflect.DeepEqual(dropInstanceConfigs(before, instances), dropInstanceConfigs(after, instances)) {
		return nil, fmt.Errorf("editing meta.yaml: content outside the instances' config changed")
	}
	return out, nil
}

// dropInstanceConfigs removes the config of the named tikv_servers entries
// from a decoded document.
func dropInstanceConfigs(doc any, instances []Instance) any {
	m, _ := doc.(map[string]any)
	t := m
	if tt, ok := m["topology"].(map[string]any); ok {
		t = tt
	}
	list, _ := t["tikv_servers"].([]any)
	for _, it := range list {
		e, ok := it.(map[string]any)
		if !ok {
			continue
		}
		in := Instance{Port: 20160}
		in.Host, _ = e["host"].(string)
		if p, ok := e["port"].(int); ok {
			in.Port = p
		}
		for _, x := range instances {
			if x == in {
				delete(e, "config")
			}
		}
	}
	return doc
}

// encodeMeta re-encodes a meta.yaml tree as yaml.v3 writes it, indented by 2.
func encodeMeta(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding meta.yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding meta.yaml: %w", err)
	}
	return buf.Bytes(), nil
}
