package inventory

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// outsideBlock returns the text before line "<prefix>tikv:" and after its block.
func outsideBlock(t *testing.T, data []byte, keyLine string) (before, after string) {
	t.Helper()
	s := string(data)
	i := strings.Index(s, "\n"+keyLine+"\n")
	if i < 0 {
		t.Fatalf("no %q line in:\n%s", keyLine, s)
	}
	before = s[:i+1]
	rest := s[i+1+len(keyLine)+1:]
	col := len(keyLine) - len(strings.TrimLeft(keyLine, " "))
	lines := strings.SplitAfter(rest, "\n")
	j := 0
	for j < len(lines) {
		l := lines[j]
		if strings.TrimSpace(l) == "" || len(l)-len(strings.TrimLeft(l, " ")) > col {
			j++
			continue
		}
		break
	}
	return before, strings.Join(lines[j:], "")
}

func TestSetServerConfigTiKVOwnFixture(t *testing.T) {
	src, err := os.ReadFile("testdata/meta-labroom-shape.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := SetServerConfigTiKV(src, map[string]any{
		"security.encryption.data-encryption-method":            "aes128-ctr",    // nested, existing
		"security.encryption.master-key.path":                   "/keys/new.key", // nested, existing
		"security.encryption.previous-master-key.type":          "file",          // new below nested
		"security.encryption.previous-master-key.path":          "/keys/old.key", // new below nested
		"security.encryption.data-key-rotation-period":          nil,             // dotted, removed
		"readpool.storage.use-unified-pool":                     true,            // dotted, existing
		"security.encryption.enable-file-dictionary-log":        true,            // new
		"security.encryption.file-dictionary-rewrite-threshold": 1000000,         // new
	})
	if err != nil {
		t.Fatal(err)
	}
	b0, a0 := outsideBlock(t, src, "    tikv:")
	b1, a1 := outsideBlock(t, out, "    tikv:")
	if b0 != b1 || a0 != a1 {
		t.Errorf("bytes outside server_configs.tikv changed:\n%s", out)
	}
	m, err := ParseMeta("out.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	enc := m.EncryptionKeys()
	want := map[string]any{
		"security.encryption.data-encryption-method":            "aes128-ctr",
		"security.encryption.master-key.type":                   "file",
		"security.encryption.master-key.path":                   "/keys/new.key",
		"security.encryption.previous-master-key.type":          "file",
		"security.encryption.previous-master-key.path":          "/keys/old.key",
		"security.encryption.enable-file-dictionary-log":        true,
		"security.encryption.file-dictionary-rewrite-threshold": 1000000,
	}
	if len(enc) != len(want) {
		t.Errorf("keys = %v", enc)
	}
	for k, v := range want {
		if enc[k] != v {
			t.Errorf("%s = %v, want %v", k, enc[k], v)
		}
	}
	if m.ServerConfigTiKV["readpool.storage.use-unified-pool"] != true {
		t.Errorf("dotted key not updated: %v", m.ServerConfigTiKV)
	}
	if len(m.TiKVServers) != 3 || m.TiDBVersion != "v8.5.2" {
		t.Errorf("rest of meta lost: %+v", m)
	}
}

func TestSetServerConfigTiKVUpstream(t *testing.T) {
	kv := map[string]any{
		"security.encryption.data-encryption-method": "aes256-ctr",
		"security.encryption.master-key.type":        "file",
		"security.encryption.master-key.path":        "/data/tidb-deploy/tikv-20160/keys/master.key",
	}
	for _, name := range []string{"edit-config-shape.yaml", "multi-dc.yaml", "minimal.yaml", "topology.example.yaml"} {
		t.Run(name, func(t *testing.T) {
			src := upstream(t, name)
			out, err := SetServerConfigTiKV(src, kv)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseMeta(name, out)
			if err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, out)
			}
			for k, v := range kv {
				if m.ServerConfigTiKV[k] != v {
					t.Errorf("%s = %v", k, m.ServerConfigTiKV[k])
				}
			}
			orig, _ := ParseMeta(name, src)
			for k, v := range orig.ServerConfigTiKV {
				if m.ServerConfigTiKV[k] != v {
					t.Errorf("existing key %s lost", k)
				}
			}
			if len(m.TiKVServers) != len(orig.TiKVServers) {
				t.Errorf("tikv_servers changed")
			}
			switch name {
			case "minimal.yaml", "topology.example.yaml":
				// server_configs is commented out there: appended, original kept as a prefix.
				if !bytes.HasPrefix(out, bytes.TrimRight(src, "\n")) {
					t.Errorf("original not kept as prefix")
				}
			default:
				b0, a0 := outsideBlock(t, src, "  tikv:")
				b1, a1 := outsideBlock(t, out, "  tikv:")
				if b0 != b1 || a0 != a1 {
					t.Errorf("bytes outside server_configs.tikv changed:\n%s", out)
				}
				if name == "multi-dc.yaml" && !strings.Contains(string(out), "# # Compression algorithm for gRPC messages") {
					t.Errorf("comment inside tikv block lost:\n%s", out)
				}
			}
		})
	}
}

func TestSetServerConfigTiKVFallbackAndErrors(t *testing.T) {
	src := []byte("server_configs: {tikv: {}, pd: {x: 1}}\ntikv_servers:\n- host: a\n")
	out, err := SetServerConfigTiKV(src, map[string]any{"security.encryption.data-encryption-method": "sm4-ctr"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMeta("x", out)
	if err != nil || m.ServerConfigTiKV["security.encryption.data-encryption-method"] != "sm4-ctr" || len(m.TiKVServers) != 1 {
		t.Errorf("flow-style fallback: %v, %v\n%s", m, err, out)
	}
	// Adding a tikv block when server_configs has other components only.
	src = []byte("server_configs:\n  pd:\n    replication.max-replicas: 3\ntikv_servers:\n- host: a\n")
	out, err = SetServerConfigTiKV(src, map[string]any{"security.encryption.master-key.type": "file"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "  tikv:\n    security.encryption.master-key.type: file\n  pd:\n") {
		t.Errorf("inserted block:\n%s", out)
	}
	if _, err := SetServerConfigTiKV([]byte("server_configs:\n  tikv:\n    security: off\n"), map[string]any{"security.encryption.master-key.type": "file"}); err == nil || !strings.Contains(err.Error(), "security is a value") {
		t.Errorf("conflict err = %v", err)
	}
	if _, err := SetServerConfigTiKV([]byte("a: [\n"), map[string]any{"x": 1}); err == nil || !strings.Contains(err.Error(), "meta.yaml") {
		t.Errorf("parse err = %v", err)
	}
	if _, err := SetServerConfigTiKV([]byte("global: {}\n"), map[string]any{"a..b": 1}); err == nil {
		t.Error("bad key accepted")
	}
}
