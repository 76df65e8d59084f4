package steps

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// pace is what the runner shares between the stores of a run so that waiting
// costs neither time nor load: one PD store poll serves every store of a batch,
// and polls are timed from what the cluster showed (issue 17).
type pace struct {
	mu sync.Mutex
	// The last PD store list, when it was read, and a read in flight.
	stores   []Store
	storesAt time.Time
	inflight chan struct{}
	storeErr error
	// start is the fastest restart-to-ready seen in this run (0: none yet).
	start time.Duration
	// staging is the run's staging, running beside the first eviction;
	// staged closes a store's channel once it is staged; firstBatch is the
	// index of the run's first batch (the one that waits for its own stores only).
	staging    *settleFuture
	staged     map[uint64]chan struct{}
	firstBatch int
	// hosts bounds the stores whose hosts are being worked on over SSH at once.
	hosts     chan struct{}
	hostsOnce sync.Once
}

// HostFanOut is how many stores' hosts the runner works on over SSH at once
// (swap, restart, readiness checks, verification), whatever the batch size: a
// zone of 100 stores would otherwise start 100 remote shells at the same
// moment, and every host command costs the host a process.
const HostFanOut = 32

// onHost runs f while holding one of HostFanOut host slots.
func (r *Runner) onHost(f func()) {
	r.pace.hostsOnce.Do(func() { r.pace.hosts = make(chan struct{}, HostFanOut) })
	r.pace.hosts <- struct{}{}
	defer func() { <-r.pace.hosts }()
	f()
}

// sharedStores reads PD's store list once for every store that asks within a
// quarter of the shortest poll: the stores of a batch poll together, and PD
// answers once. A read in flight is waited for, not repeated.
func (r *Runner) sharedStores(ctx context.Context) ([]Store, error) {
	maxAge := min(r.Plan.Strategy.ReadyPoll.Duration, r.Plan.Strategy.EvictPoll.Duration, r.Plan.Strategy.SettlePoll.Duration) / 4
	p := &r.pace
	for {
		p.mu.Lock()
		if p.inflight == nil && !p.storesAt.IsZero() && p.storeErr == nil && r.now().Sub(p.storesAt) <= maxAge {
			stores := p.stores
			p.mu.Unlock()
			return stores, nil
		}
		if wait := p.inflight; wait != nil {
			p.mu.Unlock()
			select {
			case <-wait:
				p.mu.Lock()
				stores, err := p.stores, p.storeErr
				p.mu.Unlock()
				if err == nil {
					return stores, nil
				}
				continue // the shared read failed: read for ourselves
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		p.inflight = done
		p.mu.Unlock()
		stores, err := r.PD.Stores(ctx)
		p.mu.Lock()
		p.stores, p.storeErr, p.inflight = stores, err, nil
		if err == nil {
			p.storesAt = r.now()
		}
		p.mu.Unlock()
		close(done)
		return stores, err
	}
}

// FanOut is how many stores of a batch the runner talks to at once where
// it does the same thing to each (releasing schedulers): enough to hide PD's
// round trips, few enough not to queue on a 2-core PD.
const FanOut = 16

// fanOut runs f for every id, at most FanOut at a time, and returns when all are done.
func (r *Runner) fanOut(ids []uint64, f func(uint64)) {
	sem := make(chan struct{}, FanOut)
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(id)
		})
	}
	wg.Wait()
}

// pdSeesNewProcess reports whether PD's shared store list shows the store Up
// with a start timestamp other than prevStart (0: any).
func (r *Runner) pdSeesNewProcess(ctx context.Context, id uint64, prevStart int64) bool {
	s, ok, err := r.storeErr(ctx, id)
	return err == nil && ok && s.StateName == "Up" && (prevStart == 0 || s.StartTimestamp != prevStart)
}

// awaitStoresUp waits, like the gate and as long, until PD answers and shows
// every store but those in except Up: the check before a batch evicts while
// the previous batch (in except) still settles.
func (r *Runner) awaitStoresUp(ctx context.Context, batch int, except []uint64) error {
	deadline := r.now().Add(r.Plan.Strategy.SettleTimeout.Duration)
	for {
		why := ""
		stores, err := r.PD.Stores(ctx)
		if err != nil {
			why = "reading stores from PD: " + err.Error()
		}
		for _, s := range stores {
			if why == "" && !slices.Contains(except, s.ID) && s.StateName != "Tombstone" && s.StateName != "Up" {
				why = fmt.Sprintf("store %d (%s) is %s", s.ID, s.Address, s.StateName)
			}
		}
		if why == "" {
			return nil
		}
		if r.now().After(deadline) {
			return r.fail(StepSettle, 0, batch, fmt.Errorf("the cluster is not safe to restart batch %d: %s (waited %s)", batch, why, r.Plan.Strategy.SettleTimeout.Duration))
		}
		r.emit(Event{Kind: StepProgress, Step: StepSettle, Batch: batch, Message: "waiting before eviction: " + why})
		if err := r.sleep(ctx, r.Plan.Strategy.SettlePoll.Duration); err != nil {
			return err
		}
	}
}

// evictWait is how long to wait before the next leader count of an eviction:
// the plan's poll, or less when PD's pace so far (leaders moved since the
// scheduler was added) says the last leader leaves sooner; never below a
// tenth of the poll.
func (r *Runner) evictWait(added time.Time, before, left int) time.Duration {
	poll := r.Plan.Strategy.EvictPoll.Duration
	moved := before - left
	if moved <= 0 || left <= 0 {
		return poll
	}
	eta := time.Duration(float64(r.now().Sub(added)) * float64(left) / float64(moved))
	return max(min(eta, poll), poll/10)
}

// readyWait is how long to wait before the next look at a restarting store:
// the plan's poll until 80 % of the fastest start seen in this run has passed,
// an eighth of it after (a store is most likely ready then; those looks read
// only PD's shared store list), never longer than the poll, so that a FATAL
// start is noticed as fast as before.
func (r *Runner) readyWait(started time.Time) time.Duration {
	poll := r.Plan.Strategy.ReadyPoll.Duration
	r.pace.mu.Lock()
	learned := r.pace.start
	r.pace.mu.Unlock()
	if learned <= 0 {
		return poll
	}
	if early := learned*8/10 - r.now().Sub(started); early > 0 {
		return min(early, poll)
	}
	return poll / 8
}

// learnStart records a store's restart-to-ready time.
func (r *Runner) learnStart(d time.Duration) {
	r.pace.mu.Lock()
	defer r.pace.mu.Unlock()
	if r.pace.start == 0 || d < r.pace.start {
		r.pace.start = d
	}
}

// settleFuture is work running beside the next batch's eviction: a batch's
// settle, or the run's staging.
type settleFuture struct {
	done chan struct{}
	err  error
	ids  []uint64 // the stores settling
}

// wait returns the settle's result once it is over (nil for no settle).
func (f *settleFuture) wait() error {
	if f == nil {
		return nil
	}
	<-f.done
	return f.err
}

// stageOrder is the plan's nodes in the order their batches run (the rest,
// not in any batch, after them).
func stageOrder(nodes []NodePlan, bp BatchPlan) []NodePlan {
	var out []NodePlan
	seen := map[uint64]bool{}
	byID := map[uint64]NodePlan{}
	for _, n := range nodes {
		byID[n.StoreID] = n
	}
	for _, b := range bp.Batches {
		for _, id := range b.Stores {
			if n, ok := byID[id]; ok && !seen[id] {
				seen[id] = true
				out = append(out, n)
			}
		}
	}
	for _, n := range nodes {
		if !seen[n.StoreID] {
			out = append(out, n)
		}
	}
	return out
}

// stagedFor waits until the stores of batch may be swapped and restarted:
// for the run's first batch, once its own stores are staged; for any other,
// once staging is over. It returns staging's error when a store it waits
// for was not staged.
func (r *Runner) stagedFor(batch int, ids []uint64) error {
	f := r.pace.staging
	if f == nil {
		return nil
	}
	if batch != r.pace.firstBatch {
		return f.wait()
	}
	for _, id := range ids {
		ch := r.pace.staged[id]
		if ch == nil {
			return f.wait()
		}
		select {
		case <-ch:
		case <-f.done:
			select {
			case <-ch:
			default:
				if f.err != nil {
					return f.err
				}
			}
		}
	}
	return nil
}

// stageAsync starts staging nodes (in that order) and returns at once.
func (r *Runner) stageAsync(ctx context.Context, nodes []NodePlan) *settleFuture {
	r.pace.staged = make(map[uint64]chan struct{}, len(nodes))
	for _, n := range nodes {
		r.pace.staged[n.StoreID] = make(chan struct{})
	}
	f := &settleFuture{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer func() {
			if p := recover(); p != nil {
				f.err = r.fail(StepStage, 0, 0, fmt.Errorf("internal error: %v\n%s", p, debug.Stack()))
			}
		}()
		f.err = r.stage(ctx, nodes)
	}()
	return f
}

// settleAsync starts the batch's settle and returns at once.
func (r *Runner) settleAsync(ctx context.Context, batch int, ids []uint64, before map[uint64]int, last bool) *settleFuture {
	f := &settleFuture{done: make(chan struct{}), ids: ids}
	go func() {
		defer close(f.done)
		defer func() {
			if p := recover(); p != nil {
				f.err = r.fail(StepSettle, 0, batch, fmt.Errorf("internal error: %v\n%s", p, debug.Stack()))
			}
		}()
		f.err = r.settle(ctx, batch, ids, before, last)
	}()
	return f
}

// EachNode calls f for every node, at most concurrency at a time (at least
// one), and returns when all are done. Results go by index, so callers keep
// the plan's order.
func EachNode(nodes []NodePlan, concurrency int, f func(i int, n NodePlan)) {
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, n := range nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i, n)
		})
	}
	wg.Wait()
}
