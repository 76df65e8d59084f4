package pd

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
)

// recount walks every region the slow way: what the per-store index must equal.
func recount(c *Cluster) (leaders, regions, pending map[uint64]int, leaderless int) {
	leaders, regions, pending = map[uint64]int{}, map[uint64]int{}, map[uint64]int{}
	for _, r := range c.regions {
		if r.leader < 0 {
			leaderless++
		}
		for k, p := range r.peers {
			regions[p.storeID]++
			if k == r.leader {
				leaders[p.storeID]++
			}
			if c.isPending(p) {
				pending[p.storeID]++
			}
		}
	}
	return leaders, regions, pending, leaderless
}

// TestStoreIndexMatchesRegions drives a 9-store cluster through random stops,
// restarts, evictions and balance rounds and checks after every step that the
// per-store counts PD's /stores and the nodes' /metrics read equal a full walk
// over the regions, and that the quorum tracker, maintained only where voters
// stop and start, matches a full walk too.
func TestStoreIndexMatchesRegions(t *testing.T) {
	h := newHarness(t, Config{Regions: 90, WriteRate: 20}, 9)
	h.c.schedule.LeaderScheduleLimit = 8
	rng := rand.New(rand.NewPCG(1, 2))
	for step := 0; step < 400; step++ {
		id := uint64(rng.IntN(9) + 1)
		switch rng.IntN(6) {
		case 0:
			h.c.StoreStopped(id)
		case 1:
			h.c.StoreHeartbeat(id, "8.5.2", "new", h.mt.now())
		case 2:
			h.do(http.MethodPost, "/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":`+strconv.FormatUint(id, 10)+`}`)
		case 3:
			h.do(http.MethodDelete, "/pd/api/v1/schedulers/evict-leader-scheduler-"+strconv.FormatUint(id, 10), "")
		default:
			h.ticks(1)
		}
		leaders, regions, pending, leaderless := recount(h.c)
		var si StoresInfo
		h.getJSON("/pd/api/v1/stores", &si)
		for _, s := range si.Stores {
			id := s.Store.Id
			if s.Status.LeaderCount != leaders[id] || s.Status.RegionCount != regions[id] || s.Status.PendingPeerCount != pending[id] {
				t.Fatalf("step %d store %d: /stores says leaders %d regions %d pending %d, the regions say %d %d %d",
					step, id, s.Status.LeaderCount, s.Status.RegionCount, s.Status.PendingPeerCount, leaders[id], regions[id], pending[id])
			}
			if l, r := h.c.StoreCounts(id); l != leaders[id] || r != regions[id] {
				t.Fatalf("step %d store %d: StoreCounts %d/%d, the regions say %d/%d", step, id, l, r, leaders[id], regions[id])
			}
		}
		if len(h.c.leaderless) != leaderless {
			t.Fatalf("step %d: %d regions indexed leaderless, %d are", step, len(h.c.leaderless), leaderless)
		}
		var ri RegionsInfo
		h.getJSON("/pd/api/v1/regions/check/pending-peer", &ri)
		want := 0
		for _, r := range h.c.regions {
			if len(h.c.pendingPeers(r)) > 0 {
				want++
			}
		}
		if ri.Count != want {
			t.Fatalf("step %d: pending-peer check lists %d regions, %d have pending peers", step, ri.Count, want)
		}
		for _, r := range h.c.regions {
			below := h.c.aliveVoters(r) < h.c.majority(r)
			if open := r.lossIdx >= 0; open != below {
				t.Fatalf("step %d region %d: quorum loss open %v, below majority %v", step, r.id, open, below)
			}
		}
	}
}
