package safetytest

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/sim"
)

// metaEntries reads meta.yaml: each tikv_servers entry's config by port, and server_configs.tikv.
func metaEntries(t *testing.T, path string) (map[int]map[string]any, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return metaEntriesOf(t, b)
}

// metaEntriesOf is metaEntries over meta.yaml's bytes.
func metaEntriesOf(t *testing.T, b []byte) (map[int]map[string]any, map[string]any) {
	t.Helper()
	var doc struct {
		Topology struct {
			ServerConfigs map[string]map[string]any `yaml:"server_configs"`
			TiKVServers   []struct {
				Port   int            `yaml:"port"`
				Config map[string]any `yaml:"config"`
			} `yaml:"tikv_servers"`
		} `yaml:"topology"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[int]map[string]any{}
	for _, s := range doc.Topology.TiKVServers {
		out[s.Port] = s.Config
	}
	return out, doc.Topology.ServerConfigs["tikv"]
}

// TestFailedRunKeepsMetaInStep: a run that stops after some stores got the
// new config leaves meta.yaml saying, for exactly those stores, what their
// tikv.toml says (so 'tiup cluster reload' renders it), and nothing for the
// others; the cluster-wide server_configs.tikv is left alone.
func TestFailedRunKeepsMetaInStep(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	if err := cl.Inject(sim.Fault{Kind: sim.FaultStartFailure, Node: 3, Once: true, Message: "[FATAL] simulated start failure"}); err != nil {
		t.Fatal(err)
	}
	r := run(t, "apply", plan, "--yes")
	if r.code == 0 {
		t.Fatalf("the run did not fail:\n%s", r)
	}
	entries, sc := metaEntries(t, cl.Env().Meta)
	if v, ok := sc[tikv.KeyMasterKey+".type"]; ok {
		t.Errorf("a failed run set server_configs.tikv master-key.type = %v", v)
	}
	changed := 0
	for _, n := range cl.Nodes() {
		b, err := os.ReadFile(n.Paths.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := tikvconf.ParseConfig(n.Paths.ConfigPath, b)
		if err != nil {
			t.Fatal(err)
		}
		onDisk := string(cfg.Encryption.MasterKey.EffectiveType())
		if cfg.Encryption.MasterKey.Type == "" {
			onDisk = ""
		}
		inMeta, _ := entries[n.Port][tikv.KeyMasterKey+".type"].(string)
		if onDisk != inMeta {
			t.Errorf("store %d: tikv.toml master-key type %q, meta.yaml's tikv_servers config says %q", n.StoreID, onDisk, inMeta)
		}
		if onDisk != "" {
			changed++
		}
	}
	if changed == 0 {
		t.Fatalf("no store got the new config before the failure:\n%s", r)
	}
	if !strings.Contains(r.stderr.String(), "tikv_servers config of store(s)") {
		t.Errorf("the run does not say it synced meta.yaml:\n%s", r)
	}
	assertSafe(t, cl, "after the failed run")
}

func sameYAML(a, b any) bool {
	x, _ := yaml.Marshal(a)
	y, _ := yaml.Marshal(b)
	return string(x) == string(y)
}
