package inventory

import (
	"os"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// seedFile adds a file's bytes to f's corpus.
func seedFile(f *testing.F, path string) {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// FuzzParseMeta feeds arbitrary bytes to the TiUP meta.yaml / topology
// reader, seeded with TiUP's own example topologies (testdata/upstream) and
// the edit-config fixtures: it must never panic, every error names the file,
// and what it accepts must be usable by every reader of a Meta (the
// encryption keys, each server's config, matching against PD's stores).
func FuzzParseMeta(f *testing.F) {
	for _, n := range []string{"minimal.yaml", "multi-dc.yaml", "topology.example.yaml"} {
		f.Add(corpus.Read(f, "upstream", n))
	}
	f.Add(corpus.Read(f, "synthetic/tiup", "edit-config-shape.yaml"))
	seedFile(f, "testdata/meta-labroom-shape.yaml")
	f.Add([]byte("tikv_servers:\n  - host: 10.0.1.1\n    port: 0\n    config: {security.encryption: {master-key: {type: file}}}\n"))
	f.Add([]byte("server_configs:\n  tikv:\n    security: [1, 2]\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMeta("meta.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "meta.yaml") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		_ = m.EncryptionKeys()
		var nodes []Node
		for _, s := range m.TiKVServers {
			_ = m.TiKVConfig(s)
			nodes = append(nodes, Node{Address: s.Address()})
		}
		if _, err := m.Enrich(nodes, []string{"http://127.0.0.1:2379"}); err != nil && !strings.Contains(err.Error(), "meta.yaml") {
			t.Fatalf("Enrich error without the file: %v", err)
		}
	})
}

// FuzzParseManual feeds arbitrary bytes to the manual inventory reader,
// seeded with the package's example inventory and its error cases: it must
// never panic, every error names the file, and an accepted inventory has a
// distinct non-empty address per store and applies to PD's view of them.
func FuzzParseManual(f *testing.F) {
	seedFile(f, "testdata/manual-inventory.toml")
	f.Add([]byte("[[store]]\naddress = \"a:1\"\n[[store]]\naddress = \"a:1\"\n"))
	f.Add([]byte("[defaults]\nssh_user = \"x\"\n\n[[store]]\nssh_host = \"x\"\n"))
	f.Add([]byte("[[store]]\naddress = \"a:1\"\nssh_port = 70000\n"))
	f.Add([]byte("x = '''\n[[store]]\n'''\n[[store]]\naddress = \"b:2\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManual("inv.toml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "inv.toml") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		var nodes []Node
		for _, s := range m.Stores {
			if s.Address == "" || seen[s.Address] {
				t.Fatalf("accepted store address %q (empty or repeated)", s.Address)
			}
			seen[s.Address] = true
			nodes = append(nodes, Node{Address: s.Address})
		}
		if err := m.Apply(nodes); err != nil {
			t.Fatalf("Apply on PD's view of the same stores: %v", err)
		}
	})
}
