package steps_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// countingPD counts the engine's PD calls by method.
type countingPD struct {
	steps.PD
	mu    sync.Mutex
	calls map[string]int
}

func (p *countingPD) count(m string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[m]++
}

func (p *countingPD) get(m string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[m]
}

func (p *countingPD) Stores(ctx context.Context) ([]steps.Store, error) {
	p.count("Stores")
	return p.PD.Stores(ctx)
}

func (p *countingPD) RegionHealth(ctx context.Context) (steps.RegionHealth, error) {
	p.count("RegionHealth")
	return p.PD.RegionHealth(ctx)
}

// perStoreCommands is the most remote commands (SSH sessions) a zone
// rollout may cost a store's host: staging (read the config; the file key
// backend's mkdir, write and stat), the swap (one read of the config and the
// log's size, one write), the restart, and one look (log, port and key.dict)
// that finds the store ready, which verification starts from. The ready poll
// is longer than a sim start, so no look at a still-starting store is due
// (the first is one poll after the restart). The count was 10 before the
// look at once after the restart and verification's own look went, 13
// before issue 17's cut (31 at ×10 with a 10 s start).
const perStoreCommands = 8

// TestRolloutRemoteWork: a zone rollout makes at most perStoreCommands
// remote commands per store over one SSH connection per host, and reads
// PD's store list fewer times than stores × polls. The ready poll is longer
// than a sim start, so no look at a still-starting store's log is due: the
// count does not depend on the machine's speed.
func TestRolloutRemoteWork(t *testing.T) {
	e := startSim(t, simConfig{Stores: 6, Zones: 3, Regions: 12, Strategy: func(s *steps.Strategy) {
		s.ReadyPoll = steps.D(time.Second)
		s.ReadyTimeout = steps.D(30 * time.Second)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := e.runner(e.openJournal(), nil)
	cpd := &countingPD{PD: r.PD}
	r.PD = cpd
	before, ssBefore := map[string]int{}, map[string]int{}
	for _, h := range e.c.Hosts() {
		before[h.Name()], ssBefore[h.Name()] = h.Counts().Commands, h.Counts().Shims["ss"]
	}
	res, err := r.Run(ctx, e.batches(ctx))
	if err != nil {
		t.Fatal(err)
	}
	e.assertSafe(ctx, "rollout")
	e.assertAllVerified(res)
	for _, h := range e.c.Hosts() {
		c := h.Counts()
		if got := c.Commands - before[h.Name()]; got > perStoreCommands {
			t.Errorf("%s: %d remote commands in the rollout, want at most %d", h.Name(), got, perStoreCommands)
		}
		// Each store's port accepted a connection from here: no `ss -ltn`.
		if got := c.Shims["ss"] - ssBefore[h.Name()]; got != 0 {
			t.Errorf("%s: %d ss -ltn calls, want none while the port accepts connections from here", h.Name(), got)
		}
		if c.Conns > 2 { // the harness's own look at the inventory may hold one more
			t.Errorf("%s: %d SSH connections, want them reused", h.Name(), c.Conns)
		}
	}
}

// TestReadyLooksAtAStartingStoreEveryFewPolls: while a store starts (its
// status port not answering), its host is asked for the log one poll after
// the restart, then 2, 4 and every 5 ready polls later, not every poll.
func TestReadyLooksAtAStartingStoreEveryFewPolls(t *testing.T) {
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 6, Speed: 10, Batching: steps.BatchSerial, Strategy: func(s *steps.Strategy) {
		s.ReadyPoll = steps.D(100 * time.Millisecond) // 1 s of sim time
		s.ReadyTimeout = steps.D(30 * time.Second)
	}})
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultSlowStart, Duration: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &recorder{}
	r := e.runner(e.openJournal(), rec)
	before := map[string]int{}
	for _, h := range e.c.Hosts() {
		before[h.Name()] = h.Counts().Commands
	}
	res, err := r.Run(ctx, e.batches(ctx))
	if err != nil {
		t.Fatal(err)
	}
	e.assertSafe(ctx, "rollout")
	e.assertAllVerified(res)
	// 20 s of sim start at a 1 s poll: looks at 1, 3, 7, 12 and 17 s while
	// starting, besides the one that finds it ready (in perStoreCommands) and
	// a spare for a start that the machine's load stretched; every poll was
	// 21 looks.
	const most = perStoreCommands + 5 + 1
	for _, h := range e.c.Hosts() {
		if got := h.Counts().Commands - before[h.Name()]; got > most {
			t.Errorf("%s: %d remote commands with a 20 s start, want at most %d (one look every 5 polls)", h.Name(), got, most)
		}
	}
}

// TestReadyAsksTheHostWhenThePortCannotBeReached: when TiKV's advertised
// address refuses a connection from tikv-ear's host (a firewall between
// them, say), readiness asks the host's own `ss -ltn` (TiUP's rule) and the
// rollout goes on.
func TestReadyAsksTheHostWhenThePortCannotBeReached(t *testing.T) {
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 6, Batching: steps.BatchSerial})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := closed.Addr().String()
	closed.Close() // nothing listens there now: connections are refused
	for i := range e.plan.Nodes {
		e.plan.Nodes[i].Address = unreachable
	}
	ssBefore := map[string]int{}
	for _, h := range e.c.Hosts() {
		ssBefore[h.Name()] = h.Counts().Shims["ss"]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := e.run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.assertSafe(ctx, "rollout")
	e.assertAllVerified(res)
	for _, h := range e.c.Hosts() {
		if got := h.Counts().Shims["ss"] - ssBefore[h.Name()]; got == 0 {
			t.Errorf("%s: no ss -ltn call, want the host asked when the port cannot be reached from here", h.Name())
		}
	}
}

// readFailsOnce is an Inspector whose first look asking for key.dict at
// each store (the look that finds it ready) reports the log unreadable; the
// looks after it are the host's own.
type readFailsOnce struct {
	steps.Inspector
	mu     sync.Mutex
	failed map[uint64]bool
	asked  map[uint64]int // looks asking for key.dict (and the log), per store
}

func (k *readFailsOnce) Look(ctx context.Context, n steps.NodePlan, q steps.LookQuery) steps.Look {
	l := k.Inspector.Look(ctx, n, q)
	if !q.KeyDict {
		return l
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked[n.StoreID]++
	if !k.failed[n.StoreID] {
		k.failed[n.StoreID] = true
		unreadable := errors.New("unreadable (test)")
		l.LogRead, l.LogNames, l.Fatal, l.LogErr = false, nil, "", unreadable
	}
	return l
}

// TestVerifyReadsAfreshWhatReadyCouldNotRead: the look that found a store
// ready could not read its log; verification does not take that look as its
// evidence (its log verdict would be "unknown") but asks the host again, and
// the store is verified from the new read.
func TestVerifyReadsAfreshWhatReadyCouldNotRead(t *testing.T) {
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 6, Batching: steps.BatchSerial})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := e.runner(e.openJournal(), nil)
	in := &readFailsOnce{Inspector: r.Inspector, failed: map[uint64]bool{}, asked: map[uint64]int{}}
	r.Inspector = in
	res, err := r.Run(ctx, e.batches(ctx))
	if err != nil {
		t.Fatal(err)
	}
	e.assertAllVerified(res)
	for _, sr := range res.Stores {
		if sr.State.LogUnread != "" || len(sr.State.LogMatches) == 0 || !sr.State.KeyDict.Exists {
			t.Errorf("store %d verified on the unreadable look: log unread %q, log %v, key.dict %+v", sr.StoreID, sr.State.LogUnread, sr.State.LogMatches, sr.State.KeyDict)
		}
		if in.asked[sr.StoreID] < 2 {
			t.Errorf("store %d: the host was asked %d times for key.dict and the log, want the unreadable read repeated", sr.StoreID, in.asked[sr.StoreID])
		}
	}
}
