package inventory

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// stores builds PD stores from addresses through PD's JSON shape (state
// omitted when Up; deploy_path is the binary's directory).
func stores(t *testing.T, addrs ...string) []pd.StoreInfo {
	t.Helper()
	var items []string
	for i, a := range addrs {
		host := a[:strings.LastIndex(a, ":")]
		items = append(items, fmt.Sprintf(`{"store":{"id":%d,"address":%q,"labels":[{"key":"host","value":"h%d"}],"version":"8.5.2","status_address":"%s:20180","deploy_path":"/tidb-deploy/tikv-20160/bin","state_name":"Up"},"status":{"capacity":"100GiB","available":"90GiB","uptime":"1h"}}`,
			i+1, a, i+1, host))
	}
	var out struct {
		Stores []pd.StoreInfo `json:"stores"`
	}
	if err := json.Unmarshal([]byte(`{"count":1,"stores":[`+strings.Join(items, ",")+`]}`), &out); err != nil {
		t.Fatal(err)
	}
	return out.Stores
}

// upstream reads a TiUP topology of testdata/ without its header: an
// upstream example copied with its licence header (testdata/upstream) or a
// fixture written in the shape of edit-config's output (testdata/synthetic/tiup).
func upstream(t *testing.T, name string) []byte {
	t.Helper()
	if strings.HasSuffix(name, "-shape.yaml") {
		return corpus.Read(t, "synthetic/tiup", name)
	}
	return corpus.Read(t, "upstream", name)
}

func TestFromPD(t *testing.T) {
	var raw struct {
		Stores []pd.StoreInfo `json:"stores"`
	}
	body := `{"count":3,"stores":[
	 {"store":{"id":7,"address":"10.0.1.20:3930","labels":[{"key":"engine","value":"tiflash"}],"state_name":"Up"},"status":{}},
	 {"store":{"id":2,"address":"10.0.1.9:20160","state":2,"state_name":"Tombstone"},"status":{}},
	 {"store":{"id":1,"address":"10.0.1.17:20160","status_address":"10.0.1.17:20180","labels":[{"key":"zone","value":"z1"}],"version":"8.5.2","deploy_path":"/tidb-deploy/tikv-20160/bin","state_name":"Disconnected"},"status":{}}]}`
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	nodes := FromPD(raw.Stores)
	if len(nodes) != 1 {
		t.Fatalf("got %d nodes, want only the TiKV non-tombstone store: %+v", len(nodes), nodes)
	}
	n := nodes[0]
	if n.StoreID != 1 || n.Host != "10.0.1.17" || n.Port != 20160 || n.StatusPort != 20180 ||
		n.DeployDir != "/tidb-deploy/tikv-20160" || n.Labels["zone"] != "z1" || n.StateName != "Disconnected" || n.TiUPManaged {
		t.Errorf("node = %+v", n)
	}
}

func TestEnrichOwnFixture(t *testing.T) {
	m, err := LoadMeta("testdata/meta-labroom-shape.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.User != "tidb" || m.TiDBVersion != "v8.5.2" || len(m.TiKVServers) != 3 {
		t.Fatalf("meta = %+v", m)
	}
	nodes := FromPD(stores(t, "172.16.5.11:20160", "172.16.5.12:20160", "172.16.5.13:20161", "172.16.5.99:20160"))
	warn, err := m.Enrich(nodes, []string{"http://172.16.5.11:2379"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Host: "172.16.5.11", SSHPort: 22, SSHUser: "tidb", DeployDir: "/data/tidb-deploy/tikv-20160",
			DataDir: "/data/tidb-data/tikv-20160", LogDir: "/data/tidb-deploy/tikv-20160/log",
			LogFile: "/data/tidb-deploy/tikv-20160/log/tikv.log", ConfigPath: "/data/tidb-deploy/tikv-20160/conf/tikv.toml",
			ServiceName: "tikv-20160.service", Port: 20160, StatusPort: 20180},
		{Host: "10.99.0.12", SSHPort: 2202, SSHUser: "tidb", DeployDir: "/data/tidb-deploy/tikv-20160",
			DataDir: "/data/tidb-data/tikv-20160", LogDir: "/data/tidb-deploy/tikv-20160/log",
			LogFile: "/data/tidb-deploy/tikv-20160/log/tikv.log", ConfigPath: "/data/tidb-deploy/tikv-20160/conf/tikv.toml",
			ServiceName: "tikv-20160.service", Port: 20160, StatusPort: 20180},
		{Host: "172.16.5.13", SSHPort: 22, SSHUser: "tidb", DeployDir: "/home/tidb/tikv-20161",
			DataDir: "/home/tidb/tikv-20161/tikv-data", LogDir: "/home/tidb/tikv-20161/logs",
			LogFile: "/home/tidb/tikv-20161/logs/tikv.log", ConfigPath: "/home/tidb/tikv-20161/conf/tikv.toml",
			ServiceName: "tikv-20161.service", Port: 20161, StatusPort: 20181},
	}
	for i, w := range want {
		n := nodes[i]
		if !n.TiUPManaged || n.Host != w.Host || n.SSHPort != w.SSHPort || n.SSHUser != w.SSHUser ||
			n.DeployDir != w.DeployDir || n.DataDir != w.DataDir || n.LogDir != w.LogDir || n.LogFile != w.LogFile ||
			n.ConfigPath != w.ConfigPath || n.ServiceName != w.ServiceName || n.Port != w.Port ||
			n.StatusPort != w.StatusPort || n.SystemdMode != "system" {
			t.Errorf("node %d:\n got %+v\nwant %+v", i, n, w)
		}
	}
	if nodes[3].TiUPManaged || len(warn) != 1 || !strings.Contains(warn[0], "172.16.5.99:20160") {
		t.Errorf("unmanaged store: %+v, warnings %v", nodes[3], warn)
	}
	enc := m.EncryptionKeys()
	if enc["security.encryption.data-encryption-method"] != "aes256-ctr" ||
		enc["security.encryption.master-key.type"] != "file" ||
		enc["security.encryption.data-key-rotation-period"] != "7d" || len(enc) != 4 {
		t.Errorf("encryption keys = %v", enc)
	}
	if cfg := m.TiKVConfig(m.TiKVServers[0]); cfg["server.labels.host"] != "rack-a-1" || cfg["readpool.storage.use-unified-pool"] != false {
		t.Errorf("instance config = %v", cfg)
	}
}

func TestUpstreamTopologies(t *testing.T) {
	cases := []struct {
		file    string
		addrs   []string
		deploy  string
		data    string
		log     string
		user    string
		labelOK func(m *Meta) bool
	}{
		{"minimal.yaml", []string{"10.0.1.17:20160", "10.0.1.18:20160", "10.0.1.19:20160"},
			"/tidb-deploy/tikv-20160", "/tidb-data/tikv-20160", "/tidb-deploy/tikv-20160/log", "tidb", nil},
		{"multi-dc.yaml", []string{"10.0.1.19:20160", "10.0.1.20:20160"},
			"/tidb-deploy/tikv-20160", "/tidb-data/tikv-20160", "/tidb-deploy/tikv-20160/log", "tidb",
			func(m *Meta) bool {
				c := m.TiKVConfig(m.TiKVServers[0])
				return c["server.labels.zone"] == "bj" && c["server.labels.dc"] == "bja" && c["server.grpc-compression-type"] == "gzip"
			}},
		{"topology.example.yaml", []string{"10.0.1.16:20161", "10.0.1.17:20160"},
			"/data2/tidb-deploy/tikv-20161", "/data2/tidb-data/tikv-20161", "/data2/tidb-deploy/tikv-20161/log", "tidb", nil},
		{"edit-config-shape.yaml", []string{"10.0.3.18:20160", "10.0.3.20:20160"},
			"/data/tidb-deploy/tikv-20160", "/data/tidb-data/tikv-20160", "/data/tidb-deploy/tikv-20160/log", "root",
			func(m *Meta) bool { return m.TiKVConfig(m.TiKVServers[2])["server.labels.host"] == "lab-3" }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			m, err := ParseMeta(tc.file, upstream(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			nodes := FromPD(stores(t, tc.addrs...))
			if _, err := m.Enrich(nodes, nil); err != nil {
				t.Fatal(err)
			}
			n := nodes[0]
			if !n.TiUPManaged || n.DeployDir != tc.deploy || n.DataDir != tc.data || n.LogDir != tc.log || n.SSHUser != tc.user || n.SSHPort != 22 {
				t.Errorf("node = %+v", n)
			}
			if tc.labelOK != nil && !tc.labelOK(m) {
				t.Errorf("instance config not read: %v", m.TiKVConfig(m.TiKVServers[0]))
			}
			if len(m.EncryptionKeys()) != 0 {
				t.Errorf("upstream has no encryption keys, got %v", m.EncryptionKeys())
			}
		})
	}
}

func TestMetaOfAnotherCluster(t *testing.T) {
	m, err := ParseMeta("other/meta.yaml", upstream(t, "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Enrich(FromPD(stores(t, "192.168.9.1:20160")), nil)
	if err == nil || !strings.Contains(err.Error(), "other/meta.yaml") || !strings.Contains(err.Error(), "another cluster") {
		t.Fatalf("err = %v", err)
	}
	_, err = m.Enrich(FromPD(stores(t, "10.0.1.17:20160")), []string{"http://192.168.9.9:2379"})
	if err == nil || !strings.Contains(err.Error(), "pd_servers") || !strings.Contains(err.Error(), "other/meta.yaml") {
		t.Fatalf("pd mismatch err = %v", err)
	}
}

func TestMetaParseErrors(t *testing.T) {
	_, err := ParseMeta("bad.yaml", []byte("global:\n  user: tidb\n tikv_servers: [\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "parsing bad.yaml:") || !strings.Contains(err.Error(), "bad.yaml:2") {
		t.Errorf("syntax err = %v", err)
	}
	_, err = ParseMeta("typed.yaml", []byte("tikv_servers:\n- host: a\n  port: twenty\n"))
	if err == nil || !strings.Contains(err.Error(), "typed.yaml:3") {
		t.Errorf("type err = %v", err)
	}
	_, err = ParseMeta("nohost.yaml", []byte("tikv_servers:\n- port: 20160\n"))
	if err == nil || !strings.Contains(err.Error(), "nohost.yaml:2") {
		t.Errorf("no host err = %v", err)
	}
	if _, err := LoadMeta("testdata/absent.yaml"); err == nil || !strings.Contains(err.Error(), "testdata/absent.yaml") {
		t.Errorf("missing file err = %v", err)
	}
}

func TestResolveTiUPMeta(t *testing.T) {
	t.Setenv(envTiUPComponentDir, "")
	t.Setenv(envTiUPHome, "/opt/tiup")
	p, err := ResolveTiUPMeta("prod")
	if err != nil || p != "/opt/tiup/storage/cluster/clusters/prod/meta.yaml" {
		t.Errorf("TIUP_HOME: %q, %v", p, err)
	}
	t.Setenv(envTiUPComponentDir, "/srv/tiup-cluster")
	if p, _ := ResolveTiUPMeta("prod"); p != "/srv/tiup-cluster/clusters/prod/meta.yaml" {
		t.Errorf("TIUP_COMPONENT_DATA_DIR: %q", p)
	}
	t.Setenv(envTiUPComponentDir, "")
	t.Setenv(envTiUPHome, "")
	t.Setenv("HOME", "/home/ops")
	if p, _ := ResolveTiUPMeta("prod"); p != "/home/ops/.tiup/storage/cluster/clusters/prod/meta.yaml" {
		t.Errorf("default: %q", p)
	}
	if _, err := ResolveTiUPMeta("../x"); err == nil {
		t.Error("path in cluster name accepted")
	}
}

func TestManualInventory(t *testing.T) {
	nodes := FromPD(stores(t, "10.0.1.17:20160", "10.0.1.18:20160", "10.0.1.19:20160"))
	m, err := LoadManual("testdata/manual-inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(nodes); err != nil {
		t.Fatal(err)
	}
	a, b, c := nodes[0], nodes[1], nodes[2]
	if a.Host != "10.0.1.17" || a.SSHUser != "tidb" || a.SSHPort != 22 || a.ConfigPath != "/etc/tikv/tikv.toml" ||
		a.DataDir != "/var/lib/tikv" || a.LogFile != "/var/log/tikv/tikv.log" || a.LogDir != "/var/log/tikv" || a.ServiceName != "tikv.service" {
		t.Errorf("store 1 = %+v", a)
	}
	if b.Host != "bastion-2.example" || b.SSHPort != 2222 || b.SSHUser != "ops" || b.RestartCommand != "sudo /usr/local/bin/restart-tikv" || b.ServiceName != "" {
		t.Errorf("store 2 = %+v", b)
	}
	if c.SSHUser != "tidb" || c.SSHPort != 22 || c.ConfigPath != "" {
		t.Errorf("store 3 (defaults only) = %+v", c)
	}
}

func TestManualUnknownStore(t *testing.T) {
	nodes := FromPD(stores(t, "10.0.1.17:20160"))
	m, err := LoadManual("testdata/manual-inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	err = m.Apply(nodes)
	if err == nil || !strings.Contains(err.Error(), "testdata/manual-inventory.toml:14:") || !strings.Contains(err.Error(), "10.0.1.18:20160") {
		t.Fatalf("err = %v, want file:line and the address", err)
	}
}

func TestManualErrors(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"syntax":    {"[[store]]\naddress = \"a:1\n", "inv.toml:2"},
		"unknown":   {"[[store]]\naddress = \"a:1\"\nsshhost = \"x\"\n", `inv.toml:3: unknown key "store.sshhost"`},
		"noaddr":    {"[defaults]\nssh_user = \"x\"\n\n[[store]]\nssh_host = \"x\"\n", "inv.toml:4: [[store]] has no address"},
		"dup":       {"[[store]]\naddress = \"a:1\"\n[[store]]\naddress = \"a:1\"\n", "inv.toml:3: store a:1 is listed twice"},
		"both":      {"[[store]]\naddress = \"a:1\"\nservice_name = \"x\"\nrestart_command = \"y\"\n", "keep one"},
		"wrongtype": {"[[store]]\naddress = \"a:1\"\nssh_port = \"22\"\n", "inv.toml:3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseManual("inv.toml", []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envTiUPComponentDir, dir)
	clusterDir := filepath.Join(dir, "clusters", "lab")
	if err := os.MkdirAll(clusterDir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile("testdata/meta-labroom-shape.yaml")
	if err := os.WriteFile(filepath.Join(clusterDir, "meta.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := Build(stores(t, "172.16.5.11:20160", "172.16.5.12:20160"), Sources{TiUPCluster: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Meta == nil || !inv.Nodes[0].TiUPManaged || inv.Nodes[1].Host != "10.99.0.12" {
		t.Errorf("inventory = %+v", inv.Nodes)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "172.16.5.13:20161") {
		t.Errorf("warnings = %v", inv.Warnings)
	}
	if _, err := Build(nil, Sources{}); err == nil {
		t.Error("no stores: no error")
	}
}
