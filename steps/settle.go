package steps

import (
	"context"
	"fmt"
	"math"
)

// PD's balance-leader rule, from tikv/pd @ a186e0cc (the pd-server the
// real-PD tests run; the same since PD v4.0):
//   - pkg/schedule/schedulers/utils.go: leaderTolerantSizeRatio = 5.0, used
//     by adjustTolerantRatio when schedule.tolerant-size-ratio is 0 (its
//     default, pkg/schedule/config/config.go defaultTolerantSizeRatio) and
//     the leader policy is "count"; getTolerantResource makes it a leader
//     count; sourceStoreScore scores the source with delta -tolerance and
//     targetStoreScore the target with +tolerance; shouldBalance moves a
//     leader only while sourceScore > targetScore.
//   - pkg/core/store.go LeaderScore (ByCount): (leader_count + delta) /
//     max(leader_weight, 1e-6).
//
// So PD stops bringing leaders back to a restarted store once no Up store's
// (leaders - t)/weight exceeds the restarted store's (leaders + t)/weight:
// in a small cluster that can be well below the share the store held before
// its eviction, and a settle that waits for that share waits its whole
// timeout although PD will move nothing more (seen on the real pd-server:
// "store 2 has 7 of 11 leaders back" for 3 minutes).
const (
	pdLeaderTolerantSizeRatio = 5.0
	pdMinLeaderWeight         = 1e-6
	// pdLeaderPolicyCount is schedule.leader-schedule-policy's default
	// ("count"; "size" is the other, pkg/core/constant/kind.go).
	pdLeaderPolicyCount = "count"
)

// LeaderBalanceReader is implemented by a PD port that can read PD's
// balance-leader settings: schedule.leader-schedule-policy and
// schedule.tolerant-size-ratio. Without it the engine assumes PD's defaults.
type LeaderBalanceReader interface {
	LeaderBalance(ctx context.Context) (policy string, tolerantSizeRatio float64, err error)
}

// StoreRegionsReader is implemented by a PD port that can list, for one
// store, the leader's store of every region where the store holds a voter
// that does not lead: the only stores PD's balance-leader can move a leader
// from onto it (transferLeaderIn picks a region with a follower on the
// target and takes its leader's store as the source, tikv/pd
// pkg/schedule/schedulers/balance_leader.go).
type StoreRegionsReader interface {
	LeadersOverStore(ctx context.Context, id uint64) ([]uint64, error)
}

// leaderBalance returns PD's leader policy and tolerance (in leaders), PD's
// defaults when the port cannot say.
func (r *Runner) leaderBalance(ctx context.Context) (string, float64) {
	lb, ok := r.PD.(LeaderBalanceReader)
	if !ok {
		return pdLeaderPolicyCount, pdLeaderTolerantSizeRatio
	}
	policy, ratio, err := lb.LeaderBalance(ctx)
	if err != nil {
		return pdLeaderPolicyCount, pdLeaderTolerantSizeRatio
	}
	if policy == "" {
		policy = pdLeaderPolicyCount
	}
	if ratio == 0 {
		ratio = pdLeaderTolerantSizeRatio
	}
	return policy, ratio
}

// leadersBalanced reports whether PD's balance-leader (count policy, the
// given tolerance in leaders) would move no more leaders onto store id from
// any store in sources (nil: every store), and if so the richest source that
// says so. Stores that are not Up are neither sources nor the target (PD's
// StoreStateFilter).
func leadersBalanced(stores []Store, id uint64, tolerance float64, sources map[uint64]bool) (bool, string) {
	var target *Store
	for i := range stores {
		if stores[i].ID == id {
			target = &stores[i]
		}
	}
	if target == nil || target.StateName != "Up" {
		return false, ""
	}
	score := func(s *Store, delta float64) float64 {
		w := s.LeaderWeight
		if w == 0 {
			w = 1 // PD's default leader-weight (a port that does not read it)
		}
		return (float64(s.LeaderCount) + delta) / math.Max(w, pdMinLeaderWeight)
	}
	want := score(target, tolerance)
	richest := ""
	best := math.Inf(-1)
	for i := range stores {
		s := &stores[i]
		if s.ID == id || s.StateName != "Up" || (sources != nil && !sources[s.ID]) {
			continue
		}
		sc := score(s, -tolerance)
		if sc > want {
			return false, ""
		}
		if sc > best {
			best = sc
			richest = fmt.Sprintf("store %d has %d", s.ID, s.LeaderCount)
		}
	}
	return true, richest
}

// leadersSettled reports whether store id has its leaders back: the plan's
// share of what it held before its eviction, or as many as PD's
// balance-leader gives it (it moves nothing more; note then says so). why
// says what is missing.
func (r *Runner) leadersSettled(ctx context.Context, id uint64, before int, stores []Store, policy string, tolerance float64) (ok bool, why, note string) {
	want := before * r.Plan.Strategy.LeaderReturnPercent / 100
	s, err := r.Nodes[id].Metrics(ctx)
	if err != nil {
		return false, fmt.Sprintf("store %d: reading its leader count: %v", id, err), ""
	}
	if s.Leaders >= want {
		return true, "", ""
	}
	if policy == pdLeaderPolicyCount {
		done, richest := leadersBalanced(stores, id, tolerance, nil)
		if !done {
			// Only the leaders of regions the store follows in can move onto it.
			if sr, ok := r.PD.(StoreRegionsReader); ok {
				if over, err := sr.LeadersOverStore(ctx, id); err == nil {
					sources := map[uint64]bool{}
					for _, l := range over {
						sources[l] = true
					}
					done, richest = leadersBalanced(stores, id, tolerance, sources)
					richest += ", among the leaders of the regions it follows in"
				}
			}
		}
		if done {
			return true, "", fmt.Sprintf("store %d has %d of the %d leaders it held before; PD's balance-leader moves no more onto it (PD counts %d on it, %s; tolerance %g leaders)",
				id, s.Leaders, before, storeLeaders(stores, id), richest, tolerance)
		}
	}
	return false, fmt.Sprintf("store %d has %d of %d leaders back", id, s.Leaders, want), ""
}

// storeLeaders is PD's leader count of store id (0 when PD does not list it).
func storeLeaders(stores []Store, id uint64) int {
	for _, s := range stores {
		if s.ID == id {
			return s.LeaderCount
		}
	}
	return 0
}
