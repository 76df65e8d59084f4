package inventory

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// TiUP layout facts (reference pd-and-tiup.md §3; pingcap/tiup pkg/cluster/spec).
const (
	tiupMetaFile        = "meta.yaml"               // spec_manager.go metaFileName
	tiupDefaultUser     = "tidb"                    // GlobalOptions.User default
	tiupDefaultSSHPort  = 22                        // GlobalOptions.SSHPort default
	tiupDefaultDeploy   = "deploy"                  // GlobalOptions.DeployDir default
	tiupDefaultData     = "data"                    // GlobalOptions.DataDir default
	tiupDefaultLog      = "log"                     // instance.go LogDir default
	tiupTiKVPort        = 20160                     // TiKVSpec.Port default
	tiupTiKVStatusPort  = 20180                     // TiKVSpec.StatusPort default
	tiupTiKVRole        = "tikv"                    // role name in <role>-<port> dirs and units
	tiupTiKVConfig      = "conf/tikv.toml"          // tikv.go InitConfig
	tiupTiKVLogFile     = "tikv.log"                // run_tikv.sh.tpl --log-file "<log_dir>/tikv.log"
	tiupHomePrefix      = "/home"                   // util.go Abs: relative → /home/<user>/<path>
	envTiUPHome         = "TIUP_HOME"               // profile.go Initialize
	envTiUPComponentDir = "TIUP_COMPONENT_DATA_DIR" // profile.go Initialize
)

// Meta is a parsed TiUP meta.yaml (ClusterMeta: user, tidb_version, topology)
// or a bare topology file (what `tiup cluster edit-config` shows and
// `tiup cluster template` prints).
type Meta struct {
	Path        string // file it came from, for errors
	User        string // meta.yaml top-level user ("" for a bare topology)
	TiDBVersion string // meta.yaml tidb_version

	Global      Global
	TiKVServers []TiKVServer
	PDServers   []PDServer
	// ServerConfigTiKV is server_configs.tikv flattened to dotted keys
	// ("security.encryption.data-encryption-method").
	ServerConfigTiKV map[string]any
}

// Global is topology.global (spec.go GlobalOptions) with TiUP's defaults applied.
type Global struct {
	User        string `yaml:"user"`
	SSHPort     int    `yaml:"ssh_port"`
	DeployDir   string `yaml:"deploy_dir"`
	DataDir     string `yaml:"data_dir"`
	LogDir      string `yaml:"log_dir"`
	SystemdMode string `yaml:"systemd_mode"`
	EnableTLS   bool   `yaml:"enable_tls"`
}

// TiKVServer is one tikv_servers entry (tikv.go TiKVSpec) as written, plus its line.
type TiKVServer struct {
	Host                string         `yaml:"host"`
	ManageHost          string         `yaml:"manage_host"`
	AdvertiseAddr       string         `yaml:"advertise_addr"`
	SSHPort             int            `yaml:"ssh_port"`
	Port                int            `yaml:"port"`
	StatusPort          int            `yaml:"status_port"`
	AdvertiseStatusAddr string         `yaml:"advertise_status_addr"`
	DeployDir           string         `yaml:"deploy_dir"`
	DataDir             string         `yaml:"data_dir"`
	LogDir              string         `yaml:"log_dir"`
	Offline             bool           `yaml:"offline"`
	Config              map[string]any `yaml:"config"`
	Line                int            `yaml:"-"`
}

// PDServer is one pd_servers entry (pd.go PDSpec).
type PDServer struct {
	Host       string `yaml:"host"`
	ClientPort int    `yaml:"client_port"`
	Line       int    `yaml:"-"`
}

// Address is the store address TiUP matches in PD: advertise_addr, else host:port.
func (s TiKVServer) Address() string {
	if s.AdvertiseAddr != "" {
		return s.AdvertiseAddr
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.port()))
}

func (s TiKVServer) port() int {
	if s.Port == 0 {
		return tiupTiKVPort
	}
	return s.Port
}

func (s TiKVServer) statusPort() int {
	if s.StatusPort == 0 {
		return tiupTiKVStatusPort
	}
	return s.StatusPort
}

// ResolveTiUPMeta returns the meta.yaml of TiUP cluster name:
// $TIUP_COMPONENT_DATA_DIR/clusters/<name>/meta.yaml when that is set, else
// $TIUP_HOME/storage/cluster/clusters/<name>/meta.yaml, else
// ~/.tiup/storage/cluster/clusters/<name>/meta.yaml (profile.go Initialize).
func ResolveTiUPMeta(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("tiup cluster name %q: want the name shown by `tiup cluster list`", name)
	}
	return filepath.Join(tiupClusterDir(), "clusters", name, tiupMetaFile), nil
}

// TiUPClusterDir returns the directory of TiUP cluster name (meta.yaml, tls/, ssh/ live there).
func TiUPClusterDir(name string) (string, error) {
	p, err := ResolveTiUPMeta(name)
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

func tiupClusterDir() string {
	if d := os.Getenv(envTiUPComponentDir); d != "" {
		return d
	}
	home := os.Getenv(envTiUPHome)
	if home == "" {
		userHome, err := os.UserHomeDir()
		if err != nil {
			userHome = "~"
		}
		home = filepath.Join(userHome, ".tiup")
	}
	return filepath.Join(home, "storage", "cluster")
}

// LoadMeta reads and parses a meta.yaml or topology file.
func LoadMeta(path string) (*Meta, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading tiup meta %s: file not found (check --tiup-cluster or --tiup-meta; `tiup cluster list` shows the names)", path)
		}
		return nil, fmt.Errorf("reading tiup meta %s: %w", path, err)
	}
	return ParseMeta(path, data)
}

// ParseMeta parses meta.yaml (or bare topology) content; path is used in errors.
func ParseMeta(path string, data []byte) (*Meta, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(path, err)
	}
	m := &Meta{Path: path}
	root := docRoot(&doc)
	if root == nil {
		return nil, fmt.Errorf("%s: empty file: want a TiUP meta.yaml or topology", path)
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a YAML mapping (TiUP meta.yaml or topology)", path, root.Line)
	}
	topo := root
	if t := mapGet(root, "topology"); t != nil {
		var top struct {
			User        string `yaml:"user"`
			TiDBVersion string `yaml:"tidb_version"`
		}
		if err := root.Decode(&top); err != nil {
			return nil, yamlError(path, err)
		}
		m.User, m.TiDBVersion = top.User, top.TiDBVersion
		topo = t
		if topo.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: topology: want a mapping", path, topo.Line)
		}
	}
	if g := mapGet(topo, "global"); g != nil {
		if err := g.Decode(&m.Global); err != nil {
			return nil, yamlError(path, err)
		}
	}
	if m.Global.User == "" {
		m.Global.User = tiupDefaultUser
	}
	if m.Global.SSHPort == 0 {
		m.Global.SSHPort = tiupDefaultSSHPort
	}
	if m.Global.DeployDir == "" {
		m.Global.DeployDir = tiupDefaultDeploy
	}
	if m.Global.DataDir == "" {
		m.Global.DataDir = tiupDefaultData
	}
	if seq := mapGet(topo, "tikv_servers"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, item := range seq.Content {
			var s TiKVServer
			if err := item.Decode(&s); err != nil {
				return nil, yamlError(path, err)
			}
			s.Line = item.Line
			if s.Host == "" {
				return nil, fmt.Errorf("%s:%d: tikv_servers entry has no host", path, item.Line)
			}
			m.TiKVServers = append(m.TiKVServers, s)
		}
	}
	if seq := mapGet(topo, "pd_servers"); seq != nil && seq.Kind == yaml.SequenceNode {
		for _, item := range seq.Content {
			var s PDServer
			if err := item.Decode(&s); err != nil {
				return nil, yamlError(path, err)
			}
			s.Line = item.Line
			m.PDServers = append(m.PDServers, s)
		}
	}
	m.ServerConfigTiKV = map[string]any{}
	if sc := mapGet(topo, "server_configs"); sc != nil {
		if tk := mapGet(sc, "tikv"); tk != nil && tk.Kind == yaml.MappingNode {
			var raw map[string]any
			if err := tk.Decode(&raw); err != nil {
				return nil, yamlError(path, err)
			}
			flatten("", raw, m.ServerConfigTiKV)
		}
	}
	return m, nil
}

// TiKVConfig returns the effective TiUP config for one tikv_servers entry:
// server_configs.tikv overlaid by the instance's config (instance values win,
// spec/server_config.go Merge2Toml), as flat dotted keys.
func (m *Meta) TiKVConfig(s TiKVServer) map[string]any {
	out := make(map[string]any, len(m.ServerConfigTiKV))
	for k, v := range m.ServerConfigTiKV {
		out[k] = v
	}
	flatten("", s.Config, out)
	return out
}

// EncryptionKeys returns the security.encryption.* keys of server_configs.tikv.
func (m *Meta) EncryptionKeys() map[string]any {
	return withPrefix(m.ServerConfigTiKV, EncryptionPrefix)
}

// EncryptionPrefix is the TOML path of TiKV's encryption section (tikv config [security.encryption]).
const EncryptionPrefix = "security.encryption"

func withPrefix(in map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		if k == prefix || strings.HasPrefix(k, prefix+".") {
			out[k] = v
		}
	}
	return out
}

// flatten turns nested maps into dotted keys; TiUP accepts both spellings.
func flatten(prefix string, in map[string]any, out map[string]any) {
	for k, v := range in {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// Path defaults of a TiKV instance (spec.go setCustomDefaults, util.go Abs, instance.go DataDir/LogDir).

func (m *Meta) deployDir(s TiKVServer) string {
	d := s.DeployDir
	if d == "" {
		d = filepath.Join(m.Global.DeployDir, fmt.Sprintf("%s-%d", tiupTiKVRole, s.port()))
	}
	return m.abs(d)
}

func (m *Meta) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return filepath.Clean(p)
	}
	return filepath.Join(tiupHomePrefix, m.Global.User, p)
}

func (m *Meta) dataDir(s TiKVServer, deploy string) string {
	d := s.DataDir
	if d == "" {
		if strings.HasPrefix(m.Global.DataDir, "/") {
			d = filepath.Join(m.Global.DataDir, fmt.Sprintf("%s-%d", tiupTiKVRole, s.port()))
		} else {
			d = m.Global.DataDir
		}
	}
	if !strings.HasPrefix(d, "/") {
		d = filepath.Join(deploy, d)
	}
	return filepath.Clean(d)
}

func (m *Meta) logDir(s TiKVServer, deploy string) string {
	d := s.LogDir
	if d == "" {
		d = m.Global.LogDir
	}
	if d == "" {
		d = tiupDefaultLog
	}
	if !strings.HasPrefix(d, "/") {
		d = filepath.Join(deploy, d)
	}
	return filepath.Clean(d)
}

// apply fills n from tikv_servers entry s.
func (m *Meta) apply(n *Node, s TiKVServer) {
	n.TiUPManaged = true
	n.Host = s.Host
	if s.ManageHost != "" {
		n.Host = s.ManageHost
	}
	n.SSHPort = s.SSHPort
	if n.SSHPort == 0 {
		n.SSHPort = m.Global.SSHPort
	}
	n.SSHUser = m.Global.User
	n.Port = s.port()
	n.StatusPort = s.statusPort()
	if n.StatusAddress == "" {
		if s.AdvertiseStatusAddr != "" {
			n.StatusAddress = s.AdvertiseStatusAddr
		} else {
			n.StatusAddress = net.JoinHostPort(s.Host, strconv.Itoa(n.StatusPort))
		}
	}
	n.DeployDir = m.deployDir(s)
	n.DataDir = m.dataDir(s, n.DeployDir)
	n.LogDir = m.logDir(s, n.DeployDir)
	n.LogFile = filepath.Join(n.LogDir, tiupTiKVLogFile)
	n.ConfigPath = filepath.Join(n.DeployDir, tiupTiKVConfig)
	n.ServiceName = fmt.Sprintf("%s-%d.service", tiupTiKVRole, n.Port)
	n.SystemdMode = m.Global.SystemdMode
	if n.SystemdMode == "" {
		n.SystemdMode = "system"
	}
}

// Enrich matches nodes to tikv_servers by store address (advertise_addr, else
// host:port, as TiUP's GetCurrentStore does) and fills TiUP's paths. It fails
// when no entry matches any store (the file describes another cluster) and
// when the meta's pd_servers share no address with pdClientURLs (if given).
// Entries without a store and stores without an entry come back as warnings.
func (m *Meta) Enrich(nodes []Node, pdClientURLs []string) (warnings []string, err error) {
	if len(pdClientURLs) > 0 && len(m.PDServers) > 0 && !m.pdOverlap(pdClientURLs) {
		var hosts []string
		for _, p := range m.PDServers {
			hosts = append(hosts, m.pdAddr(p))
		}
		return nil, fmt.Errorf("%s: pd_servers %s are not members of the PD cluster at %s: this meta.yaml belongs to another cluster (check --tiup-cluster / --tiup-meta and --pd)",
			m.Path, strings.Join(hosts, ","), strings.Join(pdClientURLs, ","))
	}
	byAddr := map[string]int{}
	for i, n := range nodes {
		byAddr[n.Address] = i
	}
	matched := 0
	seen := map[int]bool{}
	for _, s := range m.TiKVServers {
		i, ok := byAddr[s.Address()]
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s:%d: tikv_servers entry %s has no store in PD (not started, or scaled in)", m.Path, s.Line, s.Address()))
			continue
		}
		m.apply(&nodes[i], s)
		seen[i] = true
		matched++
	}
	if len(nodes) > 0 && matched == 0 {
		var addrs []string
		for _, n := range nodes {
			addrs = append(addrs, n.Address)
		}
		return nil, fmt.Errorf("%s: no tikv_servers entry matches a PD store (PD has %s): this meta.yaml belongs to another cluster (check --tiup-cluster / --tiup-meta and --pd)",
			m.Path, strings.Join(addrs, ", "))
	}
	for i, n := range nodes {
		if !seen[i] {
			warnings = append(warnings, fmt.Sprintf("%s: store %d (%s) is not in tikv_servers: it is not managed by this TiUP cluster", m.Path, n.StoreID, n.Address))
		}
	}
	return warnings, nil
}

func (m *Meta) pdAddr(p PDServer) string {
	port := p.ClientPort
	if port == 0 {
		port = 2379 // PDSpec.ClientPort default (pingcap/tiup spec/pd.go)
	}
	return net.JoinHostPort(p.Host, strconv.Itoa(port))
}

func (m *Meta) pdOverlap(urls []string) bool {
	want := map[string]bool{}
	for _, p := range m.PDServers {
		want[m.pdAddr(p)] = true
	}
	for _, u := range urls {
		u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		u = strings.TrimRight(u, "/")
		if want[u] {
			return true
		}
	}
	return false
}

// yamlError rewrites yaml.v3's "yaml: line N: msg" as "path:N: msg".
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var parts []string
		for _, e := range te.Errors {
			parts = append(parts, path+":"+strings.TrimPrefix(e, "line "))
		}
		sort.Strings(parts)
		return fmt.Errorf("parsing %s: %s", path, strings.Join(parts, "; "))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		return fmt.Errorf("parsing %s:%s", path, rest)
	}
	return fmt.Errorf("parsing %s: %s", path, msg)
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return doc
}

// mapGet returns the value node of key in mapping m, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
