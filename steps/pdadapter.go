package steps

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tikv-ear/tikv-ear/cluster/pd"
)

// PDClient adapts the cluster/pd client to the engine's PD port.
type PDClient struct{ C *pd.Client }

// Stores lists every store (Tombstone included, as TiUP asks).
func (p PDClient) Stores(ctx context.Context) ([]Store, error) {
	infos, err := p.C.Stores(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make([]Store, 0, len(infos))
	for _, in := range infos {
		out = append(out, Store{
			ID: in.Store.Id, Address: in.Store.Address, StatusAddress: in.Store.StatusAddress,
			StateName: in.Store.StateName, Version: in.Store.Version, StartTimestamp: in.Store.StartTimestamp,
			Labels: in.Store.LabelMap(), LeaderCount: in.Status.LeaderCount, RegionCount: in.Status.RegionCount,
			PauseTransferIn: in.Status.PauseLeaderTransferIn, LeaderWeight: in.Status.LeaderWeight,
		})
	}
	return out, nil
}

// AddEvictLeader adds the store to PD's evict-leader scheduler.
func (p PDClient) AddEvictLeader(ctx context.Context, id uint64) error {
	return p.C.AddEvictLeader(ctx, id)
}

// RemoveEvictLeader removes the store from the scheduler (never the suffix-less DELETE).
func (p PDClient) RemoveEvictLeader(ctx context.Context, id uint64) error {
	return p.C.RemoveEvictLeader(ctx, id)
}

// EvictLeaderStores lists the stores the scheduler covers.
func (p PDClient) EvictLeaderStores(ctx context.Context) ([]uint64, error) {
	return p.C.EvictLeaderStores(ctx)
}

// RegionHealth counts the region checks, all four asked at once. A region
// PD flags offline-peer with no peer on an Offline store is counted in
// StaleOfflinePeer, not OfflinePeer: PD sets the flag when a heartbeat finds
// a peer on a store being removed and recounts it only when a later
// heartbeat changes the region (tikv/pd @ a186e0cc pkg/statistics/
// region_collection.go: Observe sets OfflinePeer, RegionStatsNeedUpdate
// leaves it out; server/cluster/cluster.go processRegionHeartbeat), so after
// the removal is cancelled (the store Up again) an idle region keeps the
// flag although no peer of it is on an Offline store (issue 12, seen on
// the real pd-server). Peers on an Offline store still count.
func (p PDClient) RegionHealth(ctx context.Context) (RegionHealth, error) {
	var h RegionHealth
	var offline *pd.RegionsCheck
	checks := []struct {
		kind pd.RegionCheck
		dst  *int
	}{{pd.CheckMissPeer, &h.MissPeer}, {pd.CheckPendingPeer, &h.PendingPeer}, {pd.CheckDownPeer, &h.DownPeer}, {pd.CheckOfflinePeer, &h.OfflinePeer}}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			rc, err := p.C.RegionsCheck(ctx, c.kind)
			if err != nil {
				errs[i] = err
				return
			}
			*c.dst = rc.Count
			if c.kind == pd.CheckOfflinePeer {
				offline = rc
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return h, err
		}
	}
	if h.OfflinePeer > 0 && len(offline.Regions) == offline.Count {
		stale, err := p.staleOfflinePeers(ctx, offline.Regions)
		if err != nil {
			return h, err
		}
		h.OfflinePeer -= stale
		h.StaleOfflinePeer = stale
	}
	return h, nil
}

// staleOfflinePeers counts the regions with no peer on a store PD shows
// Offline (state_name "Offline": being removed, metapb.StoreState_Offline).
func (p PDClient) staleOfflinePeers(ctx context.Context, regions []pd.Region) (int, error) {
	stores, err := p.C.Stores(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("reading stores for the offline-peer check: %w", err)
	}
	offline := map[uint64]bool{}
	for _, s := range stores {
		if s.Store.StateName == "Offline" {
			offline[s.Store.Id] = true
		}
	}
	stale := 0
	for _, r := range regions {
		if !slices.ContainsFunc(r.Peers, func(pr pd.Peer) bool { return offline[pr.StoreId] }) {
			stale++
		}
	}
	return stale, nil
}

// Regions lists every region's voter stores.
func (p PDClient) Regions(ctx context.Context) ([]RegionPeers, error) {
	regions, err := p.C.Regions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]RegionPeers, 0, len(regions))
	for _, r := range regions {
		rp := RegionPeers{ID: r.ID}
		for _, peer := range r.Peers {
			if peer.RoleName == "" || peer.RoleName == "Voter" {
				rp.Stores = append(rp.Stores, peer.StoreId)
			}
		}
		out = append(out, rp)
	}
	return out, nil
}

// LeadersOverStore reads the regions with a peer on store id (GET
// /pd/api/v1/regions/store/{id}) and returns, once per region where the
// store holds a voter that does not lead, the leader's store
// (StoreRegionsReader).
func (p PDClient) LeadersOverStore(ctx context.Context, id uint64) ([]uint64, error) {
	regions, err := p.C.RegionsOfStore(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, r := range regions {
		if r.Leader.StoreId == 0 || r.Leader.StoreId == id {
			continue
		}
		for _, peer := range r.Peers {
			if peer.StoreId == id && (peer.RoleName == "" || peer.RoleName == "Voter") {
				out = append(out, r.Leader.StoreId)
				break
			}
		}
	}
	return out, nil
}

// MaxReplicas reads config/replicate.
func (p PDClient) MaxReplicas(ctx context.Context) (int, error) {
	rc, err := p.C.ReplicationConfig(ctx)
	if err != nil {
		return 0, err
	}
	return int(rc.MaxReplicas), nil
}

// keyLeaderScheduleLimit is the PD schedule config key (tikv/pd pkg/schedule/config/config.go).
const keyLeaderScheduleLimit = "leader-schedule-limit"

// PD schedule config keys of balance-leader (tikv/pd pkg/schedule/config/config.go
// ScheduleConfig: LeaderSchedulePolicy `leader-schedule-policy`, TolerantSizeRatio
// `tolerant-size-ratio`; a186e0cc).
const (
	keyLeaderSchedulePolicy = "leader-schedule-policy"
	keyTolerantSizeRatio    = "tolerant-size-ratio"
)

// LeaderBalance reads schedule.leader-schedule-policy and
// schedule.tolerant-size-ratio from GET /pd/api/v1/config (LeaderBalanceReader).
func (p PDClient) LeaderBalance(ctx context.Context) (string, float64, error) {
	cfg, err := p.C.Config(ctx)
	if err != nil {
		return "", 0, err
	}
	sched, _ := cfg["schedule"].(map[string]any)
	policy, _ := sched[keyLeaderSchedulePolicy].(string)
	ratio, ok := sched[keyTolerantSizeRatio].(float64)
	if !ok {
		return "", 0, fmt.Errorf("PD config has no schedule.%s", keyTolerantSizeRatio)
	}
	return policy, ratio, nil
}

// LeaderScheduleLimit reads schedule.leader-schedule-limit from GET /pd/api/v1/config.
func (p PDClient) LeaderScheduleLimit(ctx context.Context) (int, error) {
	cfg, err := p.C.Config(ctx)
	if err != nil {
		return 0, err
	}
	sched, _ := cfg["schedule"].(map[string]any)
	v, ok := sched[keyLeaderScheduleLimit].(float64)
	if !ok {
		return 0, fmt.Errorf("PD config has no schedule.%s", keyLeaderScheduleLimit)
	}
	return int(v), nil
}

// SetLeaderScheduleLimit posts {"schedule.leader-schedule-limit": n} (dotted keys are
// accepted by POST /pd/api/v1/config; reference pd-and-tiup.md §1.2).
func (p PDClient) SetLeaderScheduleLimit(ctx context.Context, n int) error {
	return p.C.SetConfig(ctx, map[string]any{"schedule." + keyLeaderScheduleLimit: n})
}
