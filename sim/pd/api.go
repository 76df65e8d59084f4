package pd

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/kvproto/pkg/metapb"
)

// Error and message strings, from tikv/pd.
const (
	// pkg/errs/errno.go (errors.Normalize with RFCCodeText renders "[code]message").
	errSchedulerNotFound      = "[PD:scheduler:ErrSchedulerNotFound]scheduler not found"
	errSchedulerExisted       = "[PD:scheduler:ErrSchedulerExisted]scheduler existed"
	errScheduleConfigNotExist = "[PD:scheduler:ErrScheduleConfigNotExist]the config does not exist"
	errStoreNotFoundFmt       = "[PD:core:ErrStoreNotFound]store %v not found"
	errRedirectNoLeader       = "[PD:apiutil:ErrRedirectNoLeader]redirect finds no leader"
	errEtcdKVGet              = "[PD:etcd:ErrEtcdKVGet]etcd KV get failed"
	errNotBootstrapped        = "[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first"

	// server/api/scheduler.go CreateScheduler / DeleteScheduler.
	msgSchedulerCreated = "The scheduler is created."
	msgSchedulerApplied = "The scheduler has been applied to the store."
	msgSchedulerRemoved = "The scheduler is removed."
	msgMissingName      = "missing scheduler name"
	msgUnknownScheduler = "unknown scheduler"
	msgMissingStoreID   = "missing store id"
	// pkg/schedule/schedulers/evict_leader.go lastStoreDeleteInfo and updateConfig.
	msgLastStoreDeleted = "The last store has been deleted"
	msgBatchInvalid     = "batch is invalid, it should be in [1, 10]"
	// server/api/config.go SetConfig / SetReplicationConfig.
	msgConfigUpdated = "The config is updated."

	// Route prefixes: server/api/server.go APIPrefix "/pd", router.go apiPrefix "/api/v1".
	apiV1                   = "/pd/api/v1"
	schedulerConfigPrefix   = apiV1 + "/scheduler-config/"
	evictLeaderConfigPrefix = schedulerConfigPrefix + EvictLeaderScheduler
)

// Handler returns every PD route as served by the leader member.
func (c *Cluster) Handler() http.Handler { return c.memberHandler(0) }

func (c *Cluster) memberHandler(member int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		unavailable, noLeader, bootstrapped := c.unavailable, c.noLeader, c.bootstrapped
		c.mu.Unlock()
		path := strings.TrimSuffix(r.URL.Path, "/")
		switch {
		case !bootstrapped && needsCluster(path):
			// server/api/middleware.go clusterMiddleware: 500 ErrNotBootstrapped; the
			// scheduler-config forwarder answers it with 406 (server/api/scheduler.go
			// redirectSchedulerUpdate → handler.GetSchedulerConfigHandler), measured
			// against pd-server a186e0cc.
			status := http.StatusInternalServerError
			if strings.HasPrefix(path, schedulerConfigPrefix) {
				status = http.StatusNotAcceptable
			}
			writeJSON(w, status, errNotBootstrapped)
			return
		case unavailable:
			writeJSON(w, http.StatusServiceUnavailable, errEtcdKVGet)
			return
		case noLeader && strings.HasPrefix(path, "/pd/") && !strings.HasPrefix(path, "/pd/api/v2/"):
			// pkg/utils/apiutil/serverapi/middleware.go redirector: http.Error, plain text.
			http.Error(w, errRedirectNoLeader, http.StatusServiceUnavailable)
			return
		}
		c.route(w, r, path, member)
	})
}

// needsCluster: the routes PD serves from the Raft cluster, which exists only
// once the first TiKV bootstrapped it (server/api/router.go routes wrapped in
// clusterMiddleware).
func needsCluster(path string) bool {
	for _, p := range []string{apiV1 + "/stores", apiV1 + "/store/", apiV1 + "/regions", apiV1 + "/schedulers", schedulerConfigPrefix} {
		if path == strings.TrimSuffix(p, "/") || strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (c *Cluster) route(w http.ResponseWriter, r *http.Request, path string, member int) {
	get, post, del := r.Method == http.MethodGet, r.Method == http.MethodPost, r.Method == http.MethodDelete
	switch {
	// router.go rootRouter "/health" and "/ping" live under the "/pd" prefix (TiUP pdPingURI "pd/ping").
	case get && (path == "/pd/ping" || path == apiV1+"/ping" || path == "/ping"):
		w.WriteHeader(http.StatusOK)
	case get && (path == "/pd/health" || path == apiV1+"/health"):
		writeJSON(w, http.StatusOK, c.health())
	case get && path == "/health":
		// The embedded etcd's own health endpoint on the client URL (inference: etcdhttp).
		writeJSON(w, http.StatusOK, map[string]string{"health": "true", "reason": ""})
	case get && path == "/pd/api/v2/ready":
		c.ready(w, r)
	case get && path == apiV1+"/stores":
		c.getStores(w, r)
	case get && path == apiV1+"/stores/check":
		c.getStoresByState(w, r)
	case get && strings.HasPrefix(path, apiV1+"/store/"):
		c.getStore(w, strings.TrimPrefix(path, apiV1+"/store/"))
	case get && path == apiV1+"/members":
		writeJSON(w, http.StatusOK, c.members())
	case get && path == apiV1+"/leader":
		// The leader key in etcd holds only these (server/member.go
		// GetLeader → pdpb.Member{name, member_id, peer_urls, client_urls}).
		l := c.members().Leader
		writeJSON(w, http.StatusOK, &Member{Name: l.Name, MemberID: l.MemberID, PeerUrls: l.PeerUrls, ClientUrls: l.ClientUrls})
	case get && path == apiV1+"/version":
		writeJSON(w, http.StatusOK, Version{Version: c.cfg.Version})
	case get && path == apiV1+"/status":
		c.mu.Lock()
		st := Status{Version: c.cfg.Version, StartTimestamp: c.startTime.Unix(), KernelType: "Classic"} // pkg/versioninfo/kerneltype/classic.go
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	case get && path == apiV1+"/cluster":
		c.mu.Lock()
		mc := &metapb.Cluster{Id: c.cfg.ClusterID, MaxPeerCount: uint32(c.replication.MaxReplicas)}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, mc)
	case get && path == apiV1+"/cluster/status":
		// isInitialized: more than one region (server/cluster/cluster.go isInitialized);
		// replication_status: majority mode's empty ReplicationStatus.String() (inference).
		c.mu.Lock()
		cs := ClusterStatus{RaftBootstrapTime: c.startTime, IsInitialized: len(c.regions) > 1}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, cs)
	case get && path == apiV1+"/config":
		ms := c.memberList()
		c.mu.Lock()
		sc, rc := c.scheduleLocked(), c.replication
		c.mu.Unlock()
		m := ms[min(member, len(ms)-1)]
		fc, err := fullConfig(m.Name, first(m.ClientUrls), first(m.PeerUrls), sc, rc, c.cfg.Version)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, fc)
	case post && path == apiV1+"/config":
		c.setConfig(w, r)
	case get && path == apiV1+"/config/schedule":
		c.mu.Lock()
		sc := c.scheduleLocked()
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, sc)
	case get && path == apiV1+"/config/replicate":
		c.mu.Lock()
		rc := c.replication
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, rc)
	case post && path == apiV1+"/config/replicate":
		c.setReplication(w, r)
	case get && path == apiV1+"/schedulers":
		writeJSON(w, http.StatusOK, c.schedulerNames())
	case post && path == apiV1+"/schedulers":
		c.createScheduler(w, r)
	case del && strings.HasPrefix(path, apiV1+"/schedulers/"):
		c.deleteScheduler(w, strings.TrimPrefix(path, apiV1+"/schedulers/"))
	case strings.HasPrefix(path, schedulerConfigPrefix):
		c.schedulerConfig(w, r, path)
	case get && strings.HasPrefix(path, apiV1+"/regions/check/") && path != apiV1+"/regions/check/all":
		c.regionCheck(w, strings.TrimPrefix(path, apiV1+"/regions/check/"))
	case get && strings.HasPrefix(path, apiV1+"/regions/store/"):
		c.storeRegions(w, strings.TrimPrefix(path, apiV1+"/regions/store/"))
	case get && path == apiV1+"/regions":
		// GET /pd/api/v1/regions (tikv/pd server/api/router.go: regionsAllHandler.GetRegions,
		// same RegionsInfo JSON as the checks).
		c.regionCheck(w, "all")
	default:
		http.NotFound(w, r)
	}
}

// writeJSON renders like unrolled/render with IndentJSON (server/api/router.go createIndentRender).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

func (c *Cluster) memberList() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Member
	for i := 0; i < c.cfg.Members; i++ {
		m := &Member{
			Name:          fmt.Sprintf("pd-%d", i+1),
			MemberID:      c.cfg.ClusterID ^ (uint64(i+1) * 0x9E3779B97F4A7C15),
			BinaryVersion: c.cfg.Version,
			// deploy_path is the binary's directory (server/server.go
			// SetMemberDeployPath); TiUP deploys PD under /tidb-deploy/pd-2379.
			DeployPath: "/tidb-deploy/pd-2379/bin",
			// pkg/versioninfo PDGitHash is "None" in a build without ldflags.
			GitHash: "None",
		}
		if i < len(c.memberURLs) {
			m.ClientUrls = []string{c.memberURLs[i]}
			m.PeerUrls = []string{peerURL(c.memberURLs[i])}
		}
		out = append(out, m)
	}
	return out
}

func (c *Cluster) members() MembersResponse {
	ms := c.memberList()
	return MembersResponse{Header: &ResponseHeader{ClusterID: c.cfg.ClusterID}, Members: ms, Leader: ms[0], EtcdLeader: ms[0]}
}

func (c *Cluster) health() []Health {
	var out []Health
	for _, m := range c.memberList() {
		out = append(out, Health{Name: m.Name, MemberID: m.MemberID, ClientUrls: m.ClientUrls, Health: true})
	}
	return out
}

// ready is server/apiv2/handlers/ready.go Ready: 200 with no body unless ?verbose.
func (c *Cluster) ready(w http.ResponseWriter, r *http.Request) {
	if _, verbose := r.URL.Query()["verbose"]; !verbose {
		w.WriteHeader(http.StatusOK)
		return
	}
	c.mu.Lock()
	boot := c.bootstrapped
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, ReadyStatus{RegionLoaded: boot, IsBootstrapped: boot})
}

// storeInfo builds pkg/response/store.go BuildStoreInfo for one store from
// the store's own counts (O(1): no walk over the regions); c.mu is held.
func (c *Cluster) storeInfo(id uint64, now time.Time) *StoreInfo {
	s := c.stores[id]
	meta := &metapb.Store{
		Id: id, Address: s.spec.Address, Version: s.version, PeerAddress: s.spec.PeerAddress,
		StatusAddress: s.spec.StatusAddress, GitHash: s.gitHash, StartTimestamp: s.start.Unix(),
		DeployPath: s.spec.DeployPath, LastHeartbeat: s.lastHeartbeat.UnixNano(),
		NodeState: metapb.NodeState_Serving,
	}
	for _, l := range s.spec.Labels {
		meta.Labels = append(meta.Labels, &metapb.StoreLabel{Key: l.Key, Value: l.Value})
	}
	st := &StoreStatus{LeaderCount: s.leaders, LeaderWeight: 1, RegionWeight: 1, PauseLeaderTransferIn: c.pausedIn(id)}
	st.RegionCount = len(s.peers)
	st.RegionSize = int64(st.RegionCount) * regionApproximateSizeMiB
	st.LeaderSize = int64(st.LeaderCount) * regionApproximateSizeMiB
	st.PendingPeerCount = s.pendingPeers()
	if s.registered {
		st.SlowScore = 1 // TiKV reports 1 while healthy (components/raftstore slow_score.rs); PD shows the last one
	}
	// leader-schedule-policy "count": score = count / weight; region score simplified to region size.
	st.LeaderScore = float64(st.LeaderCount)
	st.RegionScore = float64(st.RegionSize)
	used := uint64(storeBaseUsedBytes + st.RegionSize<<20)
	st.Capacity, st.UsedSize, st.Available = storeCapacityBytes, ByteSize(used), ByteSize(storeCapacityBytes-used)
	start, last := s.start, s.lastHeartbeat
	st.StartTS, st.LastHeartbeatTS = &start, &last
	if up := last.Sub(start); up > 0 { // core.StoreInfo.GetUptime: last heartbeat - start
		st.Uptime = &Duration{up}
	}
	return &StoreInfo{Store: &MetaStore{Store: meta, StateName: c.stateName(s, now)}, Status: st}
}

// getStores is server/api/store.go GetAllStores: ?state=<int> repeated, default Up+Offline.
func (c *Cluster) getStores(w http.ResponseWriter, r *http.Request) {
	accept := []metapb.StoreState{metapb.StoreState_Up, metapb.StoreState_Offline}
	if vs, ok := r.URL.Query()["state"]; ok {
		accept = nil
		for _, v := range vs {
			n, err := strconv.Atoi(v)
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, err.Error())
				return
			}
			st := metapb.StoreState(n)
			if st != metapb.StoreState_Up && st != metapb.StoreState_Offline && st != metapb.StoreState_Tombstone {
				writeJSON(w, http.StatusInternalServerError, fmt.Sprintf("unknown StoreState: %v", st))
				return
			}
			accept = append(accept, st)
		}
	}
	c.mu.Lock()
	now := c.now()
	out := StoresInfo{Stores: []*StoreInfo{}}
	for _, id := range c.storeIDs {
		if slices.Contains(accept, metapb.StoreState_Up) { // every sim store is metapb Up
			out.Stores = append(out.Stores, c.storeInfo(id, now))
		}
	}
	c.mu.Unlock() // rendered outside the lock: the tick loop does not wait on JSON
	out.Count = len(out.Stores)
	writeJSON(w, http.StatusOK, out)
}

// getStoresByState is server/api/store.go GetStoresByState: case-insensitive state_name filter.
func (c *Cluster) getStoresByState(w http.ResponseWriter, r *http.Request) {
	known := []string{"down", "disconnected", "up", "offline", "tombstone"}
	var want []string
	for _, v := range r.URL.Query()["state"] {
		name := strings.ToLower(v)
		if name != "" && !slices.Contains(known, name) {
			writeJSON(w, http.StatusBadRequest, "unknown StoreState: "+v)
			return
		}
		if name != "" {
			want = append(want, name)
		}
	}
	c.mu.Lock()
	now := c.now()
	out := StoresInfo{Stores: []*StoreInfo{}}
	for _, id := range c.storeIDs {
		info := c.storeInfo(id, now)
		if want != nil && !slices.Contains(want, strings.ToLower(info.Store.StateName)) {
			continue
		}
		out.Stores = append(out.Stores, info)
	}
	c.mu.Unlock()
	out.Count = len(out.Stores)
	writeJSON(w, http.StatusOK, out)
}

// getStore is server/api/store.go GetStore: 400 (errcode JSON) for a bad id, 404 string for an unknown one.
func (c *Cluster) getStore(w http.ResponseWriter, raw string) {
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorJSON{Code: "input", Msg: err.Error()})
		return
	}
	c.mu.Lock()
	if _, ok := c.stores[id]; !ok {
		c.mu.Unlock()
		writeJSON(w, http.StatusNotFound, fmt.Sprintf(errStoreNotFoundFmt, id))
		return
	}
	info := c.storeInfo(id, c.now())
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

// setConfig is server/api/config.go SetConfig.
func (c *Cluster) setConfig(w http.ResponseWriter, r *http.Request) {
	var conf map[string]any
	if err := readJSON(r, &conf); err != nil {
		writeJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, rep := c.schedule, c.replication
	for k, v := range conf {
		if err := setConfigItem(&s, &rep, k, v); err != nil {
			writeJSON(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	c.schedule, c.replication = s, rep
	writeJSON(w, http.StatusOK, msgConfigUpdated)
}

// setReplication is server/api/config.go SetReplicationConfig.
func (c *Cluster) setReplication(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := c.replication
	if err := readJSON(r, &rep); err != nil {
		writeJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	c.replication = rep
	writeJSON(w, http.StatusOK, msgConfigUpdated)
}

func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (c *Cluster) schedulerNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.schedulerNamesLocked()
}

func (c *Cluster) schedulerNamesLocked() []string {
	names := []string{}
	for n, on := range c.schedulers {
		if on {
			names = append(names, n)
		}
	}
	if c.evict != nil {
		names = append(names, EvictLeaderScheduler)
	}
	slices.Sort(names)
	return names
}

// createScheduler is server/api/scheduler.go CreateScheduler.
func (c *Cluster) createScheduler(w http.ResponseWriter, r *http.Request) {
	var input map[string]any
	if err := readJSON(r, &input); err != nil {
		writeJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	name, ok := input["name"].(string)
	if !ok {
		writeJSON(w, http.StatusBadRequest, msgMissingName)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch name {
	case EvictLeaderScheduler:
		idf, ok := input["store_id"].(float64)
		if !ok {
			writeJSON(w, http.StatusBadRequest, msgMissingStoreID)
			return
		}
		id := uint64(idf)
		if _, known := c.stores[id]; !known {
			msg := fmt.Sprintf(errStoreNotFoundFmt, id)
			if c.evict != nil {
				// server/api/scheduler.go CreateScheduler → handler.go
				// RedirectSchedulerUpdate: apiutil.PostJSONIgnoreResp makes the
				// scheduler config's JSON answer (with its newline) the error text,
				// which is JSON-encoded again: 500 "\"[PD:…]store N not found\"\n".
				inner, _ := json.Marshal(msg)
				writeJSON(w, http.StatusInternalServerError, string(inner)+"\n")
				return
			}
			// AddScheduler fails (BasicCluster.PauseLeaderTransfer): 400 err.Error()
			// (server/api/scheduler.go CreateScheduler; measured on pd-server a186e0cc).
			writeJSON(w, http.StatusBadRequest, msg)
			return
		}
		if c.evict != nil { // RedirectSchedulerUpdate to the scheduler's /config
			c.evict.stores[id] = true
			writeJSON(w, http.StatusOK, msgSchedulerApplied)
			return
		}
		c.evict = &evictConfig{stores: map[uint64]bool{id: true}, batch: c.cfg.EvictBatch}
	case BalanceLeaderScheduler, BalanceRegionScheduler, BalanceHotRegionScheduler, EvictSlowStoreScheduler:
		if c.schedulers[name] {
			writeJSON(w, http.StatusInternalServerError, errSchedulerExisted)
			return
		}
		c.schedulers[name] = true
	default:
		writeJSON(w, http.StatusBadRequest, msgUnknownScheduler)
		return
	}
	writeJSON(w, http.StatusOK, msgSchedulerCreated)
}

// deleteScheduler is server/api/scheduler.go DeleteScheduler: a name with the
// evict-leader prefix and a suffix goes to the per-store delete (its last "-"
// segment is the id) and answers with the inner status and body null.
func (c *Cluster) deleteScheduler(w http.ResponseWriter, name string) {
	if strings.HasPrefix(name, EvictLeaderScheduler) && name != EvictLeaderScheduler {
		args := strings.Split(name, "-")
		status, _ := c.deleteEvictStore(args[len(args)-1])
		writeJSON(w, status, nil)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case name == EvictLeaderScheduler && c.evict != nil:
		c.evict = nil // removes the scheduler for every store
	case c.schedulers[name]:
		c.schedulers[name] = false
	default:
		writeJSON(w, http.StatusNotFound, errSchedulerNotFound)
		return
	}
	writeJSON(w, http.StatusOK, msgSchedulerRemoved)
}

// deleteEvictStore is evict_leader.go deleteConfig behind the scheduler-config mux.
func (c *Cluster) deleteEvictStore(raw string) (int, any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.evict == nil {
		return http.StatusNotFound, nil // the mux has no handler: "404 page not found"
	}
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if !c.evict.stores[id] {
		return http.StatusNotFound, errScheduleConfigNotExist
	}
	delete(c.evict.stores, id)
	if len(c.evict.stores) == 0 {
		c.evict = nil
		return http.StatusOK, msgLastStoreDeleted
	}
	return http.StatusOK, nil
}

// schedulerConfig serves /pd/api/v1/scheduler-config/evict-leader-scheduler/{list,config,delete/<id>}
// (evict_leader.go newEvictLeaderHandler); with no such scheduler the
// ServeMux of server/handler.go GetSchedulerConfigHandler answers 404.
func (c *Cluster) schedulerConfig(w http.ResponseWriter, r *http.Request, path string) {
	c.mu.Lock()
	exists := c.evict != nil
	c.mu.Unlock()
	sub, ok := strings.CutPrefix(path, evictLeaderConfigPrefix+"/")
	if !ok || !exists {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && sub == "list":
		c.mu.Lock()
		if c.evict == nil { // its last store was deleted since the check above
			c.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		conf := EvictLeaderConfig{StoreIDWithRanges: map[uint64][]KeyRange{}, Batch: c.evict.batch}
		for id := range c.evict.stores {
			conf.StoreIDWithRanges[id] = []KeyRange{{}}
		}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, conf)
	case r.Method == http.MethodPost && sub == "config":
		c.updateEvictConfig(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(sub, "delete/"):
		status, body := c.deleteEvictStore(strings.TrimPrefix(sub, "delete/"))
		if status == http.StatusNotFound && body == nil {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, status, body)
	default:
		http.NotFound(w, r)
	}
}

// updateEvictConfig is evict_leader.go updateConfig: optional store_id and batch (1..10).
func (c *Cluster) updateEvictConfig(w http.ResponseWriter, r *http.Request) {
	var input map[string]any
	if err := readJSON(r, &input); err != nil {
		writeJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.evict == nil {
		http.NotFound(w, r)
		return
	}
	batch := c.evict.batch
	if b, ok := input["batch"].(float64); ok {
		if b < 1 || b > 10 {
			writeJSON(w, http.StatusBadRequest, msgBatchInvalid)
			return
		}
		batch = int(b)
	}
	if idf, ok := input["store_id"].(float64); ok {
		id := uint64(idf)
		if _, known := c.stores[id]; !known {
			writeJSON(w, http.StatusInternalServerError, fmt.Sprintf(errStoreNotFoundFmt, id))
			return
		}
		c.evict.stores[id] = true
	}
	c.evict.batch = batch
	writeJSON(w, http.StatusOK, msgSchedulerApplied)
}

// storeRegions serves GET /pd/api/v1/regions/store/{id}: every region with a
// peer on the store, as RegionsInfo (tikv/pd server/api/region.go
// GetStoreRegions @ a186e0cc: strconv.Atoi of the id, 400 with the error as
// a JSON string when it is not a number; an unknown store has no region).
func (c *Cluster) storeRegions(w http.ResponseWriter, raw string) {
	id, err := strconv.Atoi(raw)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, err.Error())
		return
	}
	c.regionList(w, "store", uint64(id))
}

// regionCheck serves /regions/check/<kind> with pkg/statistics region_collection rules.
func (c *Cluster) regionCheck(w http.ResponseWriter, kind string) { c.regionList(w, kind, 0) }

// regionList writes the regions of one check kind, "all", or "store"
// (those with a peer on storeID).
func (c *Cluster) regionList(w http.ResponseWriter, kind string, storeID uint64) {
	c.mu.Lock()
	now := c.now()
	want := int(c.replication.MaxReplicas)
	var regions []*region
	switch kind {
	case "miss-peer":
		regions = c.sortedRegions(func(r *region) bool { return len(r.peers) < want })
	case "extra-peer":
		regions = c.sortedRegions(func(r *region) bool { return len(r.peers) > want })
	case "pending-peer":
		// Only a restarted, alive store has pending peers: visit its regions only.
		regions = c.regionsOfStores(func(s *store) bool { return s.pendingPeers() > 0 },
			func(r *region) bool { return len(c.pendingPeers(r)) > 0 })
	case "down-peer":
		// Only a store stopped for max-peer-down-duration has down peers.
		regions = c.regionsOfStores(func(s *store) bool { return !s.alive && now.Sub(s.stoppedAt) >= c.cfg.MaxPeerDownDuration },
			func(r *region) bool { return len(c.downPeers(r, now)) > 0 })
	case "all":
		regions = c.regions // kept in id order
	case "store":
		regions = c.regionsOfStores(func(s *store) bool { return s.spec.ID == storeID }, func(*region) bool { return true })
	case "learner-peer", "empty-region", "offline-peer", "oversized-region", "undersized-region":
		// all voters, 96MiB, no offline stores
	default:
		c.mu.Unlock()
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	out := RegionsInfo{Regions: make([]RegionInfo, 0, len(regions))}
	for _, r := range regions {
		out.Regions = append(out.Regions, c.regionInfo(r, now))
	}
	c.mu.Unlock()
	out.Count = len(out.Regions)
	// response.MarshalRegionsInfoJSON writes compact easyjson.
	b, err := json.Marshal(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(b) //nolint:errcheck // the client went away
}

// regionsOfStores returns, by id and once each, the regions with a replica on
// a store matching pick that also match keep; c.mu is held.
func (c *Cluster) regionsOfStores(pick func(*store) bool, keep func(*region) bool) []*region {
	seen := map[*region]bool{}
	var out []*region
	for _, id := range c.storeIDs {
		s := c.stores[id]
		if !pick(s) {
			continue
		}
		for _, sp := range s.peers {
			if !seen[sp.r] && keep(sp.r) {
				seen[sp.r] = true
				out = append(out, sp.r)
			}
		}
	}
	slices.SortFunc(out, func(a, b *region) int { return cmpID(a.id, b.id) })
	return out
}

func (c *Cluster) pendingPeers(r *region) []*peer {
	var out []*peer
	for _, p := range r.peers {
		if c.isPending(p) {
			out = append(out, p)
		}
	}
	return out
}

// downPeers are the peers the leader reports down: stopped for at least max-peer-down-duration.
func (c *Cluster) downPeers(r *region, now time.Time) []*peer {
	if r.leader < 0 {
		return nil
	}
	var out []*peer
	for _, p := range r.peers {
		if s := p.st; !s.alive && now.Sub(s.stoppedAt) >= c.cfg.MaxPeerDownDuration {
			out = append(out, p)
		}
	}
	return out
}

func metaPeer(p *peer) MetaPeer {
	return MetaPeer{Peer: &metapb.Peer{Id: p.id, StoreId: p.storeID}, RoleName: metapb.PeerRole_Voter.String()}
}

func (c *Cluster) regionInfo(r *region, now time.Time) RegionInfo {
	info := RegionInfo{
		ID:                r.id,
		StartKey:          strings.ToUpper(hex.EncodeToString(r.start)),
		EndKey:            strings.ToUpper(hex.EncodeToString(r.end)),
		RegionEpoch:       &metapb.RegionEpoch{ConfVer: r.confVer, Version: r.version},
		Leader:            MetaPeer{Peer: &metapb.Peer{}},
		ApproximateSize:   regionApproximateSizeMiB,
		ApproximateKeys:   regionApproximateKeys,
		ApproximateKvSize: regionApproximateSizeMiB,
	}
	for _, p := range r.peers {
		info.Peers = append(info.Peers, metaPeer(p))
	}
	if r.leader >= 0 {
		info.Leader = metaPeer(r.peers[r.leader])
	}
	for _, p := range c.downPeers(r, now) {
		info.DownPeers = append(info.DownPeers, PDPeerStats{Peer: metaPeer(p), DownSeconds: uint64(now.Sub(c.stores[p.storeID].stoppedAt).Seconds())})
	}
	for _, p := range c.pendingPeers(r) {
		info.PendingPeers = append(info.PendingPeers, metaPeer(p))
	}
	return info
}

// peerURL is a member's peer URL: the sim's members have no peer traffic, so
// it is the client URL's port plus one, as PD's 2379/2380 pair.
func peerURL(client string) string {
	i := strings.LastIndex(client, ":")
	port, err := strconv.Atoi(client[i+1:])
	if i < 0 || err != nil {
		return client
	}
	return client[:i+1] + strconv.Itoa(port+1)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// scheduleLocked is the schedule config as PD serves it: a store limit for
// every store that registered (pkg/schedule/config PersistOptions
// SetStoreLimit on PutStore) and the persisted schedulers (schedulers-v2);
// c.mu is held.
func (c *Cluster) scheduleLocked() ScheduleConfig {
	sc := c.schedule
	sc.StoreLimit = map[uint64]StoreLimit{}
	for id, s := range c.stores {
		if s.registered {
			sc.StoreLimit[id] = defaultStoreLimit
		}
	}
	sc.SchedulersV2 = nil
	for _, name := range c.schedulerNamesLocked() {
		typ := strings.TrimSuffix(name, "-scheduler")
		if name == BalanceHotRegionScheduler {
			typ = "hot-region" // pkg/schedule/types: BalanceHotRegionScheduler's type is "hot-region"
		}
		sc.SchedulersV2 = append(sc.SchedulersV2, SchedulerConfig{Type: typ})
	}
	return sc
}
