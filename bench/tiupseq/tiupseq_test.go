package tiupseq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake is a cluster on a hand-driven clock: every Sleep advances it, and
// leaders move one per evict poll, ports open after two port polls.
type fake struct {
	mu        sync.Mutex
	now       time.Time
	calls     []string
	leaders   map[uint64]int
	evicting  map[uint64]bool
	listening map[int]int // polls left until listening
	returnTo  map[uint64]int
}

func (f *fake) log(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fake) Leader(context.Context) error { f.log("leader"); return nil }
func (f *fake) Stores(context.Context) ([]Store, error) {
	f.log("stores")
	return []Store{{1, "h1:20160"}, {2, "h2:20160"}, {3, "h3:20160"}}, nil
}
func (f *fake) AddEvictLeader(_ context.Context, id uint64) error {
	f.log("evict %d", id)
	f.evicting[id] = true
	return nil
}
func (f *fake) RemoveEvictLeader(_ context.Context, id uint64) error {
	f.log("remove %d", id)
	f.evicting[id] = false
	f.leaders[id] = f.returnTo[id]
	return nil
}

func (f *fake) instance(id uint64) Instance {
	return Instance{
		Address: fmt.Sprintf("h%d:20160", id), Port: 20160 + int(id),
		Leaders: func(context.Context) (int, error) {
			f.log("count %d", id)
			n := f.leaders[id]
			if f.evicting[id] && n > 0 {
				f.leaders[id] = max(n-100, 0) // moves on before the next poll
			}
			return n, nil
		},
		Restart: func(context.Context) error { f.log("restart %d", id); f.listening[20160+int(id)] = 2; return nil },
		PortListening: func(_ context.Context, port int) (bool, error) {
			f.log("ss %d", id)
			f.listening[port]--
			return f.listening[port] < 0, nil
		},
		Refresh: func(context.Context) error { f.log("refresh %d", id); return nil },
	}
}

// TestSequenceFollowsTiUP checks the order of TiUP's calls and its waits: the
// leader count before eviction, eviction polled until zero, restart, the port
// polled, the scheduler removed, and leaders awaited only for a store that had
// at least 200 (store 2 had 150, store 3 had none: no scheduler, no wait).
func TestSequenceFollowsTiUP(t *testing.T) {
	f := &fake{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		leaders: map[uint64]int{1: 300, 2: 150, 3: 0}, evicting: map[uint64]bool{}, listening: map[int]int{},
		returnTo: map[uint64]int{1: 250}}
	var slept []time.Duration
	opt := Options{
		Now: func() time.Time { return f.now },
		Sleep: func(_ context.Context, d time.Duration) error {
			slept = append(slept, d)
			f.now = f.now.Add(d)
			return nil
		},
	}
	res, err := Run(context.Background(), f, []Instance{f.instance(1), f.instance(2), f.instance(3)}, opt)
	if err != nil {
		t.Fatal(err)
	}
	// The refresh runs in parallel (any order), before anything else.
	refreshed := map[string]bool{}
	for _, c := range f.calls[:3] {
		refreshed[c] = true
	}
	if !refreshed["refresh 1"] || !refreshed["refresh 2"] || !refreshed["refresh 3"] {
		t.Errorf("the first calls %v are not the three refreshes", f.calls[:3])
	}
	got := strings.Join(f.calls[3:], ", ")
	want := strings.Join([]string{
		// store 1: 300 leaders, three evict polls, restart, port polled 3 times, remove, recover (≥ 200)
		"leader", "count 1", "stores", "count 1", "evict 1",
		"stores", "count 1", "stores", "count 1", "stores", "count 1", "stores", "count 1",
		"restart 1", "ss 1", "ss 1", "ss 1", "stores", "remove 1", "stores", "stores", "count 1",
		// store 2: 150 leaders, evicted, no recovery wait (< 200)
		"leader", "count 2", "stores", "count 2", "evict 2", "stores", "count 2", "stores", "count 2", "stores", "count 2",
		"restart 2", "ss 2", "ss 2", "ss 2", "stores", "remove 2",
		// store 3: no leaders: no scheduler added, removal still attempted (a 404 is success)
		"leader", "count 3", "stores", "count 3", "restart 3", "ss 3", "ss 3", "ss 3", "stores", "remove 3",
	}, ", ")
	if got != want {
		t.Fatalf("calls:\n got %s\nwant %s", got, want)
	}
	for _, d := range slept {
		if d != EvictPoll && d != PortPoll {
			t.Errorf("slept %s: TiUP polls every %s (eviction) and %s (port)", d, EvictPoll, PortPoll)
		}
	}
	if len(res.Instances) != 3 || res.Wall() <= 0 || len(res.Warnings) != 0 {
		t.Errorf("result: %d instances, wall %s, warnings %v", len(res.Instances), res.Wall(), res.Warnings)
	}
}
