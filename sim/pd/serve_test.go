package pd

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

func getURL(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: decoding %q: %v", url, b, err)
		}
	}
	return resp.StatusCode
}

// TestDisconnectedDownAtSpeed runs the real loop on a fast clock: a stopped
// store goes Up -> Disconnected -> Down, and raising max-store-down-time
// through POST /config brings it back to Disconnected.
func TestDisconnectedDownAtSpeed(t *testing.T) {
	clk := clock.New(1000)
	c := New(Config{ClusterID: 1, Regions: 6, MaxStoreDownTime: 2 * time.Minute}, clk, testStores(3))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	urls, err := c.Serve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 3 || !strings.HasPrefix(urls[0], "http://127.0.0.1:") {
		t.Fatalf("urls = %v", urls)
	}
	go func() { // the nodes of stores 2 and 3 keep heartbeating
		tk := clk.NewTicker(c.cfg.HeartbeatInterval)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				c.StoreHeartbeat(2, "8.5.2", "abc", time.Time{})
				c.StoreHeartbeat(3, "8.5.2", "abc", time.Time{})
			}
		}
	}()
	c.StoreStopped(1)

	stateOf := func() string {
		var si StoreInfo
		if code := getURL(t, urls[1]+"/pd/api/v1/store/1", &si); code != 200 {
			t.Fatalf("store 1 = %d", code)
		}
		return si.Store.StateName
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // generous wall bound; no timing is asserted
		for stateOf() != want {
			if time.Now().After(deadline) {
				t.Fatalf("store 1 never became %s (now %s)", want, stateOf())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor(StateDisconnected)
	waitFor(StateDown)
	// A heartbeat right before the read: at ×1000 a loaded machine can delay
	// the loop's next one past the 20 ms (wall) disconnect bound.
	c.StoreHeartbeat(2, "8.5.2", "abc", time.Time{})
	var s2 StoreInfo
	getURL(t, urls[2]+"/pd/api/v1/store/2", &s2)
	if s2.Store.StateName != StateUp {
		t.Errorf("heartbeating store 2 is %s, want Up", s2.Store.StateName)
	}
	resp, err := http.Post(urls[0]+"/pd/api/v1/config", "application/json", strings.NewReader(`{"schedule.max-store-down-time":"100h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || stateOf() != StateDisconnected {
		t.Errorf("after raising max-store-down-time: %d, state %s", resp.StatusCode, stateOf())
	}
	var m MembersResponse
	getURL(t, urls[0]+"/pd/api/v1/members", &m)
	if len(m.Members) != 3 || m.Members[2].ClientUrls[0] != urls[2] || m.Leader.Name != "pd-1" {
		t.Errorf("members = %+v", m)
	}
	if code := getURL(t, urls[0]+"/pd/ping", nil); code != 200 {
		t.Errorf("/pd/ping = %d", code)
	}
	if _, lost := c.LedgerCheck(); lost != 0 {
		t.Errorf("lost writes: %d", lost)
	}
}

func TestByteSizeRoundTrip(t *testing.T) {
	for _, v := range []ByteSize{0, 512, 3 << 30, 460 << 30, 7 << 40} {
		b, _ := json.Marshal(v)
		var back ByteSize
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if diff := float64(back) - float64(v); diff > float64(v)/1000 || diff < -float64(v)/1000 {
			t.Errorf("%d -> %s -> %d", v, b, back)
		}
	}
	if err := json.Unmarshal([]byte(`"5 parsecs"`), new(ByteSize)); err == nil {
		t.Errorf("bad unit accepted")
	}
}
