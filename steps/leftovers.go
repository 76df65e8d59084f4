package steps

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
)

// RemoveLeftovers removes the evict-leader schedulers an interrupted run
// left, restores PD's leader-schedule-limit when the run raised it, and
// returns how many schedulers it removed.
func RemoveLeftovers(ctx context.Context, pdc PD, last RunState) (int, error) {
	ids := make([]uint64, 0, len(last.Evicted))
	for id := range last.Evicted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if err := pdc.RemoveEvictLeader(ctx, id); err != nil {
			return i, fmt.Errorf("removing the evict-leader scheduler of store %d left by run %s: %w", id, last.Run, err)
		}
	}
	// The run raised PD's leader-schedule-limit and did not record restoring it.
	if last.LimitToRestore != "" {
		orig, err := strconv.Atoi(last.LimitToRestore)
		if err != nil {
			return len(ids), fmt.Errorf("the journal of run %s records leader-schedule-limit %q: %w", last.Run, last.LimitToRestore, err)
		}
		if err := pdc.SetLeaderScheduleLimit(ctx, orig); err != nil {
			return len(ids), fmt.Errorf("restoring PD's leader-schedule-limit to %d after run %s: %w", orig, last.Run, err)
		}
	}
	return len(ids), nil
}

// CloseAbortedRun marks an interrupted run aborted in its journal (after
// RemoveLeftovers restored what it left).
func CloseAbortedRun(jpath string, last RunState) error {
	j, err := OpenJournal(jpath)
	if err != nil {
		return err
	}
	defer j.Close()
	if last.LimitToRestore != "" { // RemoveLeftovers restored it
		if err := j.Append(Record{Run: last.Run, Kind: last.Kind, Step: StepScheduleLimit, State: StateDone, Detail: map[string]string{"restored": last.LimitToRestore}}); err != nil {
			return err
		}
	}
	return j.Append(Record{Run: last.Run, Kind: last.Kind, Step: StepRun, State: StateFailed, Detail: map[string]string{"aborted": "true"}})
}

// LeaderCounts reads every store's leader count from its status port's
// /metrics, as the runner reads it during eviction and settle. A store that
// does not answer (restarting) is left out.
func (e *Engine) LeaderCounts(ctx context.Context, concurrency int) map[uint64]int {
	out := map[uint64]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, concurrency))
	for id, n := range e.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if s, err := n.Metrics(ctx); err == nil {
				mu.Lock()
				out[id] = s.Leaders
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}
