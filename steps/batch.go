package steps

import (
	"fmt"
	"sort"
	"strings"
)

// Batch is a set of stores restarted together.
type Batch struct {
	Index  int      `json:"index"`
	Stores []uint64 `json:"stores"`
	Zone   string   `json:"zone,omitempty"`
	Canary bool     `json:"canary,omitempty"`
	// EvictAhead says the batch moves its leaders away while the previous
	// batch restarts (not after it): see EvictsAhead for when a plan allows it.
	EvictAhead bool `json:"evict-ahead,omitempty"`
}

// EvictsAhead reports whether batch next may evict its leaders while batch
// prev restarts, in a cluster of total stores. Eviction takes no peer away,
// so it costs no region its quorum; what it costs is load: while prev is
// down and next evicted, the leaders of both sit on the other stores. So a
// batch evicts ahead only when the two together are at most a third of the
// cluster's stores (serial batches from six stores up, never two zones of
// three), and never while prev is a canary: nothing moves for the next batch
// before the canary has proved the new config. The next batch still restarts
// only once prev is verified, its leaders are back and its peers have caught
// up (Runner's gate), as without it.
func EvictsAhead(prev, next Batch, total int) bool {
	return !prev.Canary && 3*(len(prev.Stores)+len(next.Stores)) <= total
}

// BatchPlan is the order of batches and why it was chosen.
type BatchPlan struct {
	Batches  []Batch `json:"batches"`
	Strategy string  `json:"strategy"` // what is actually used: serial or zone
	Reason   string  `json:"reason"`
}

// ZoneSafety reports, for each zone, whether every region keeps a majority of
// its voters outside the zone (so restarting the whole zone at once cannot cost
// any region its quorum), and the first region that proves otherwise.
func ZoneSafety(zoneOf map[uint64]string, regions []RegionPeers) map[string]string {
	unsafe := map[string]string{}
	zones := map[string]bool{}
	for _, z := range zoneOf {
		zones[z] = true
	}
	for z := range zones {
		for _, r := range regions {
			inside := 0
			for _, s := range r.Stores {
				if zoneOf[s] == z {
					inside++
				}
			}
			outside := len(r.Stores) - inside
			if outside*2 <= len(r.Stores) {
				unsafe[z] = fmt.Sprintf("region %d has %d of %d voters in zone %s", r.ID, inside, len(r.Stores), z)
				break
			}
		}
	}
	return unsafe
}

// RegionPeers is a region and the stores holding its voters.
type RegionPeers struct {
	ID     uint64
	Stores []uint64
}

// PlanBatches orders the stores: canaries first, one at a time, then either one
// store per batch (serial) or one zone per batch where PD's regions prove it safe.
// regions may be nil when PD could not list them; zone batching then falls back to serial.
func PlanBatches(nodes []NodePlan, regions []RegionPeers, canary int, batching string) BatchPlan {
	ordered := append([]NodePlan(nil), nodes...)
	sort.SliceStable(ordered, func(i, j int) bool {
		if ordered[i].Zone != ordered[j].Zone {
			return ordered[i].Zone < ordered[j].Zone
		}
		return ordered[i].StoreID < ordered[j].StoreID
	})
	if canary > len(ordered) {
		canary = len(ordered)
	}
	var bp BatchPlan
	add := func(b Batch) {
		b.Index = len(bp.Batches) + 1
		bp.Batches = append(bp.Batches, b)
	}
	for _, n := range ordered[:canary] {
		add(Batch{Stores: []uint64{n.StoreID}, Zone: n.Zone, Canary: true})
	}
	rest := ordered[canary:]
	serial := func(reason string) BatchPlan {
		for _, n := range rest {
			add(Batch{Stores: []uint64{n.StoreID}, Zone: n.Zone})
		}
		bp.Strategy, bp.Reason = BatchSerial, reason+markEvictAhead(&bp, len(nodes))
		return bp
	}
	if batching != BatchZone {
		return serial("serial batching: one store at a time")
	}
	zoneOf := map[uint64]string{}
	for _, n := range nodes {
		if n.Zone == "" {
			return serial(fmt.Sprintf("zone batching needs a zone label on every store; store %d has none, so stores restart one at a time", n.StoreID))
		}
		zoneOf[n.StoreID] = n.Zone
	}
	if regions == nil {
		return serial("PD's region list was not available to prove zone batching safe, so stores restart one at a time")
	}
	unsafe := ZoneSafety(zoneOf, regions)
	if len(unsafe) > 0 {
		var why []string
		for z, r := range unsafe {
			why = append(why, r+" (zone "+z+")")
		}
		sort.Strings(why)
		return serial("zone batching would cost a region its quorum: " + strings.Join(why, "; ") + "; stores restart one at a time")
	}
	var zoneNames []string
	byZone := map[string][]uint64{}
	for _, n := range rest {
		if _, ok := byZone[n.Zone]; !ok {
			zoneNames = append(zoneNames, n.Zone)
		}
		byZone[n.Zone] = append(byZone[n.Zone], n.StoreID)
	}
	for _, z := range zoneNames {
		add(Batch{Stores: byZone[z], Zone: z})
	}
	bp.Strategy = BatchZone
	bp.Reason = fmt.Sprintf("zone batching: every one of %d regions keeps a majority of its voters outside any single zone, so each zone restarts at once", len(regions)) +
		markEvictAhead(&bp, len(nodes))
	return bp
}

// markEvictAhead sets EvictAhead on every batch that EvictsAhead allows and
// returns what the plan's reason adds when any does.
func markEvictAhead(bp *BatchPlan, total int) string {
	first := 0
	for i := 1; i < len(bp.Batches); i++ {
		bp.Batches[i].EvictAhead = EvictsAhead(bp.Batches[i-1], bp.Batches[i], total)
		if bp.Batches[i].EvictAhead && first == 0 {
			first = bp.Batches[i].Index
		}
	}
	if first == 0 {
		return ""
	}
	return fmt.Sprintf("; from batch %d on, each batch evicts its leaders while the one before restarts", first)
}
