//go:build realparts

package realpd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingcap/kvproto/pkg/metapb"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
)

type apiStore struct {
	Store struct {
		ID        uint64 `json:"id"`
		StateName string `json:"state_name"`
	} `json:"store"`
	Status struct {
		LeaderCount int `json:"leader_count"`
		RegionCount int `json:"region_count"`
	} `json:"status"`
}

func getStores(t *testing.T, base string) map[uint64]apiStore {
	t.Helper()
	resp, err := http.Get(base + "/pd/api/v1/stores")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Stores []apiStore `json:"stores"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	out := map[uint64]apiStore{}
	for _, s := range body.Stores {
		out[s.Store.ID] = s
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRealStoresJoinPDAndObeyEviction: six stores bootstrap and join a real
// pd-server, PD shows them Up with their regions and leaders; an evict-leader
// scheduler empties one store of leaders through TransferLeader; a stopped
// store stops heartbeating and PD judges it Disconnected by its own timer.
func TestRealStoresJoinPDAndObeyEviction(t *testing.T) {
	pdc := realparts.MustStartPD(t, 1, "[replication]\nlocation-labels = [\"zone\", \"host\"]\n")
	base := pdc.Members[0].ClientURL
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Dial(ctx, Config{Endpoints: pdc.ClientURLs(), Regions: 60, RegionHeartbeat: time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids, err := c.AllocIDs(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	var stores []Store
	for i, id := range ids {
		stores = append(stores, Store{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 30000+i), StatusAddress: fmt.Sprintf("127.0.0.1:%d", 31000+i),
			Labels: []*metapb.StoreLabel{{Key: "zone", Value: fmt.Sprintf("z%d", i%3+1)}, {Key: "host", Value: fmt.Sprintf("h%d", i+1)}}})
	}
	if err := c.Bootstrap(ctx, stores); err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	start := time.Now()
	var stopped atomic.Uint64
	beat := func() {
		for _, s := range stores {
			if s.ID != stopped.Load() {
				c.StoreHeartbeat(s.ID, "8.5.2", "", start)
			}
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			beat()
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	waitFor(t, "6 stores Up with 60 leaders in all", func() bool {
		ss := getStores(t, base)
		leaders := 0
		for _, s := range ss {
			if s.Store.StateName != "Up" {
				return false
			}
			leaders += s.Status.LeaderCount
		}
		return len(ss) == 6 && leaders == 60
	})
	target := ids[0]
	body := fmt.Sprintf(`{"name":"evict-leader-scheduler","store_id":%d}`, target)
	resp, err := http.Post(base+"/pd/api/v1/schedulers", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST evict-leader: %d", resp.StatusCode)
	}
	waitFor(t, "store 1 has no leaders", func() bool { return getStores(t, base)[target].Status.LeaderCount == 0 })
	stopped.Store(ids[1])
	c.StoreStopped(ids[1])
	waitFor(t, "stopped store Disconnected", func() bool { return getStores(t, base)[ids[1]].Store.StateName == "Disconnected" })
	if n := c.RegionsWithoutQuorum(); n != 0 {
		t.Fatalf("%d regions without quorum with one store down", n)
	}
}

// startTimestamp reads store.start_timestamp from PD's GET /pd/api/v1/store/{id}
// (tikv/pd pkg/response/store.go MetaStore: the metapb.Store PD keeps).
func startTimestamp(t *testing.T, base string, id uint64) int64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/pd/api/v1/store/%d", base, id))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var body struct {
		Store struct {
			StartTimestamp int64 `json:"start_timestamp"`
		} `json:"store"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return 0
	}
	return body.Store.StartTimestamp
}

// TestRealQuickRestartsSeenByPD: a store restarted again and again, each
// restart faster than a second, is seen by PD every time with a new
// start_timestamp (what tikv-ear's ready check waits for), and the other
// stores' PD sessions carry on undisturbed (no stream or heartbeat error
// logged for them). Right after the stores joined, PD reports no pending
// peer: the sim's stores are those of a cluster that ran before.
func TestRealQuickRestartsSeenByPD(t *testing.T) {
	pdc := realparts.MustStartPD(t, 1, "[replication]\nlocation-labels = [\"zone\", \"host\"]\n")
	base := pdc.Members[0].ClientURL
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var logged []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}
	c, err := Dial(ctx, Config{Endpoints: pdc.ClientURLs(), Regions: 30, Logf: logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids, err := c.AllocIDs(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	var stores []Store
	for i, id := range ids {
		stores = append(stores, Store{ID: id, Address: fmt.Sprintf("127.0.0.1:%d", 32000+i), StatusAddress: fmt.Sprintf("127.0.0.1:%d", 33000+i),
			Labels: []*metapb.StoreLabel{{Key: "zone", Value: fmt.Sprintf("z%d", i+1)}, {Key: "host", Value: fmt.Sprintf("h%d", i+1)}}})
	}
	if err := c.Bootstrap(ctx, stores); err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	simStart := time.Unix(1, 0)
	for _, s := range stores {
		c.StoreHeartbeat(s.ID, "8.5.2", "", simStart)
	}
	waitFor(t, "3 stores Up with 30 leaders in all", func() bool {
		ss := getStores(t, base)
		leaders := 0
		for _, s := range ss {
			if s.Store.StateName != "Up" {
				return false
			}
			leaders += s.Status.LeaderCount
		}
		return len(ss) == 3 && leaders == 30
	})
	var pending struct {
		Count int `json:"count"`
	}
	resp, err := http.Get(base + "/pd/api/v1/regions/check/pending-peer")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&pending)
	resp.Body.Close()
	if err != nil || pending.Count != 0 {
		t.Errorf("PD reports %d pending-peer regions right after the stores joined (err %v)", pending.Count, err)
	}
	target := ids[0]
	for i := range 4 {
		before := startTimestamp(t, base, target)
		c.StoreStopped(target)
		simStart = simStart.Add(time.Second)
		c.StoreHeartbeat(target, "8.5.2", "", simStart)
		waitFor(t, fmt.Sprintf("restart %d seen by PD", i), func() bool {
			got := startTimestamp(t, base, target)
			return got != 0 && got != before
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range logged {
		if !strings.HasPrefix(l, fmt.Sprintf("store %d:", target)) {
			t.Errorf("another store's PD session was disturbed by the restarts: %s", l)
		}
	}
}
