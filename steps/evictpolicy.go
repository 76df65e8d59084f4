package steps

import (
	"context"
	"slices"
)

// evictionSkippable decides from leaders, never from the plan's size, whether
// a store's eviction can be skipped, as TiUP does: it skips a store with no
// leaders (pingcap/tiup pkg/cluster/api/pdapi.go EvictStoreLeader: "no store
// leader on the host, just skip") and a cluster with a single TiKV, where the
// leaders have nowhere to go (pkg/cluster/spec/tikv.go TiKVInstance.PreRestart,
// `len(tidbTopo.TiKVServers) <= 1` over the whole topology, called from
// pkg/cluster/operation/upgrade.go upgradeInstance; tiup 842f05cc). A plan that
// names one store of many still evicts it (issue 18: a one-node plan restarted
// a store holding 200 leaders without moving them). When PD cannot be read
// the eviction is attempted: adding the scheduler then fails cleanly.
func (r *Runner) evictionSkippable(ctx context.Context, id uint64, leaders int) (bool, string) {
	if leaders == 0 {
		return true, "no leaders to move"
	}
	stores, err := r.sharedStores(ctx) // a list a fraction of a poll old answers this as well
	if err != nil {
		return false, ""
	}
	others := slices.ContainsFunc(stores, func(s Store) bool {
		return s.ID != id && s.StateName == "Up"
	})
	if !others {
		return true, "no other store is Up to take the leaders: the restart elects them again"
	}
	return false, ""
}
