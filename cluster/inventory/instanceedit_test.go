package inventory

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSetInstanceConfigTiKV: keys land in exactly the named tikv_servers
// entry's config (its own keys kept), other entries and server_configs stay
// as they were, and removing every key set leaves the entry as it began.
func TestSetInstanceConfigTiKV(t *testing.T) {
	src, err := os.ReadFile("testdata/meta-labroom-shape.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := Instance{Host: "172.16.5.11", Port: 20160}
	out, err := SetInstanceConfigTiKV(src, []Instance{in}, map[string]any{
		"security.encryption.data-encryption-method": "aes256-ctr",
		"security.encryption.master-key.type":        "file",
		"security.encryption.master-key.path":        "/keys/master-g1.key",
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Topology struct {
			ServerConfigs map[string]map[string]any `yaml:"server_configs"`
			TiKVServers   []struct {
				Host   string         `yaml:"host"`
				Port   int            `yaml:"port"`
				Config map[string]any `yaml:"config"`
			} `yaml:"tikv_servers"`
		} `yaml:"topology"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	hit := 0
	for _, s := range doc.Topology.TiKVServers {
		has := s.Config["security.encryption.master-key.path"] == "/keys/master-g1.key"
		if s.Host == in.Host && s.Port == in.Port {
			hit++
			if !has || s.Config["server.labels"] == nil {
				t.Errorf("the entry's config: %v", s.Config)
			}
		} else if has {
			t.Errorf("entry %s:%d got the keys too", s.Host, s.Port)
		}
	}
	if hit != 1 {
		t.Fatalf("%d entries matched %+v", hit, in)
	}
	var orig struct {
		Topology struct {
			ServerConfigs map[string]map[string]any `yaml:"server_configs"`
		} `yaml:"topology"`
	}
	if err := yaml.Unmarshal(src, &orig); err != nil {
		t.Fatal(err)
	}
	if !equalYAML(orig.Topology.ServerConfigs, doc.Topology.ServerConfigs) {
		t.Errorf("server_configs changed: %v", doc.Topology.ServerConfigs)
	}
	back, err := SetInstanceConfigTiKV(out, []Instance{in}, map[string]any{
		"security.encryption.data-encryption-method": nil,
		"security.encryption.master-key.type":        nil,
		"security.encryption.master-key.path":        nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if yaml.Unmarshal(src, &a) != nil || yaml.Unmarshal(back, &b) != nil {
		t.Fatal("does not parse")
	}
	if !equalYAML(a, b) {
		t.Errorf("removing the keys does not give the file back:\n%s", back)
	}
	if _, err := SetInstanceConfigTiKV(src, []Instance{{Host: "10.9.9.9", Port: 20160}}, map[string]any{"a.b": 1}); err == nil {
		t.Error("an instance meta.yaml does not have was accepted")
	}
}

func equalYAML(a, b any) bool {
	x, _ := yaml.Marshal(a)
	y, _ := yaml.Marshal(b)
	return string(x) == string(y)
}
