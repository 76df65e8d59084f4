// Package realpd makes the simulated TiKV nodes real PD clients: each store
// speaks kvproto pdpb over gRPC to a real pd-server, as TiKV does — PutStore
// at every start, StoreHeartbeat while it runs, one RegionHeartbeat stream on
// which it reports the regions it leads and receives PD's operators, which it
// obeys (TransferLeader, ChangePeer, ChangePeerV2) or refuses with a log line
// (what the sim does not model: merge, split, witnesses). The stores share one
// model of the regions (range, epoch, peers, leader, term); a stopped store
// stops heartbeating, so PD's own timers judge it Disconnected and Down, and
// its regions elect new leaders among the live voters.
//
// The message flow follows PD's own simulator (tikv/pd tools/pd-simulator @
// a186e0cc, simulator/client.go, node.go, drive.go, task.go), written anew. It
// implements sim/node.PD; it never starts a PD itself (internal/realparts
// does) and never talks to PD's HTTP API.
package realpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/pingcap/kvproto/pkg/metapb"
	"github.com/pingcap/kvproto/pkg/pdpb"
)

// Defaults of Config.
const (
	DefaultRegionHeartbeat = 5 * time.Second
	DefaultCapacity        = 1 << 40  // 1 TiB per store
	DefaultRegionSize      = 96 << 20 // TiKV's region-split-size default, 96 MiB
	DefaultReplicas        = 3        // PD's replication.max-replicas default
	electionTick           = 200 * time.Millisecond
)

// Config says which PD to join and how many regions the stores hold.
type Config struct {
	Endpoints []string // PD client URLs, http://127.0.0.1:port
	Regions   int      // regions laid out at Bootstrap
	Replicas  int      // voters per region (default 3, at most the store count)
	// RegionHeartbeat is how often each leader reports all its regions again
	// (TiKV: raftstore.pd-heartbeat-tick-interval, 60 s; shorter here so PD's
	// region data is fresh in tests). Changes are reported at once.
	RegionHeartbeat time.Duration
	Capacity        uint64               // bytes per store
	Logf            func(string, ...any) // refusals and errors; nil discards
}

// Store is one store's registration (kvproto metapb.Store).
type Store struct {
	ID                                  uint64
	Address, StatusAddress, PeerAddress string
	DeployPath                          string
	Labels                              []*metapb.StoreLabel // zone first: regions spread over zones
}

type store struct {
	meta     Store
	conn     *leaderConn // the store's own PD client connection
	running  bool
	stopped  bool // it ran in this sim and stopped: its peers lag (pending)
	version  string
	gitHash  string
	start    time.Time // wall clock, reported as start_timestamp
	simStart time.Time // the node's own (sim clock) start: a new one is a restart
	sess     *session  // the current run's session; nil while stopped
	refuse   bool      // refuse TransferLeader (eviction-stuck fault)
}

// session is one run of a store's PD client. A restart makes a new one: a
// run that is ending never sends the new run's reports.
type session struct {
	cancel   context.CancelFunc
	done     chan struct{}
	kick     chan struct{}   // a store heartbeat is due
	dirty    map[uint64]bool // regions to report on the stream (under Cluster.mu)
	wake     chan struct{}   // dirty is not empty
	lastBeat time.Time       // under Cluster.mu
}

// Cluster is the stores' side of one PD cluster.
type Cluster struct {
	cfg  Config
	conn *leaderConn

	mu      sync.Mutex
	stores  map[uint64]*store
	order   []uint64
	regions map[uint64]*region
	closed  bool
	// splitting: regions with a split under way (AskBatchSplit in flight)
	splitting map[uint64]bool
	life      context.Context // ends at Close

	cancel context.CancelFunc // ends life
	wg     sync.WaitGroup
}

// Dial finds PD's leader and cluster id (bounded by ctx).
func Dial(ctx context.Context, cfg Config) (*Cluster, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("realpd: no PD endpoints")
	}
	if cfg.RegionHeartbeat <= 0 {
		cfg.RegionHeartbeat = DefaultRegionHeartbeat
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	c := &Cluster{cfg: cfg, conn: &leaderConn{endpoints: cfg.Endpoints}, stores: map[uint64]*store{}, regions: map[uint64]*region{}, splitting: map[uint64]bool{}}
	c.life, c.cancel = context.WithCancel(context.Background())
	for {
		_, _, err := c.conn.client(ctx)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reaching PD: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// call runs one unary RPC against the leader on conn, finding the leader
// again and retrying while ctx allows when the leader moved or is unreachable.
func call[T interface{ GetHeader() *pdpb.ResponseHeader }](ctx context.Context, conn *leaderConn, f func(context.Context, pdpb.PDClient, *pdpb.RequestHeader) (T, error)) (T, error) {
	for {
		cc, id, err := conn.client(ctx)
		var resp T
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			resp, err = f(rctx, pdpb.NewPDClient(cc), &pdpb.RequestHeader{ClusterId: id})
			cancel()
			if err == nil {
				err = headerErr(resp.GetHeader())
				if err == nil {
					return resp, nil
				}
				if !retryable(resp.GetHeader()) {
					return resp, err
				}
			}
			if ctx.Err() == nil {
				conn.reset(cc)
			}
		}
		select {
		case <-ctx.Done():
			return resp, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// retryable: header errors that a new leader or a later try can clear.
func retryable(h *pdpb.ResponseHeader) bool {
	switch h.GetError().GetType() {
	case pdpb.ErrorType_NOT_BOOTSTRAPPED, pdpb.ErrorType_STORE_TOMBSTONE, pdpb.ErrorType_ALREADY_BOOTSTRAPPED,
		pdpb.ErrorType_INVALID_VALUE, pdpb.ErrorType_INCOMPATIBLE_VERSION:
		return false
	}
	return true
}

// AllocIDs asks PD for n fresh ids (pdpb AllocID), as TiKV does for its
// store id before it bootstraps or joins.
func (c *Cluster) AllocIDs(ctx context.Context, n int) ([]uint64, error) {
	ids := make([]uint64, 0, n)
	for len(ids) < n {
		resp, err := call(ctx, c.conn, func(ctx context.Context, cli pdpb.PDClient, h *pdpb.RequestHeader) (*pdpb.AllocIDResponse, error) {
			return cli.AllocID(ctx, &pdpb.AllocIDRequest{Header: h})
		})
		if err != nil {
			return nil, fmt.Errorf("allocating ids from PD: %w", err)
		}
		ids = append(ids, resp.GetId())
	}
	return ids, nil
}

// Bootstrap lays out cfg.Regions regions over the stores (replicas in
// distinct zones, leaders spread) with ids from PD, and bootstraps PD with
// the first store and a region over the whole key space led by it, as the
// first TiKV does (pdpb IsBootstrapped, Bootstrap). PD must be fresh.
func (c *Cluster) Bootstrap(ctx context.Context, stores []Store) error {
	if len(stores) == 0 {
		return errors.New("realpd: no stores")
	}
	replicas := min(c.cfg.Replicas, len(stores))
	regions := max(c.cfg.Regions, 1)
	ids, err := c.AllocIDs(ctx, regions*(1+replicas))
	if err != nil {
		return err
	}
	// Stores grouped by zone (the first label), zones in first-seen order.
	var zones [][]Store
	zoneIndex := map[string]int{}
	for _, s := range stores {
		z := ""
		if len(s.Labels) > 0 {
			z = s.Labels[0].Value
		}
		i, ok := zoneIndex[z]
		if !ok {
			i = len(zones)
			zoneIndex[z] = i
			zones = append(zones, nil)
		}
		zones[i] = append(zones[i], s)
	}
	c.mu.Lock()
	for i := range regions {
		meta := &metapb.Region{
			Id: ids[i*(1+replicas)],
			// A region that split from the bootstrap region once and has had two
			// voters added: epoch newer than the bootstrap region's (1, 1), so PD
			// takes its range over (tikv/pd pkg/core/region.go PreCheckPutRegion).
			RegionEpoch: &metapb.RegionEpoch{ConfVer: uint64(replicas), Version: 2},
		}
		if i > 0 {
			meta.StartKey = regionKey(i)
		}
		if i < regions-1 {
			meta.EndKey = regionKey(i + 1)
		}
		used := map[uint64]bool{}
		for r := range replicas {
			s := pickStore(zones, i, r, used)
			used[s.ID] = true
			meta.Peers = append(meta.Peers, &metapb.Peer{Id: ids[i*(1+replicas)+1+r], StoreId: s.ID, Role: metapb.PeerRole_Voter})
		}
		c.regions[meta.Id] = &region{meta: meta, leader: meta.Peers[0], term: 1}
	}
	for _, s := range stores {
		c.stores[s.ID] = &store{meta: s, conn: &leaderConn{endpoints: c.cfg.Endpoints}}
		c.order = append(c.order, s.ID)
	}
	// The bootstrap region: the first region's leader alone over all keys.
	first := c.regions[ids[0]]
	boot := &metapb.Region{Id: first.meta.Id, RegionEpoch: &metapb.RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []*metapb.Peer{proto.Clone(first.leader).(*metapb.Peer)}}
	bootStore := c.stores[first.leader.StoreId].meta
	c.mu.Unlock()

	ib, err := call(ctx, c.conn, func(ctx context.Context, cli pdpb.PDClient, h *pdpb.RequestHeader) (*pdpb.IsBootstrappedResponse, error) {
		return cli.IsBootstrapped(ctx, &pdpb.IsBootstrappedRequest{Header: h})
	})
	if err != nil {
		return fmt.Errorf("asking PD whether it is bootstrapped: %w", err)
	}
	if ib.GetBootstrapped() {
		return errors.New("PD is already bootstrapped: the sim needs a fresh PD data dir")
	}
	_, err = call(ctx, c.conn, func(ctx context.Context, cli pdpb.PDClient, h *pdpb.RequestHeader) (*pdpb.BootstrapResponse, error) {
		return cli.Bootstrap(ctx, &pdpb.BootstrapRequest{Header: h, Store: c.metaStore(bootStore, "", "", time.Now()), Region: boot})
	})
	if err != nil {
		return fmt.Errorf("bootstrapping PD: %w", err)
	}
	return nil
}

// pickStore picks replica r of region i: zones in rotation from i, stores in
// rotation within a zone, never a store the region already has.
func pickStore(zones [][]Store, i, r int, used map[uint64]bool) Store {
	for k := range len(zones) * 64 {
		z := zones[(i+r+k)%len(zones)]
		s := z[(i/len(zones)+r+k)%len(z)]
		if !used[s.ID] {
			return s
		}
	}
	for _, z := range zones {
		for _, s := range z {
			if !used[s.ID] {
				return s
			}
		}
	}
	panic("realpd: more replicas than stores")
}

// regionKey is the start key of region i (any order-preserving bytes do: PD
// only compares them).
func regionKey(i int) []byte { return fmt.Appendf(nil, "t%08d", i) }

func (c *Cluster) metaStore(s Store, version, gitHash string, start time.Time) *metapb.Store {
	return &metapb.Store{
		Id: s.ID, Address: s.Address, StatusAddress: s.StatusAddress, PeerAddress: s.PeerAddress,
		DeployPath: s.DeployPath, Labels: s.Labels, Version: version, GitHash: gitHash,
		StartTimestamp: start.Unix(), State: metapb.StoreState_Up,
	}
}

// Run elects leaders for regions that lost theirs and asks every leader to
// report its regions each RegionHeartbeat, until Close.
func (c *Cluster) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.life.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	elect := time.NewTicker(electionTick)
	defer elect.Stop()
	report := time.NewTicker(c.cfg.RegionHeartbeat)
	defer report.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-elect.C:
			c.mu.Lock()
			for _, r := range c.regions {
				if r.elect(c.aliveLocked) {
					c.markLocked(r)
				}
			}
			c.mu.Unlock()
		case <-report.C:
			c.mu.Lock()
			for _, r := range c.regions {
				c.markLocked(r)
			}
			c.mu.Unlock()
		}
	}
}

func (c *Cluster) aliveLocked(id uint64) bool {
	s := c.stores[id]
	return s != nil && s.running
}

// markLocked queues r for a heartbeat from its leader's store.
func (c *Cluster) markLocked(r *region) {
	if r.leader == nil {
		return
	}
	s := c.stores[r.leader.StoreId]
	if s == nil || s.sess == nil {
		return
	}
	s.sess.dirty[r.meta.Id] = true
	select {
	case s.sess.wake <- struct{}{}:
	default:
	}
}

// StoreHeartbeat is sim/node.PD: the node is running. The first call after a
// start begins the store's PD session (PutStore, stream); every call sends a
// store heartbeat.
func (c *Cluster) StoreHeartbeat(id uint64, version, gitHash string, start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stores[id]
	if s == nil || c.closed {
		return
	}
	if s.running && !s.simStart.Equal(start) {
		c.stopLocked(s)
	}
	if !s.running {
		// PD judges uptime and heartbeat age on the wall clock, so the session's
		// start is the wall time the node (re)started, not the sim clock's.
		// TiKV reports it in whole seconds (tikv/tikv src/server/node.rs
		// Node::new: store.set_start_timestamp(chrono::Local::now().timestamp()),
		// sent in the PutStore of every start) and PD keeps it from each
		// PutStore (tikv/pd @ a186e0cc server/cluster/cluster.go putStoreImpl,
		// core.SetStoreStartTime); a restart is told by a new value. A real
		// TiKV's stop and start (engines opened before Node::new) take longer
		// than a second (inference); the sim's may not, and PD would then keep
		// the old value, so a restart within the second of the last start
		// reports the next second (TestRealQuickRestartsSeenByPD).
		now := time.Now()
		if !s.start.IsZero() && now.Unix() <= s.start.Unix() {
			now = time.Unix(s.start.Unix()+1, 0)
		}
		s.running, s.stopped, s.version, s.gitHash, s.start, s.simStart = true, false, version, gitHash, now, start
		ctx, cancel := context.WithCancel(context.Background())
		sess := &session{cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
			wake: make(chan struct{}, 1), dirty: map[uint64]bool{}}
		s.sess = sess
		c.wg.Add(1)
		go c.session(ctx, s, sess)
		// Every region with a peer here is reported again by its leader: the
		// peer on this store is no longer pending (takeDirty), and PD's
		// pending-peer check clears now, not at the next periodic report.
		for _, r := range c.regions {
			if r.peerOnStore(id) != nil {
				c.markLocked(r)
			}
		}
	}
	select {
	case s.sess.kick <- struct{}{}:
	default:
	}
}

// StoreStopped is sim/node.PD: the node stopped; its heartbeats stop.
func (c *Cluster) StoreStopped(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stores[id]
	if s == nil || !s.running {
		return
	}
	c.stopLocked(s)
	s.stopped = true
	// The peers here now lag (pending): their leaders report that at once.
	for _, r := range c.regions {
		if r.peerOnStore(id) != nil {
			c.markLocked(r)
		}
	}
}

func (c *Cluster) stopLocked(s *store) {
	if !s.running {
		return
	}
	s.running = false
	s.sess.cancel()
	s.sess = nil
}

// StoreCounts is sim/node.PD: the leaders and regions the store holds.
func (c *Cluster) StoreCounts(id uint64) (leaders, regions int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.regions {
		if r.peerOnStore(id) != nil {
			regions++
		}
		if r.leader != nil && r.leader.StoreId == id {
			leaders++
		}
	}
	return leaders, regions
}

// RegionCount is how many regions the stores hold (splits included).
func (c *Cluster) RegionCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.regions)
}

// SetRefuseTransferLeader makes the store refuse (or obey again) PD's
// TransferLeader: an eviction that never finishes.
func (c *Cluster) SetRefuseTransferLeader(id uint64, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.stores[id]; s != nil {
		s.refuse = on
	}
}

// RegionsWithoutQuorum counts the regions whose live voters (on running
// stores) are not a majority, in the stores' own model.
func (c *Cluster) RegionsWithoutQuorum() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.regions {
		live, voters := 0, 0
		for _, p := range r.voters() {
			voters++
			if c.aliveLocked(p.StoreId) {
				live++
			}
		}
		if 2*live <= voters {
			n++
		}
	}
	return n
}

// Close ends every store's session and the election loop, and waits.
func (c *Cluster) Close() {
	c.mu.Lock()
	c.closed = true
	for _, s := range c.stores {
		c.stopLocked(s)
	}
	c.cancel()
	c.mu.Unlock()
	c.wg.Wait()
	c.conn.close()
	for _, s := range c.stores {
		s.conn.close()
	}
}

// session is one run of a store: PutStore, then store heartbeats on each
// kick and region heartbeats on one stream, until the store stops. Errors
// (leader moved, PD down) end the stream; it is opened again on the leader.
func (c *Cluster) session(ctx context.Context, s *store, sess *session) {
	defer c.wg.Done()
	defer close(sess.done)
	c.mu.Lock()
	meta := c.metaStore(s.meta, s.version, s.gitHash, s.start)
	c.mu.Unlock()
	_, err := call(ctx, s.conn, func(ctx context.Context, cli pdpb.PDClient, h *pdpb.RequestHeader) (*pdpb.PutStoreResponse, error) {
		return cli.PutStore(ctx, &pdpb.PutStoreRequest{Header: h, Store: meta})
	})
	if err != nil {
		if ctx.Err() == nil {
			// A tombstone store is refused for good (TiKV exits then).
			c.cfg.Logf("store %d: PutStore: %v", s.meta.ID, err)
		}
		return
	}
	for ctx.Err() == nil {
		c.stream(ctx, s, sess)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stream runs one RegionHeartbeat stream until an error or the store stops.
// Only a failure of the stream itself drops the store's connection; the end
// of the session (the store stopped) does not.
func (c *Cluster) stream(ctx context.Context, s *store, sess *session) {
	cc, id, err := s.conn.client(ctx)
	if err != nil {
		return
	}
	fail := func(what string, err error) {
		if ctx.Err() != nil {
			return
		}
		c.cfg.Logf("store %d: %s: %v", s.meta.ID, what, err)
		s.conn.reset(cc)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := pdpb.NewPDClient(cc).RegionHeartbeat(sctx)
	if err != nil {
		fail("opening the region heartbeat stream", err)
		return
	}
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := st.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			c.obey(s.meta.ID, resp)
		}
	}()
	// Report every led region on a new stream: PD binds the stream to the
	// store on its first message (tikv/pd server/grpc_service.go RegionHeartbeat).
	c.mu.Lock()
	for _, r := range c.regions {
		if r.leader != nil && r.leader.StoreId == s.meta.ID {
			sess.dirty[r.meta.Id] = true
		}
	}
	sess.lastBeat = time.Now()
	c.mu.Unlock()
	header := &pdpb.RequestHeader{ClusterId: id}
	for {
		for _, req := range c.takeDirty(s.meta.ID, sess, header) {
			if ctx.Err() != nil {
				return
			}
			if err := st.Send(req); err != nil {
				fail("region heartbeat", err)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case err := <-recvErr:
			fail("region heartbeat stream", err)
			return
		case <-sess.kick:
			if err := c.storeHeartbeat(ctx, s, sess); err != nil {
				fail("store heartbeat", err)
				return
			}
		case <-sess.wake:
		}
	}
}

// takeDirty builds the heartbeats of the session's queued regions still led
// by the store.
func (c *Cluster) takeDirty(storeID uint64, sess *session, header *pdpb.RequestHeader) []*pdpb.RegionHeartbeatRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*pdpb.RegionHeartbeatRequest
	for id := range sess.dirty {
		r := c.regions[id]
		if r == nil || r.leader == nil || r.leader.StoreId != storeID {
			continue
		}
		req := &pdpb.RegionHeartbeatRequest{
			Header:          header,
			Region:          proto.Clone(r.meta).(*metapb.Region),
			Leader:          proto.Clone(r.leader).(*metapb.Peer),
			Term:            r.term,
			ApproximateSize: DefaultRegionSize,
			ApproximateKeys: DefaultRegionSize / 1024,
		}
		// A follower on a store that stopped lags: a pending peer (TiKV
		// reports peers whose applied index is behind, raftstore peer.rs
		// collect_pending_peers). A store that has not run yet in this sim is
		// one of a cluster that ran before it: caught up, not pending.
		for _, p := range r.meta.Peers {
			if ps := c.stores[p.StoreId]; ps != nil && ps.stopped {
				req.PendingPeers = append(req.PendingPeers, proto.Clone(p).(*metapb.Peer))
			}
		}
		out = append(out, req)
	}
	clear(sess.dirty)
	slices.SortFunc(out, func(a, b *pdpb.RegionHeartbeatRequest) int { return int(a.Region.Id) - int(b.Region.Id) })
	return out
}

// storeHeartbeat sends the store's stats (pdpb.StoreStats).
func (c *Cluster) storeHeartbeat(ctx context.Context, s *store, sess *session) error {
	_, regions := c.StoreCounts(s.meta.ID) // PD counts leaders from the region heartbeats
	c.mu.Lock()
	now := time.Now()
	used := uint64(regions) * DefaultRegionSize
	stats := &pdpb.StoreStats{
		StoreId: s.meta.ID, Capacity: c.cfg.Capacity, Available: c.cfg.Capacity - min(used, c.cfg.Capacity),
		UsedSize: used, RegionCount: uint32(regions), StartTime: uint32(s.start.Unix()),
		Interval:  &pdpb.TimeInterval{StartTimestamp: uint64(sess.lastBeat.Unix()), EndTimestamp: uint64(now.Unix())},
		SlowScore: 1, // TiKV's healthy slow score (raftstore slow_score.rs starts at 1)
	}
	sess.lastBeat = now
	c.mu.Unlock()
	_, err := call(ctx, s.conn, func(ctx context.Context, cli pdpb.PDClient, h *pdpb.RequestHeader) (*pdpb.StoreHeartbeatResponse, error) {
		return cli.StoreHeartbeat(ctx, &pdpb.StoreHeartbeatRequest{Header: h, Stats: stats})
	})
	return err
}

// obey applies one command PD sent to store storeID for a region.
func (c *Cluster) obey(storeID uint64, resp *pdpb.RegionHeartbeatResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.regions[resp.GetRegionId()]
	if r == nil {
		return
	}
	if r.leader == nil || r.leader.StoreId != storeID {
		return // no longer the leader here: PD sends again to the new one
	}
	if e := resp.GetRegionEpoch(); e != nil && (e.ConfVer != r.meta.RegionEpoch.ConfVer || e.Version != r.meta.RegionEpoch.Version) {
		return // stale command: TiKV checks the epoch too (raftstore "epoch not match")
	}
	if sr := resp.GetSplitRegion(); sr != nil {
		if !c.splitting[r.meta.Id] {
			c.splitting[r.meta.Id] = true
			c.wg.Add(1)
			go c.split(storeID, r.meta.Id, sr)
		}
		return
	}
	s := c.stores[storeID]
	changed, refusal := r.apply(resp, c.aliveLocked, s != nil && s.refuse)
	if refusal != "" {
		c.cfg.Logf("store %d region %d: %s", storeID, r.meta.Id, refusal)
	}
	if changed {
		c.markLocked(r)
		// The old leader's store keeps nothing to report; the new leader reports.
	}
}

// split splits a region at PD's keys as TiKV does: new ids from PD
// (pdpb AskBatchSplit), the left parts become new regions and the original
// keeps the rightmost part (TiKV raftstore.right-derive-when-split, default
// true); every part's epoch version grows by the number of splits.
func (c *Cluster) split(storeID, regionID uint64, sr *pdpb.SplitRegion) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		delete(c.splitting, regionID)
		c.mu.Unlock()
	}()
	c.mu.Lock()
	r := c.regions[regionID]
	if r == nil || r.leader == nil || r.leader.StoreId != storeID {
		c.mu.Unlock()
		return
	}
	meta := proto.Clone(r.meta).(*metapb.Region)
	c.mu.Unlock()
	var keys [][]byte
	for _, k := range sr.GetKeys() {
		if bytes.Compare(k, meta.StartKey) > 0 && (len(meta.EndKey) == 0 || bytes.Compare(k, meta.EndKey) < 0) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	if len(keys) == 0 {
		c.cfg.Logf("store %d region %d: split (%s) without a key inside the region not modelled", storeID, regionID, sr.GetPolicy())
		return
	}
	ctx, cancel := context.WithTimeout(c.life, 30*time.Second)
	defer cancel()
	resp, err := call(ctx, c.conn, func(ctx context.Context, cli pdpb.PDClient, h *pdpb.RequestHeader) (*pdpb.AskBatchSplitResponse, error) {
		return cli.AskBatchSplit(ctx, &pdpb.AskBatchSplitRequest{Header: h, Region: meta, SplitCount: uint32(len(keys))})
	})
	if err != nil {
		c.cfg.Logf("store %d region %d: AskBatchSplit: %v", storeID, regionID, err)
		return
	}
	ids := resp.GetIds()
	if len(ids) != len(keys) {
		c.cfg.Logf("store %d region %d: AskBatchSplit gave %d ids for %d keys", storeID, regionID, len(ids), len(keys))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r = c.regions[regionID]
	if r == nil || r.leader == nil || r.leader.StoreId != storeID ||
		r.meta.RegionEpoch.Version != meta.RegionEpoch.Version || r.meta.RegionEpoch.ConfVer != meta.RegionEpoch.ConfVer {
		return // the region changed meanwhile: PD asks again
	}
	version := r.meta.RegionEpoch.Version + uint64(len(keys))
	start := r.meta.StartKey
	for i, k := range keys {
		if len(ids[i].NewPeerIds) != len(r.meta.Peers) {
			c.cfg.Logf("store %d region %d: AskBatchSplit gave %d peer ids for %d peers", storeID, regionID, len(ids[i].NewPeerIds), len(r.meta.Peers))
			return
		}
		nr := &region{meta: &metapb.Region{Id: ids[i].NewRegionId, StartKey: start, EndKey: k,
			RegionEpoch: &metapb.RegionEpoch{ConfVer: r.meta.RegionEpoch.ConfVer, Version: version}}, term: r.term}
		for j, p := range r.meta.Peers {
			np := &metapb.Peer{Id: ids[i].NewPeerIds[j], StoreId: p.StoreId, Role: p.Role}
			nr.meta.Peers = append(nr.meta.Peers, np)
			if p.Id == r.leader.Id {
				nr.leader = np
			}
		}
		c.regions[nr.meta.Id] = nr
		c.markLocked(nr)
		start = k
	}
	r.meta.StartKey = start
	r.meta.RegionEpoch.Version = version
	c.markLocked(r)
}
