package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Manual is a manual inventory file, for clusters TiUP does not manage (or
// to override what meta.yaml says). The schema is TOML; unknown keys are
// errors. Every [[store]] is matched to a PD store by address; values left
// out keep what PD or meta.yaml gave, and [defaults] fills the rest.
//
//	# tikv-ear manual inventory
//	[defaults]
//	ssh_user = "tidb"          # ssh login user
//	ssh_port = 22              # ssh port
//
//	[[store]]
//	address = "10.0.1.17:20160"                # required: the PD store address (TiKV advertise-addr)
//	ssh_host = "10.0.1.17"                     # ssh target; default: the host of address
//	ssh_port = 2222                            # overrides [defaults]
//	ssh_user = "tikv"                          # overrides [defaults]
//	config_path = "/etc/tikv/tikv.toml"        # the tikv.toml TiKV is started with
//	data_dir = "/var/lib/tikv"                 # storage.data-dir
//	log_file = "/var/log/tikv/tikv.log"        # TiKV log file (log_dir is its directory)
//	deploy_dir = "/opt/tikv"                   # optional
//	service_name = "tikv.service"              # systemd unit to restart, or:
//	restart_command = "sudo /opt/tikv/restart" # a command run over ssh (not both)
//
// See testdata/manual-inventory.toml for a complete example.
type Manual struct {
	Path     string        `toml:"-"`
	Defaults ManualDefault `toml:"defaults"`
	Stores   []ManualStore `toml:"store"`
}

// ManualDefault is the [defaults] table.
type ManualDefault struct {
	SSHUser string `toml:"ssh_user"`
	SSHPort int    `toml:"ssh_port"`
}

// ManualStore is one [[store]] table.
type ManualStore struct {
	Address        string `toml:"address"`
	SSHHost        string `toml:"ssh_host"`
	SSHPort        int    `toml:"ssh_port"`
	SSHUser        string `toml:"ssh_user"`
	ConfigPath     string `toml:"config_path"`
	DataDir        string `toml:"data_dir"`
	LogFile        string `toml:"log_file"`
	DeployDir      string `toml:"deploy_dir"`
	ServiceName    string `toml:"service_name"`
	RestartCommand string `toml:"restart_command"`
	line           int
}

// LoadManual reads and validates a manual inventory file.
func LoadManual(path string) (*Manual, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading inventory %s: %w", path, err)
	}
	return ParseManual(path, data)
}

// ParseManual parses manual inventory content; path is used in errors.
func ParseManual(path string, data []byte) (*Manual, error) {
	m := &Manual{Path: path}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		var se *toml.StrictMissingError
		if errors.As(err, &se) && len(se.Errors) > 0 {
			var parts []string
			for _, e := range se.Errors {
				row, _ := e.Position()
				parts = append(parts, fmt.Sprintf("%s:%d: unknown key %q (see the schema in the inventory docs)", path, row, strings.Join(e.Key(), ".")))
			}
			return nil, fmt.Errorf("parsing %s: %s", path, strings.Join(parts, "; "))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("parsing %s:%d:%d: %s", path, row, col, de.Error())
		}
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	lines := storeLines(data)
	seen := map[string]int{}
	for i := range m.Stores {
		s := &m.Stores[i]
		if i < len(lines) {
			s.line = lines[i]
		}
		loc := fmt.Sprintf("%s:%d", path, s.line)
		if s.Address == "" {
			return nil, fmt.Errorf("%s: [[store]] has no address: set address = \"host:port\" as PD lists it", loc)
		}
		if prev, dup := seen[s.Address]; dup {
			return nil, fmt.Errorf("%s: store %s is listed twice (first at line %d)", loc, s.Address, prev)
		}
		seen[s.Address] = s.line
		if s.ServiceName != "" && s.RestartCommand != "" {
			return nil, fmt.Errorf("%s: store %s sets both service_name and restart_command: keep one", loc, s.Address)
		}
		if s.SSHPort < 0 || s.SSHPort > 65535 {
			return nil, fmt.Errorf("%s: store %s: ssh_port %d is not a port", loc, s.Address, s.SSHPort)
		}
	}
	return m, nil
}

// storeLines returns the 1-based line of each [[store]] header, in order.
func storeLines(data []byte) []int {
	var out []int
	for i, line := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "[[") && strings.TrimSpace(strings.Trim(t, "[]")) == "store" {
			out = append(out, i+1)
		}
	}
	return out
}

// Apply overlays the manual entries on nodes (matched by address) and fills
// ssh_user/ssh_port from [defaults] where still unknown. A store
// PD does not know is an error naming the file, the line and the address.
func (m *Manual) Apply(nodes []Node) error {
	byAddr := map[string]int{}
	for i, n := range nodes {
		byAddr[n.Address] = i
	}
	for _, s := range m.Stores {
		i, ok := byAddr[s.Address]
		if !ok {
			var known []string
			for _, n := range nodes {
				known = append(known, n.Address)
			}
			return fmt.Errorf("%s:%d: store %s is not a TiKV store in PD (PD has %s): fix the address or remove the entry",
				m.Path, s.line, s.Address, strings.Join(known, ", "))
		}
		n := &nodes[i]
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&n.Host, s.SSHHost)
		set(&n.SSHUser, s.SSHUser)
		set(&n.ConfigPath, s.ConfigPath)
		set(&n.DataDir, s.DataDir)
		set(&n.DeployDir, s.DeployDir)
		if s.LogFile != "" {
			n.LogFile = s.LogFile
			if i := strings.LastIndex(s.LogFile, "/"); i > 0 {
				n.LogDir = s.LogFile[:i]
			}
		}
		if s.ServiceName != "" {
			n.ServiceName, n.RestartCommand = s.ServiceName, ""
		}
		if s.RestartCommand != "" {
			n.RestartCommand, n.ServiceName = s.RestartCommand, ""
		}
		if s.SSHPort != 0 {
			n.SSHPort = s.SSHPort
		}
	}
	for i := range nodes {
		if nodes[i].SSHPort == 0 {
			nodes[i].SSHPort = m.Defaults.SSHPort
		}
		if nodes[i].SSHUser == "" {
			nodes[i].SSHUser = m.Defaults.SSHUser
		}
	}
	return nil
}

// String renders a store entry's location for messages.
func (s ManualStore) String() string { return s.Address + " (line " + strconv.Itoa(s.line) + ")" }
