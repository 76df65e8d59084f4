// Package inventory builds the list of TiKV nodes tikv-ear works on, from up
// to three sources layered in order: PD's stores (always; the truth about
// which stores exist), a TiUP meta.yaml (paths, ssh, service names under
// TiUP's defaults), and a manual inventory TOML file (overrides for clusters
// not managed by TiUP). It also reads and edits server_configs.tikv in a
// meta.yaml so `tiup cluster reload` keeps the encryption settings. It only
// parses and joins data: it never contacts PD (callers pass the stores) or a host.
package inventory

import (
	"net"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/pd"
)

// Node is one TiKV store and how to reach and operate it.
type Node struct {
	StoreID       uint64
	Address       string // PD store address (TiKV --advertise-addr), host:port
	StatusAddress string // TiKV status address, host:port

	Host    string // ssh target (TiUP manage_host, else host; else the address host)
	SSHPort int    // 0 = unknown (ssh's own default applies)
	SSHUser string // "" = unknown

	DeployDir      string
	DataDir        string
	LogDir         string
	LogFile        string // the TiKV log file (TiUP: <log_dir>/tikv.log)
	ConfigPath     string
	ServiceName    string // systemd unit, e.g. tikv-20160.service
	RestartCommand string // manual inventory alternative to ServiceName
	SystemdMode    string // TiUP global.systemd_mode: "system" or "user" ("" = unknown)

	Port       int
	StatusPort int
	Labels     map[string]string // PD store labels (zone, host, …)
	Version    string
	StateName  string // PD state_name: Up, Offline, Disconnected, Down…

	TiUPManaged bool // matched to a tikv_servers entry of a TiUP meta.yaml
}

// Label keys PD uses to mark the engine of a store (tikv/pd pkg/core/store.go
// EngineKey, EngineTiFlash, EngineTiKV). Stores with another engine are not TiKV.
const (
	labelEngine  = "engine"
	engineTiKV   = "tikv"
	binDirSuffix = "/bin"
)

// FromPD turns PD stores into nodes: TiFlash stores (label engine≠tikv) and
// Tombstone stores are skipped. Only what PD knows is filled: addresses,
// ports, labels, version, state, and DeployDir from deploy_path, which TiKV
// sets to the directory of its binary (tikv/tikv src/server/node.rs Node::new:
// current_exe().parent()), so a trailing /bin is removed (TiUP runs
// <deploy_dir>/bin/tikv-server). The result is sorted by store id.
func FromPD(stores []pd.StoreInfo) []Node {
	var nodes []Node
	for _, si := range stores {
		s := si.Store
		labels := s.LabelMap()
		if e, ok := labels[labelEngine]; ok && e != engineTiKV {
			continue
		}
		if s.StateName == pd.StateTombstone {
			continue
		}
		n := Node{
			StoreID:       s.Id,
			Address:       s.Address,
			StatusAddress: s.StatusAddress,
			Labels:        labels,
			Version:       s.Version,
			StateName:     s.StateName,
		}
		n.Host, n.Port = splitHostPort(s.Address)
		_, n.StatusPort = splitHostPort(s.StatusAddress)
		if dp := s.DeployPath; dp != "" {
			n.DeployDir = strings.TrimSuffix(path.Clean(dp), binDirSuffix)
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].StoreID < nodes[j].StoreID })
	return nodes
}

func splitHostPort(addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return h, port
}
