package sim

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
	"github.com/tikv-ear/tikv-ear/sim/host"
)

// Names of the files Start writes into Options.Dir.
const (
	EnvFileName        = "sim.env"
	SSHConfigFileName  = "ssh_config"
	KnownHostsFileName = "known_hosts"
	IdentityFileName   = "id_ed25519"
)

// Keys of sim.env.
const (
	EnvPD         = "TIKV_EAR_SIM_PD"          // comma-separated PD URLs
	EnvSSHConfig  = "TIKV_EAR_SIM_SSH_CONFIG"  // ssh_config path
	EnvKnownHosts = "TIKV_EAR_SIM_KNOWN_HOSTS" // known_hosts path
	EnvIdentity   = "TIKV_EAR_SIM_IDENTITY"    // operator private key path
	EnvMeta       = "TIKV_EAR_SIM_META"        // TiUP meta.yaml path ("" for the systemd layout)
	EnvControl    = "TIKV_EAR_SIM_CONTROL"     // control server URL
	EnvLayout     = "TIKV_EAR_SIM_LAYOUT"      // tiup or systemd
	EnvKMS        = "TIKV_EAR_SIM_KMS"         // KMS endpoint, if one was given
)

// Env is what sim.env records: how a second process reaches the sim.
type Env struct {
	Dir        string
	PDURLs     []string
	SSHConfig  string
	KnownHosts string
	Identity   string
	Meta       string
	Control    string
	Layout     string
	KMS        string
}

// File returns the path of sim.env.
func (e Env) File() string { return filepath.Join(e.Dir, EnvFileName) }

func (e Env) pairs() [][2]string {
	return [][2]string{
		{EnvPD, strings.Join(e.PDURLs, ",")},
		{EnvSSHConfig, e.SSHConfig},
		{EnvKnownHosts, e.KnownHosts},
		{EnvIdentity, e.Identity},
		{EnvMeta, e.Meta},
		{EnvControl, e.Control},
		{EnvLayout, e.Layout},
		{EnvKMS, e.KMS},
	}
}

// writeFiles writes the operator key, known_hosts, ssh_config, the TiUP
// control dir (TiUP layout) and sim.env.
func (c *Cluster) writeFiles(key host.OperatorKey) error {
	dir := c.opt.Dir
	e := Env{
		Dir: dir, PDURLs: c.pdURLs, Control: c.control, Layout: c.opt.Layout, KMS: c.opt.KMSEndpoint,
		SSHConfig:  filepath.Join(dir, SSHConfigFileName),
		KnownHosts: filepath.Join(dir, KnownHostsFileName),
		Identity:   filepath.Join(dir, IdentityFileName),
	}
	if err := key.WriteKeyPair(e.Identity); err != nil {
		return err
	}
	var kh, cfg strings.Builder
	fmt.Fprintf(&cfg, "# ssh_config of the tikv-ear simulated cluster: ssh -F %s <node> <command>\n", e.SSHConfig)
	for _, n := range c.nodes {
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(n.Host.Addr())}, n.Host.HostKey()) + "\n")
		fmt.Fprintf(&cfg, "\nHost %s %s\n", n.Name, n.Host.Name())
		fmt.Fprintf(&cfg, "  HostName 127.0.0.1\n  Port %d\n  User %s\n", n.Host.Port(), User)
		fmt.Fprintf(&cfg, "  IdentityFile %s\n  IdentitiesOnly yes\n", e.Identity)
		fmt.Fprintf(&cfg, "  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n", e.KnownHosts)
		cfg.WriteString("  PasswordAuthentication no\n  BatchMode yes\n")
	}
	if err := writeFile(e.KnownHosts, kh.String(), 0o644); err != nil {
		return err
	}
	if err := writeFile(e.SSHConfig, cfg.String(), 0o644); err != nil {
		return err
	}
	if c.opt.Layout == host.LayoutTiUP {
		meta, err := c.writeTiUPDir(key)
		if err != nil {
			return err
		}
		e.Meta = meta
	} else if err := c.writeInventory(filepath.Join(dir, InventoryFileName)); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# tikv-ear simulated cluster; source this file from sh or pass --dir to tikv-ear sim fault\n")
	for _, p := range e.pairs() {
		fmt.Fprintf(&b, "%s=%s\n", p[0], shquote.Always(p[1]))
	}
	if err := writeFile(e.File(), b.String(), 0o644); err != nil {
		return err
	}
	c.env = e
	return nil
}

// InventoryFileName is the manual inventory (cluster/inventory's TOML schema)
// the sim writes for the hand-made systemd layout, which has no meta.yaml.
const InventoryFileName = "inventory.toml"

// writeInventory describes every node the way an operator of a cluster TiUP
// does not manage would: ssh target, paths and the systemd unit.
func (c *Cluster) writeInventory(path string) error {
	var b strings.Builder
	b.WriteString("# manual inventory of the tikv-ear simulated cluster (systemd layout)\n")
	fmt.Fprintf(&b, "[defaults]\nssh_user = %q\n", User)
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "\n[[store]]\naddress = %q\nssh_host = \"127.0.0.1\"\nssh_port = %d\n", n.Addr(), n.Host.Port())
		fmt.Fprintf(&b, "config_path = %q\ndata_dir = %q\nlog_file = %q\nservice_name = %q\n", n.Paths.ConfigPath, n.Paths.DataDir, n.Paths.LogFile, n.Paths.UnitName)
	}
	return writeFile(path, b.String(), 0o644)
}

// writeTiUPDir writes <Dir>/tiup/storage/cluster/clusters/<name>/{meta.yaml,ssh/id_rsa,ssh/id_rsa.pub}.
func (c *Cluster) writeTiUPDir(key host.OperatorKey) (string, error) {
	cdir := host.ClusterDir(filepath.Join(c.opt.Dir, "tiup"), ClusterName)
	meta := host.ClusterMeta{
		User: User, TiDBVersion: "v" + strings.TrimPrefix(c.opt.Versions[0], "v"),
		Topology: host.Topology{
			Global: host.GlobalOptions{User: User, SSHPort: 22, SSHType: "builtin", DeployDir: "deploy", DataDir: "data",
				OS: "linux", Arch: "amd64", SystemdMode: "system"},
			ServerConfigs: map[string]map[string]any{
				"tikv": {},
				"pd":   {"replication.location-labels": []string{"zone", "host"}},
			},
		},
	}
	for _, n := range c.nodes {
		meta.Topology.TiKVServers = append(meta.Topology.TiKVServers, host.TiKVSpec{
			Host: "127.0.0.1", SSHPort: n.Host.Port(), Port: n.Port, StatusPort: n.StatusPort,
			DeployDir: n.Paths.DeployDir, DataDir: n.Paths.DataDir, LogDir: n.Paths.LogDir,
			Config: map[string]any{"server.labels": map[string]string{"zone": n.Zone, "host": n.Host.Name()}},
			Arch:   "amd64", OS: "linux",
		})
	}
	for _, u := range c.pdURLs {
		port, _ := strconv.Atoi(u[strings.LastIndex(u, ":")+1:])
		meta.Topology.PDServers = append(meta.Topology.PDServers, host.PDSpec{
			Host: "127.0.0.1", Name: fmt.Sprintf("pd-127.0.0.1-%d", port), ClientPort: port, Arch: "amd64", OS: "linux",
		})
	}
	path, err := host.WriteMeta(cdir, meta)
	if err != nil {
		return "", err
	}
	if err := key.WriteKeyPair(filepath.Join(cdir, "ssh", "id_rsa")); err != nil {
		return "", err
	}
	return path, nil
}

func writeFile(path, text string, mode os.FileMode) error {
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ReadEnv reads D/sim.env as written by Start.
func ReadEnv(dir string) (Env, error) {
	path := filepath.Join(dir, EnvFileName)
	f, err := os.Open(path)
	if err != nil {
		return Env{}, fmt.Errorf("reading %s: %w (is `tikv-ear sim up --sim %s` running?)", path, err, dir)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return Env{}, fmt.Errorf("%s:%d: want KEY='value', got %q", path, line, text)
		}
		uq, err := shellUnquote(v)
		if err != nil {
			return Env{}, fmt.Errorf("%s:%d: key %s: %w", path, line, k, err)
		}
		vals[k] = uq
	}
	if err := sc.Err(); err != nil {
		return Env{}, fmt.Errorf("reading %s: %w", path, err)
	}
	e := Env{Dir: dir, SSHConfig: vals[EnvSSHConfig], KnownHosts: vals[EnvKnownHosts], Identity: vals[EnvIdentity],
		Meta: vals[EnvMeta], Control: vals[EnvControl], Layout: vals[EnvLayout], KMS: vals[EnvKMS]}
	if pds := vals[EnvPD]; pds != "" {
		e.PDURLs = strings.Split(pds, ",")
	}
	if e.Control == "" {
		return Env{}, fmt.Errorf("%s: key %s is missing: rewrite the file with `tikv-ear sim up --sim %s`", path, EnvControl, dir)
	}
	return e, nil
}

// shellUnquote undoes shellQuote (a sequence of single-quoted parts and \' escapes).
func shellUnquote(v string) (string, error) {
	var b strings.Builder
	for len(v) > 0 {
		switch {
		case v[0] == '\'':
			end := strings.IndexByte(v[1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated single quote")
			}
			b.WriteString(v[1 : 1+end])
			v = v[end+2:]
		case strings.HasPrefix(v, `\'`):
			b.WriteByte('\'')
			v = v[2:]
		default:
			return "", fmt.Errorf("value must be single-quoted, got %q", v)
		}
	}
	return b.String(), nil
}
