package inventory

import (
	"fmt"

	"github.com/tikv-ear/tikv-ear/cluster/pd"
)

// Sources names the optional inputs layered over PD's stores.
type Sources struct {
	MetaPath     string   // a TiUP meta.yaml (or topology) file
	TiUPCluster  string   // a TiUP cluster name, resolved with ResolveTiUPMeta (ignored when MetaPath is set)
	ManualPath   string   // a manual inventory TOML file
	PDClientURLs []string // PD members' client URLs, to check meta.yaml's pd_servers (optional)
}

// Inventory is the joined result.
type Inventory struct {
	Nodes    []Node   // sorted by store id
	Meta     *Meta    // nil without a TiUP source
	Manual   *Manual  // nil without a manual file
	Warnings []string // partial mismatches worth showing (never fatal)
}

// Build joins PD stores, then the TiUP meta (if any), then the manual file (if any).
func Build(stores []pd.StoreInfo, src Sources) (*Inventory, error) {
	inv := &Inventory{Nodes: FromPD(stores)}
	if len(inv.Nodes) == 0 {
		return nil, fmt.Errorf("inventory: PD lists no TiKV store")
	}
	metaPath := src.MetaPath
	if metaPath == "" && src.TiUPCluster != "" {
		p, err := ResolveTiUPMeta(src.TiUPCluster)
		if err != nil {
			return nil, err
		}
		metaPath = p
	}
	if metaPath != "" {
		m, err := LoadMeta(metaPath)
		if err != nil {
			return nil, err
		}
		w, err := m.Enrich(inv.Nodes, src.PDClientURLs)
		if err != nil {
			return nil, err
		}
		inv.Meta, inv.Warnings = m, append(inv.Warnings, w...)
	}
	if src.ManualPath != "" {
		man, err := LoadManual(src.ManualPath)
		if err != nil {
			return nil, err
		}
		if err := man.Apply(inv.Nodes); err != nil {
			return nil, err
		}
		inv.Manual = man
	}
	return inv, nil
}
