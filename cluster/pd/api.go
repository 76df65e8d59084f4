package pd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// PD HTTP routes (tikv/pd server/api/router.go; reference pd-and-tiup.md §1).
const (
	pathStores            = "/pd/api/v1/stores"
	pathStoresCheck       = "/pd/api/v1/stores/check"
	pathStore             = "/pd/api/v1/store/"
	pathHealth            = "/pd/api/v1/health"
	pathMembers           = "/pd/api/v1/members"
	pathLeader            = "/pd/api/v1/leader"
	pathVersion           = "/pd/api/v1/version"
	pathCluster           = "/pd/api/v1/cluster"
	pathConfig            = "/pd/api/v1/config"
	pathReplicationConfig = "/pd/api/v1/config/replicate"
	pathSchedulers        = "/pd/api/v1/schedulers"
	pathEvictLeaderList   = "/pd/api/v1/scheduler-config/evict-leader-scheduler/list"
	pathRegionsCheck      = "/pd/api/v1/regions/check/"
	pathReady             = "/pd/api/v2/ready" // server/apiv2/handlers/ready.go; TiUP pdReadyURI

	// allStoreStates is TiUP's query (pkg/cluster/api/pdapi.go GetStores): Up, Offline, Tombstone.
	allStoreStates = "?state=0&state=1&state=2"

	// EvictLeaderScheduler is the modern single evict-leader scheduler (pkg/schedule/schedulers/evict_leader.go).
	EvictLeaderScheduler = "evict-leader-scheduler"
	// schedulerNotFound is the text TiUP's RemoveStoreEvict treats as success.
	schedulerNotFound = "scheduler not found"
)

// Stores lists the stores. PD hides Tombstone stores unless asked, so
// includeTombstone adds them with TiUP's ?state=0&state=1&state=2.
func (c *Client) Stores(ctx context.Context, includeTombstone bool) ([]StoreInfo, error) {
	path := pathStores
	if includeTombstone {
		path += allStoreStates
	}
	return c.storeList(ctx, path)
}

// storeList reads a store listing within MaxStores and maxStoresBody.
func (c *Client) storeList(ctx context.Context, path string) ([]StoreInfo, error) {
	var out storesInfo
	if err := c.getJSONLimit(ctx, path, maxStoresBody, &out); err != nil {
		return nil, err
	}
	if n := max(out.Count, len(out.Stores)); n > MaxStores {
		return nil, &TooLargeError{Endpoint: c.Endpoints()[c.preferredIndex()], Path: path, Limit: MaxStores, What: "stores", Count: n}
	}
	return out.Stores, nil
}

// Store returns one store; an unknown id is a *StatusError with code 404 (see IsNotFound).
func (c *Client) Store(ctx context.Context, id uint64) (*StoreInfo, error) {
	var out StoreInfo
	if err := c.getJSON(ctx, pathStore+strconv.FormatUint(id, 10), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StoresByState lists stores whose state_name is one of states (case-insensitive:
// Up, Offline, Tombstone, Down, Disconnected) through /pd/api/v1/stores/check.
func (c *Client) StoresByState(ctx context.Context, states ...string) ([]StoreInfo, error) {
	q := url.Values{}
	for _, s := range states {
		q.Add("state", strings.ToLower(s))
	}
	path := pathStoresCheck
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.storeList(ctx, path)
}

// StoreByAddress finds the store whose address is addr, preferring a
// non-Tombstone store and otherwise the highest id, as TiUP's
// GetCurrentStore does (workaround for tikv/pd#3303).
func (c *Client) StoreByAddress(ctx context.Context, addr string) (*StoreInfo, error) {
	stores, err := c.Stores(ctx, true)
	if err != nil {
		return nil, err
	}
	var best *StoreInfo
	for i := range stores {
		s := &stores[i]
		if s.Store.Address != addr {
			continue
		}
		switch {
		case best == nil:
			best = s
		case best.Store.StateName == StateTombstone && s.Store.StateName != StateTombstone:
			best = s
		case (best.Store.StateName == StateTombstone) == (s.Store.StateName == StateTombstone) && s.Store.Id > best.Store.Id:
			best = s
		}
	}
	if best == nil {
		return nil, fmt.Errorf("pd: no store with address %s", addr)
	}
	return best, nil
}

// Health returns the health of every PD member.
func (c *Client) Health(ctx context.Context) ([]MemberHealth, error) {
	var out []MemberHealth
	return out, c.getJSON(ctx, pathHealth, &out)
}

// Members returns the PD members, the leader and the cluster id.
func (c *Client) Members(ctx context.Context) (*Members, error) {
	var out Members
	if err := c.getJSON(ctx, pathMembers, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Leader returns the PD leader member.
func (c *Client) Leader(ctx context.Context) (*Member, error) {
	var out Member
	if err := c.getJSON(ctx, pathLeader, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Version returns PD's version string.
func (c *Client) Version(ctx context.Context) (string, error) {
	var out Version
	if err := c.getJSON(ctx, pathVersion, &out); err != nil {
		return "", err
	}
	return out.Version, nil
}

// Cluster returns the cluster id and max_peer_count.
func (c *Client) Cluster(ctx context.Context) (*Cluster, error) {
	var out Cluster
	if err := c.getJSON(ctx, pathCluster, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplicationConfig returns the replication settings. When placement rules
// are enabled PD ignores max-replicas and location-labels (see /config/rules).
func (c *Client) ReplicationConfig(ctx context.Context) (*ReplicationConfig, error) {
	var out ReplicationConfig
	if err := c.getJSON(ctx, pathReplicationConfig, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Config returns PD's full configuration, nested as PD renders it
// ({"schedule":{"leader-schedule-limit":4,...},...}).
func (c *Client) Config(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	if err := c.getJSON(ctx, pathConfig, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetConfig POSTs kv to /pd/api/v1/config. Keys may be flat
// ("leader-schedule-limit") or dotted ("schedule.leader-schedule-limit").
func (c *Client) SetConfig(ctx context.Context, kv map[string]any) error {
	if len(kv) == 0 {
		return errors.New("pd: set config: nothing to set")
	}
	_, err := c.send(ctx, http.MethodPost, pathConfig, kv)
	return err
}

// Schedulers lists the names of the running schedulers.
func (c *Client) Schedulers(ctx context.Context) ([]string, error) {
	var out []string
	return out, c.getJSON(ctx, pathSchedulers, &out)
}

// AddEvictLeader adds storeID to evict-leader-scheduler, creating it when
// absent; PD answers 200 in both cases. From then on PD moves leaders off the
// store and none can move in until RemoveEvictLeader. If PD answers an error,
// the store counts as added when the scheduler already lists it (operator v1
// BeginEvictLeader).
func (c *Client) AddEvictLeader(ctx context.Context, storeID uint64) error {
	body := struct {
		Name    string `json:"name"`
		StoreID uint64 `json:"store_id"`
	}{EvictLeaderScheduler, storeID}
	_, err := c.send(ctx, http.MethodPost, pathSchedulers, body)
	if err != nil && strings.Contains(err.Error(), "scheduler existed") {
		// Two stores of one batch evicted at once: PD creates the scheduler
		// for the first POST and answers the racing second one
		// [PD:scheduler:ErrSchedulerExisted]. Posted again, PD finds the
		// scheduler and adds the store to its config (tikv/pd
		// server/api/scheduler.go addEvictOrGrant: AddEvictLeaderScheduler when
		// absent, redirectSchedulerUpdate when it exists; a186e0cc).
		_, err = c.send(ctx, http.MethodPost, pathSchedulers, body)
	}
	if err == nil {
		return nil
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return fmt.Errorf("pd: evicting leaders from store %d: %w", storeID, err)
	}
	if ids, lerr := c.EvictLeaderStores(ctx); lerr == nil && slices.Contains(ids, storeID) {
		return nil
	}
	return fmt.Errorf("pd: evicting leaders from store %d: %w", storeID, err)
}

// EvictLeaderStores returns, in ascending order, the stores evict-leader-scheduler
// covers, from scheduler-config/evict-leader-scheduler/list. A 404 means no
// scheduler; then old-style per-store "evict-leader-scheduler-<id>" names from
// the scheduler list are used (PD before ~4.0; tidb-operator filterLeaderEvictScheduler).
func (c *Client) EvictLeaderStores(ctx context.Context) ([]uint64, error) {
	var list evictLeaderList
	err := c.getJSON(ctx, pathEvictLeaderList, &list)
	if err != nil && !IsNotFound(err) {
		return nil, err
	}
	var ids []uint64
	if err == nil {
		for k := range list.StoreIDWithRanges {
			id, perr := strconv.ParseUint(k, 10, 64)
			if perr != nil {
				return nil, fmt.Errorf("pd: evict-leader-scheduler list: store id %q is not a number", k)
			}
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids, nil
	}
	names, err := c.Schedulers(ctx)
	if err != nil {
		return nil, err
	}
	prefix := EvictLeaderScheduler + "-"
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, prefix); ok {
			if id, perr := strconv.ParseUint(rest, 10, 64); perr == nil {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// RemoveEvictLeader removes storeID from evict-leader-scheduler with
// DELETE /pd/api/v1/schedulers/evict-leader-scheduler-<id> (PD redirects it
// to scheduler-config/.../delete/<id> and answers the inner status with body
// null). A 404, or a body saying "scheduler not found", counts as success
// (TiUP RemoveStoreEvict). It then verifies through the list that the store is
// gone (operator v1 EndEvictLeader). It never sends the suffix-less DELETE,
// which would remove the scheduler for every store.
func (c *Client) RemoveEvictLeader(ctx context.Context, storeID uint64) error {
	if storeID == 0 {
		return errors.New("pd: remove evict-leader: store id 0 is not a store")
	}
	path := pathSchedulers + "/" + EvictLeaderScheduler + "-" + strconv.FormatUint(storeID, 10)
	if _, err := c.send(ctx, http.MethodDelete, path, nil); err != nil {
		var se *StatusError
		if !errors.As(err, &se) || (se.StatusCode != http.StatusNotFound && !strings.Contains(se.Message, schedulerNotFound)) {
			return fmt.Errorf("pd: releasing store %d from evict-leader-scheduler: %w", storeID, err)
		}
	}
	ids, err := c.EvictLeaderStores(ctx)
	if err != nil {
		return fmt.Errorf("pd: verifying store %d left evict-leader-scheduler: %w", storeID, err)
	}
	if slices.Contains(ids, storeID) {
		return fmt.Errorf("pd: store %d is still listed by evict-leader-scheduler after DELETE %s; remove it with pd-ctl \"scheduler remove %s-%d\"",
			storeID, path, EvictLeaderScheduler, storeID)
	}
	return nil
}

// RegionsCheck runs one region health check (miss-peer, pending-peer,
// down-peer, offline-peer, …) and returns the count and the regions.
func (c *Client) RegionsCheck(ctx context.Context, kind RegionCheck) (*RegionsCheck, error) {
	if !slices.Contains(RegionChecks(), kind) {
		return nil, fmt.Errorf("pd: unknown region check %q: want one of %v", kind, RegionChecks())
	}
	out := RegionsCheck{Kind: kind}
	if err := c.getJSON(ctx, pathRegionsCheck+string(kind), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ready asks GET /pd/api/v2/ready: true on 200, false on 500 (not ready yet).
func (c *Client) Ready(ctx context.Context) (bool, error) {
	req := request{method: http.MethodGet, path: pathReady}
	resp, err := c.do(ctx, req)
	if err != nil {
		return false, err
	}
	switch {
	case resp.status >= 200 && resp.status <= 299:
		return true, nil
	case resp.status == http.StatusInternalServerError:
		return false, nil
	}
	return false, newStatusError(req, resp)
}

// pathRegions is GET /pd/api/v1/regions: every region, in the same RegionsInfo
// JSON as the checks (tikv/pd server/api/router.go, regionsAllHandler.GetRegions).
const pathRegions = "/pd/api/v1/regions"

// Regions lists every region with its peers. tikv-ear uses it to prove that a
// whole zone can restart without any region losing its majority.
func (c *Client) Regions(ctx context.Context) ([]Region, error) {
	var out RegionsCheck
	if err := c.getJSON(ctx, pathRegions, &out); err != nil {
		return nil, err
	}
	return out.Regions, nil
}

// pathStoreRegions is GET /pd/api/v1/regions/store/{id}: the regions with a
// peer on one store, in the same RegionsInfo JSON (tikv/pd
// server/api/router.go regionsHandler.GetStoreRegions, server/api/region.go;
// a186e0cc, present since PD v2).
const pathStoreRegions = "/pd/api/v1/regions/store/"

// RegionsOfStore lists the regions with a peer on store id: bounded by one
// store's share, not the whole cluster's.
func (c *Client) RegionsOfStore(ctx context.Context, id uint64) ([]Region, error) {
	var out RegionsCheck
	if err := c.getJSON(ctx, pathStoreRegions+strconv.FormatUint(id, 10), &out); err != nil {
		return nil, err
	}
	return out.Regions, nil
}
