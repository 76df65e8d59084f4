package pd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// Scheduler names (pkg/schedule/types: EvictLeaderScheduler and the
// DefaultSchedulers of pkg/schedule/config/config.go for PD 8.5).
const (
	EvictLeaderScheduler      = "evict-leader-scheduler"
	BalanceLeaderScheduler    = "balance-leader-scheduler"
	BalanceRegionScheduler    = "balance-region-scheduler"
	BalanceHotRegionScheduler = "balance-hot-region-scheduler"
	EvictSlowStoreScheduler   = "evict-slow-store-scheduler"
	regionApproximateSizeMiB  = 96        // approximate_size is in MiB; above max-merge-region-size, so not undersized
	regionApproximateKeys     = 960000    // approximate_keys
	storeCapacityBytes        = 500 << 30 // 500GiB disk per store
	storeBaseUsedBytes        = 3 << 30   // used besides region data
)

// QuorumLoss records a region that had fewer than a majority of its voters alive.
type QuorumLoss struct {
	RegionID uint64
	// From and To are sim times; To is zero while the loss is ongoing.
	From, To time.Time
	// AliveVoters is the fewest voters alive during the loss.
	AliveVoters int
}

// StoreState is one store as the tables and tests see it.
type StoreState struct {
	ID                    uint64
	Address               string
	StateName             string
	Alive                 bool
	Leaders, Regions      int
	PendingPeers          int
	PauseLeaderTransferIn bool
	LastHeartbeat, Start  time.Time
}

type store struct {
	spec          StoreSpec
	version       string
	gitHash       string
	start         time.Time // current process start (sim)
	registered    bool      // has heartbeated once: PD knows it (PutStore)
	lastHeartbeat time.Time
	alive         bool // the process runs
	stoppedAt     time.Time

	// The per-store index, kept up to date by every change so that no read
	// (PD's /stores, a node's /metrics) and no tick walks every region.
	peers        []storePeer // this store's replicas, in region order
	leaders      int         // regions whose leader is on this store
	pending      int         // peers with a non-zero pendingUntil
	pendingUntil time.Time   // when the pending peers catch up (all at once: one restart)
}

// storePeer is one replica of a store: its region and the peer's index in it.
type storePeer struct {
	r *region
	k int
}

type peer struct {
	id, storeID  uint64
	st           *store
	applied      uint64    // last log index this replica holds
	pendingUntil time.Time // non-zero while catching up after a restart
}

type region struct {
	id         uint64
	start, end []byte
	confVer    uint64
	version    uint64
	peers      []*peer
	leader     int       // index into peers, -1 while leaderless
	leaderless time.Time // since when leaderless
	commit     uint64    // committed log index
	acked      uint64    // acknowledged ledger writes
	lossIdx    int       // index into Cluster.losses of the open quorum loss, -1 if none
}

type evictConfig struct {
	stores map[uint64]bool
	batch  int
}

// Cluster is the simulated PD and the placement model behind it.
type Cluster struct {
	cfg Config
	clk *clock.Clock
	now func() time.Time // sim time; tests may replace it

	mu          sync.Mutex
	startTime   time.Time
	stores      map[uint64]*store
	storeIDs    []uint64
	regions     []*region
	schedule    ScheduleConfig
	replication ReplicationConfig
	schedulers  map[string]bool
	evict       *evictConfig
	stuck       map[uint64]bool
	unavailable bool
	noLeader    bool
	// bootstrapped: a store has heartbeated (or Config.NotBootstrapped is off).
	bootstrapped bool
	losses       []QuorumLoss
	memberURLs   []string
	writeDebt    float64
	writeNext    int
	// leaderless holds the regions without a leader (elect visits only these).
	leaderless map[*region]struct{}
	ticks      tickStats
}

// New builds a bootstrapped cluster whose stores all run (as if their TiKV
// processes had just started) and places cfg.Regions regions on them.
func New(cfg Config, clk *clock.Clock, stores []StoreSpec) *Cluster {
	return newCluster(cfg, clk, stores, clk.Now)
}

func newCluster(cfg Config, clk *clock.Clock, stores []StoreSpec, now func() time.Time) *Cluster {
	cfg = cfg.withDefaults()
	c := &Cluster{
		cfg:          cfg,
		bootstrapped: !cfg.NotBootstrapped,
		clk:          clk,
		now:          now,
		stores:       map[uint64]*store{},
		stuck:        map[uint64]bool{},
		leaderless:   map[*region]struct{}{},
		schedule:     defaultScheduleConfig(Duration{cfg.MaxStoreDownTime}),
		replication: ReplicationConfig{
			MaxReplicas:          uint64(cfg.MaxReplicas),
			LocationLabels:       StringSlice(slices.Clone(cfg.LocationLabels)),
			EnablePlacementRules: true, // defaultEnablePlacementRules
		},
		schedulers: map[string]bool{
			BalanceLeaderScheduler: true, BalanceRegionScheduler: true,
			BalanceHotRegionScheduler: true, EvictSlowStoreScheduler: true,
		},
	}
	start := c.now()
	c.startTime = start
	for _, s := range stores {
		c.stores[s.ID] = &store{spec: s, version: cfg.Version, start: start, lastHeartbeat: start, alive: true}
		c.storeIDs = append(c.storeIDs, s.ID)
	}
	slices.Sort(c.storeIDs)
	c.placeRegions()
	return c
}

// placeRegions spreads cfg.Regions regions over the stores: replicas on
// distinct zones first (then distinct stores), leaders balanced.
func (c *Cluster) placeRegions() {
	zones := map[string][]uint64{}
	var zoneNames []string
	for _, id := range c.storeIDs {
		z := c.label(id, "zone")
		if _, ok := zones[z]; !ok {
			zoneNames = append(zoneNames, z)
		}
		zones[z] = append(zones[z], id)
	}
	leaders := map[uint64]int{}
	var nextPeer uint64 = 1000
	for i := 0; i < c.cfg.Regions; i++ {
		r := &region{id: uint64(i + 2), confVer: 5, version: uint64(i + 1), leader: -1, lossIdx: -1}
		if i > 0 {
			r.start = []byte(fmt.Sprintf("t%08d", i))
		}
		if i < c.cfg.Regions-1 {
			r.end = []byte(fmt.Sprintf("t%08d", i+1))
		}
		var chosen []uint64
		for k := 0; k < len(zoneNames) && len(chosen) < c.cfg.MaxReplicas; k++ {
			zs := zones[zoneNames[(i+k)%len(zoneNames)]]
			chosen = append(chosen, zs[(i/len(zoneNames))%len(zs)])
		}
		for k := 0; k < len(c.storeIDs) && len(chosen) < c.cfg.MaxReplicas; k++ {
			if id := c.storeIDs[(i+k)%len(c.storeIDs)]; !slices.Contains(chosen, id) {
				chosen = append(chosen, id)
			}
		}
		slices.Sort(chosen)
		for _, id := range chosen {
			st := c.stores[id]
			r.peers = append(r.peers, &peer{id: nextPeer, storeID: id, st: st})
			st.peers = append(st.peers, storePeer{r: r, k: len(r.peers) - 1})
			nextPeer++
		}
		lead := -1
		for k, p := range r.peers {
			if lead < 0 || leaders[p.storeID] < leaders[r.peers[lead].storeID] {
				lead = k
			}
		}
		if lead >= 0 {
			leaders[r.peers[lead].storeID]++
			c.setLeader(r, lead)
		} else {
			c.leaderless[r] = struct{}{}
		}
		c.regions = append(c.regions, r)
	}
}

// setLeader makes peer k (-1: none) the region's leader and keeps the
// per-store leader counts and the leaderless set in step; c.mu is held.
func (c *Cluster) setLeader(r *region, k int) {
	if r.leader >= 0 {
		r.peers[r.leader].st.leaders--
	}
	r.leader = k
	if k >= 0 {
		r.peers[k].st.leaders++
		delete(c.leaderless, r)
	} else {
		c.leaderless[r] = struct{}{}
	}
}

// isLeader reports whether the region's leader is on the store.
func isLeader(sp storePeer) bool { return sp.r.leader == sp.k }

func (c *Cluster) label(id uint64, key string) string {
	for _, l := range c.stores[id].spec.Labels {
		if l.Key == key {
			return l.Value
		}
	}
	return ""
}

func (c *Cluster) majority(r *region) int { return len(r.peers)/2 + 1 }

func (c *Cluster) aliveVoters(r *region) int {
	n := 0
	for _, p := range r.peers {
		if p.st.alive {
			n++
		}
	}
	return n
}

// Run drives the cluster until ctx is done: one scheduling tick every
// TickInterval of sim time. A tick that cannot start before the next one is
// due is dropped (time.Ticker drops ticks for slow receivers), so the sim
// falls behind its clock exactly when Ticks shows Run < Due.
func (c *Cluster) Run(ctx context.Context) {
	t := c.clk.NewTicker(c.cfg.TickInterval)
	defer t.Stop()
	c.ticks.begin(time.Now(), c.clk.Wall(c.cfg.TickInterval))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			waited := time.Now()
			c.tick()
			c.ticks.ran(time.Since(waited))
		}
	}
}

// tick runs one scheduling round: elections, catch-up, the evict-leader and
// balance-leader schedulers and ledger writes. The quorum tracker runs where
// voters stop and start (StoreStopped, StoreHeartbeat), the only places its
// answer can change.
func (c *Cluster) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.elect(now)
	c.catchUp(now)
	c.evictLeaders(now)
	c.balanceLeaders(now)
	c.write(now)
}

// elect gives a leader to every region leaderless for at least ElectionTimeout
// whose alive voters form a majority: the alive voter with the longest log
// wins (Raft's up-to-date rule), ties to the store with the fewest leaders.
func (c *Cluster) elect(now time.Time) {
	if len(c.leaderless) == 0 {
		return
	}
	// In region order, as a walk over every region would visit them.
	due := make([]*region, 0, len(c.leaderless))
	for r := range c.leaderless {
		if now.Sub(r.leaderless) >= c.cfg.ElectionTimeout && c.aliveVoters(r) >= c.majority(r) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *region) int { return cmpID(a.id, b.id) })
	for _, r := range due {
		best := -1
		for k, p := range r.peers {
			if !p.st.alive {
				continue
			}
			if best < 0 || p.applied > r.peers[best].applied ||
				(p.applied == r.peers[best].applied && p.st.leaders < r.peers[best].st.leaders) {
				best = k
			}
		}
		// The new leader's log is the region's log: entries it lacks are gone.
		r.commit = r.peers[best].applied
		c.setLeader(r, best)
	}
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// catchUp ends the pending state of restarted peers once their catch-up time has passed.
func (c *Cluster) catchUp(now time.Time) {
	for _, id := range c.storeIDs {
		s := c.stores[id]
		if s.pending == 0 || !s.alive || now.Before(s.pendingUntil) {
			continue
		}
		for _, sp := range s.peers {
			if p := sp.r.peers[sp.k]; !p.pendingUntil.IsZero() {
				p.pendingUntil = time.Time{}
				p.applied = sp.r.commit
			}
		}
		s.pending = 0
	}
}

// canTakeLeader reports whether the peer may receive a leader transfer: its
// store runs and heartbeats, it is not paused for transfer-in, and it is not
// behind (TiKV rejects a transfer to a peer with a log gap).
func (c *Cluster) canTakeLeader(p *peer, r *region, now time.Time) bool {
	s := p.st
	return s.alive && now.Sub(s.lastHeartbeat) <= c.cfg.DisconnectAfter &&
		!c.pausedIn(p.storeID) && p.pendingUntil.IsZero() && p.applied == r.commit
}

func (c *Cluster) pausedIn(id uint64) bool { return c.evict != nil && c.evict.stores[id] }

// transferLeader moves the region's leader to the eligible follower whose
// store has the fewest leaders; it reports whether it did.
func (c *Cluster) transferLeader(r *region, now time.Time) bool {
	if r.leader < 0 || c.stuck[r.peers[r.leader].storeID] {
		return false
	}
	best := -1
	for k, p := range r.peers {
		if k == r.leader || !c.canTakeLeader(p, r, now) {
			continue
		}
		if best < 0 || p.st.leaders < r.peers[best].st.leaders {
			best = k
		}
	}
	if best < 0 {
		return false
	}
	c.setLeader(r, best)
	return true
}

// evictLeaders moves up to batch leaders off every evicted store
// (pkg/schedule/schedulers/evict_leader.go scheduleEvictLeaderBatch).
func (c *Cluster) evictLeaders(now time.Time) {
	if c.evict == nil {
		return
	}
	for _, id := range c.evictStoresLocked() {
		moved := 0
		for _, sp := range c.stores[id].peers {
			if moved >= c.evict.batch {
				break
			}
			if isLeader(sp) && c.transferLeader(sp.r, now) {
				moved++
			}
		}
	}
}

// balanceLeaders moves leaders onto the store with the fewest (Up, not
// paused for transfer-in) from followers' stores holding at least two more,
// up to leader-schedule-limit per tick.
func (c *Cluster) balanceLeaders(now time.Time) {
	if !c.schedulers[BalanceLeaderScheduler] {
		return
	}
	for moved := 0; moved < int(c.schedule.LeaderScheduleLimit); moved++ {
		var dst *store
		for _, id := range c.storeIDs {
			s := c.stores[id]
			if s.alive && now.Sub(s.lastHeartbeat) <= c.cfg.DisconnectAfter && !c.pausedIn(id) &&
				(dst == nil || s.leaders < dst.leaders) {
				dst = s
			}
		}
		if dst == nil || !c.moveOneLeader(dst, now) {
			return
		}
	}
}

// moveOneLeader moves to dst the leader of a region that has a caught-up peer
// on dst, from the most loaded eligible source; it reports whether it did.
// Only dst's own replicas can take a leader, so only they are visited.
func (c *Cluster) moveOneLeader(dst *store, now time.Time) bool {
	var best storePeer
	var bestSrc *store
	for _, sp := range dst.peers {
		r := sp.r
		if r.leader < 0 {
			continue
		}
		src := r.peers[r.leader].st
		if c.stuck[src.spec.ID] || src.leaders-dst.leaders < 2 {
			continue
		}
		if c.canTakeLeader(r.peers[sp.k], r, now) && (bestSrc == nil || src.leaders > bestSrc.leaders) {
			best, bestSrc = sp, src
		}
	}
	if bestSrc == nil {
		return false
	}
	c.setLeader(best.r, best.k)
	return true
}

// write performs WriteRate writes per sim second, round-robin over regions. A
// write is acknowledged only with a leader and a majority of caught-up alive
// voters; it is then applied on every caught-up alive voter.
func (c *Cluster) write(now time.Time) {
	if c.cfg.WriteRate < 0 || len(c.regions) == 0 {
		return
	}
	c.writeDebt += float64(c.cfg.WriteRate) * c.cfg.TickInterval.Seconds()
	for ; c.writeDebt >= 1; c.writeDebt-- {
		r := c.regions[c.writeNext%len(c.regions)]
		c.writeNext++
		if r.leader < 0 {
			continue
		}
		var upToDate []*peer
		for _, p := range r.peers {
			if p.st.alive && p.pendingUntil.IsZero() && p.applied == r.commit {
				upToDate = append(upToDate, p)
			}
		}
		if len(upToDate) < c.majority(r) || !slices.Contains(upToDate, r.peers[r.leader]) {
			continue
		}
		r.commit++
		r.acked++
		for _, p := range upToDate {
			p.applied = r.commit
		}
	}
}

// trackQuorum opens a QuorumLoss for every region of the store below a
// majority of alive voters and closes its recovered ones. Only a store that
// stops or starts changes any region's alive voters, and only its own regions.
func (c *Cluster) trackQuorum(s *store, now time.Time) {
	for _, sp := range s.peers {
		r := sp.r
		alive := c.aliveVoters(r)
		switch {
		case alive < c.majority(r) && r.lossIdx < 0:
			c.losses = append(c.losses, QuorumLoss{RegionID: r.id, From: now, AliveVoters: alive})
			r.lossIdx = len(c.losses) - 1
		case alive < c.majority(r):
			c.losses[r.lossIdx].AliveVoters = min(c.losses[r.lossIdx].AliveVoters, alive)
		case r.lossIdx >= 0:
			c.losses[r.lossIdx].To = now
			r.lossIdx = -1
		}
	}
}

// StoreHeartbeat records a store heartbeat from a running TiKV process started
// at start (sim time). The first heartbeat after StoreStopped is a restart:
// the store's peers come back pending and catch up over CatchUpTicks ticks.
func (c *Cluster) StoreHeartbeat(id uint64, version, gitHash string, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stores[id]
	if !ok {
		return
	}
	c.bootstrapped = true
	s.registered = true
	now := c.now()
	restarted := !s.alive
	if restarted {
		until := now.Add(time.Duration(c.cfg.CatchUpTicks) * c.cfg.TickInterval)
		for _, sp := range s.peers {
			sp.r.peers[sp.k].pendingUntil = until
		}
		s.pending, s.pendingUntil = len(s.peers), until
	}
	s.alive = true
	s.version, s.gitHash, s.start, s.lastHeartbeat = version, gitHash, start, now
	if restarted {
		c.trackQuorum(s, now)
	}
}

// StoreStopped records that the store's process exited: its peers stop at
// once and the regions it led become leaderless until an election.
func (c *Cluster) StoreStopped(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stores[id]
	if !ok || !s.alive {
		return
	}
	now := c.now()
	s.alive = false
	s.stoppedAt = now
	for _, sp := range s.peers {
		if isLeader(sp) {
			c.setLeader(sp.r, -1)
			sp.r.leaderless = now
		}
	}
	c.trackQuorum(s, now)
}

// StoreCounts returns the leaders and regions the store holds, as its /metrics would report.
func (c *Cluster) StoreCounts(id uint64) (leaders, regions int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stores[id]
	if !ok {
		return 0, 0
	}
	return s.leaders, len(s.peers)
}

// SetUnavailable makes every route answer 503 (etcd unavailable).
func (c *Cluster) SetUnavailable(on bool) { c.mu.Lock(); c.unavailable = on; c.mu.Unlock() }

// SetNoLeader makes every /pd route answer 503 with PD's ErrRedirectNoLeader body.
func (c *Cluster) SetNoLeader(on bool) { c.mu.Lock(); c.noLeader = on; c.mu.Unlock() }

// SetEvictionStuck makes every leader transfer out of the store fail, as a
// transfer rejected for a log gap would (tikv/tikv#7949).
func (c *Cluster) SetEvictionStuck(storeID uint64, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.stuck[storeID] = true
	} else {
		delete(c.stuck, storeID)
	}
}

// QuorumLosses returns every quorum loss recorded so far.
func (c *Cluster) QuorumLosses() []QuorumLoss {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.losses)
}

// LedgerCheck returns the number of acknowledged writes and how many of them
// are no longer readable from the region's current log.
func (c *Cluster) LedgerCheck() (acked, lost int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.regions {
		acked += int(r.acked)
		if r.acked > r.commit {
			lost += int(r.acked - r.commit)
		}
	}
	return acked, lost
}

// EvictSchedulerStores returns the stores the evict-leader scheduler covers, sorted.
func (c *Cluster) EvictSchedulerStores() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evictStoresLocked()
}

func (c *Cluster) evictStoresLocked() []uint64 {
	if c.evict == nil {
		return nil
	}
	ids := make([]uint64, 0, len(c.evict.stores))
	for id := range c.evict.stores {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Snapshot returns every store's state, sorted by id.
func (c *Cluster) Snapshot() []StoreState {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	out := make([]StoreState, 0, len(c.storeIDs))
	for _, id := range c.storeIDs {
		s := c.stores[id]
		out = append(out, StoreState{
			ID: id, Address: s.spec.Address, StateName: c.stateName(s, now), Alive: s.alive,
			Leaders: s.leaders, Regions: len(s.peers), PendingPeers: s.pendingPeers(),
			PauseLeaderTransferIn: c.pausedIn(id), LastHeartbeat: s.lastHeartbeat, Start: s.start,
		})
	}
	return out
}

func (c *Cluster) isPending(p *peer) bool {
	return !p.pendingUntil.IsZero() && p.st.alive
}

// pendingPeers is the number of the store's peers PD reports pending: they
// catch up after a restart, and a stopped store reports none.
func (s *store) pendingPeers() int {
	if !s.alive {
		return 0
	}
	return s.pending
}

// stateName follows pkg/response/store.go BuildStoreInfo: Down beyond
// max-store-down-time without a heartbeat, else Disconnected beyond
// storeDisconnectDuration (pkg/core/store.go), else Up.
func (c *Cluster) stateName(s *store, now time.Time) string {
	down := now.Sub(s.lastHeartbeat)
	switch {
	case down > c.schedule.MaxStoreDownTime.Duration:
		return StateDown
	case down > c.cfg.DisconnectAfter:
		return StateDisconnected
	}
	return StateUp
}

// Serve starts one HTTP listener per PD member on 127.0.0.1 and returns their
// URLs; the listeners close when ctx is done.
func (c *Cluster) Serve(ctx context.Context) ([]string, error) {
	var urls []string
	var lns []net.Listener
	for i := 0; i < c.cfg.Members; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listening for pd member %d: %w", i+1, err)
		}
		lns = append(lns, ln)
		urls = append(urls, "http://"+ln.Addr().String())
	}
	c.mu.Lock()
	c.memberURLs = slices.Clone(urls)
	c.mu.Unlock()
	for i, ln := range lns {
		srv := &http.Server{Handler: c.memberHandler(i), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln) //nolint:errcheck // returns when the listener closes
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
	}
	return urls, nil
}

// sortedRegions returns the regions matching keep, by id.
func (c *Cluster) sortedRegions(keep func(*region) bool) []*region {
	var out []*region
	for _, r := range c.regions {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
