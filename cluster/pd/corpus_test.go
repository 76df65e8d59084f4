package pd

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// corpusBody reads testdata/synthetic/pd/<name> without its provenance header.
func corpusBody(t *testing.T, name string) []byte { return corpus.Read(t, "synthetic/pd", name) }

// TestCorpusPDBodies decodes every PD body of testdata/synthetic/pd with the type the
// client uses for its endpoint and checks what tikv-ear reads from it: every
// store state (Up, Disconnected, Down, Offline, Tombstone) and every shape of
// a region check, PD v2.0's bare array included.
func TestCorpusPDBodies(t *testing.T) {
	stores := func(want ...string) func(t *testing.T, b []byte) {
		return func(t *testing.T, b []byte) {
			var out storesInfo
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range out.Stores {
				got = append(got, s.Store.StateName)
				if s.Store.Id == 0 || s.Store.Address == "" {
					t.Errorf("store without id or address: %+v", s.Store)
				}
			}
			if out.Count != len(out.Stores) || !slices.Equal(got, want) {
				t.Errorf("count %d, states %v; want %v", out.Count, got, want)
			}
		}
	}
	store := func(want string, leaders int) func(t *testing.T, b []byte) {
		return func(t *testing.T, b []byte) {
			var out StoreInfo
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if out.Store.StateName != want || out.Status.LeaderCount != leaders {
				t.Errorf("state %q leaders %d; want %q %d", out.Store.StateName, out.Status.LeaderCount, want, leaders)
			}
		}
	}
	check := func(kind RegionCheck, count int, ids []uint64, storesWanted map[uint64]int) func(t *testing.T, b []byte) {
		return func(t *testing.T, b []byte) {
			out := RegionsCheck{Kind: kind}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if out.Kind != kind || out.Count != count || !slices.Equal(out.RegionIDs(), ids) {
				t.Errorf("kind %s count %d ids %v; want %s %d %v", out.Kind, out.Count, out.RegionIDs(), kind, count, ids)
			}
			if got := out.StoreIDs(); len(got) != len(storesWanted) {
				t.Errorf("stores %v, want %v", got, storesWanted)
			} else {
				for id, n := range storesWanted {
					if got[id] != n {
						t.Errorf("stores %v, want %v", got, storesWanted)
					}
				}
			}
		}
	}
	cases := map[string]func(t *testing.T, b []byte){
		"stores-v8.5-all-up.json":                  stores(StateUp, StateUp, StateUp),
		"store-v8.5-disconnected.json":             store(StateDisconnected, 11),
		"store-v8.5-down.json":                     store(StateDown, 0),
		"store-v8.5-offline.json":                  store(StateOffline, 0),
		"stores-v8.5-with-tombstone.json":          stores(StateUp, StateTombstone),
		"stores-v8.5-check-down-disconnected.json": stores(StateDisconnected, StateDown),
		"stores-v4.0-mixed.json":                   stores(StateUp, StateDisconnected, StateOffline),
		"stores-v2.1-up.json":                      stores(StateUp),
		"regions-check-v2.0-miss-peer-empty.json":  check(CheckMissPeer, 0, []uint64{}, nil),
		"regions-check-v2.0-null.json":             check(CheckPendingPeer, 0, []uint64{}, nil),
		"regions-check-v2.0-down-peer.json":        check(CheckDownPeer, 1, []uint64{88}, map[uint64]int{5: 1}),
		"regions-check-v8.5-miss-peer-empty.json":  check(CheckMissPeer, 0, []uint64{}, nil),
		"regions-check-v8.5-down-peer.json":        check(CheckDownPeer, 1, []uint64{88}, map[uint64]int{5: 1}),
		"regions-check-v4.0-pending-peer.json":     check(CheckPendingPeer, 1, []uint64{12}, map[uint64]int{7: 1}),
		"cluster-v8.5.json": func(t *testing.T, b []byte) {
			var c Cluster
			if err := json.Unmarshal(b, &c); err != nil || c.Id != 7000000000000000001 || c.MaxPeerCount != 3 {
				t.Errorf("cluster %+v, %v", c, err)
			}
		},
		"config-replicate-v8.5.json": func(t *testing.T, b []byte) {
			var rc ReplicationConfig
			if err := json.Unmarshal(b, &rc); err != nil || rc.MaxReplicas != 3 || !rc.EnablePlacementRules || strings.Join(rc.LocationLabels, ",") != "zone,host" {
				t.Errorf("replication config %+v, %v", rc, err)
			}
		},
		"schedulers-v8.5-evict-leader.json": func(t *testing.T, b []byte) {
			var names []string
			if err := json.Unmarshal(b, &names); err != nil || !slices.Contains(names, EvictLeaderScheduler) {
				t.Errorf("schedulers %v, %v", names, err)
			}
		},
	}
	var covered []string
	for n := range cases {
		covered = append(covered, n)
	}
	corpus.RequireCases(t, "synthetic/pd", "*.json", covered)
	names := corpus.Names(t, "synthetic/pd", "*.json")
	states := map[string]bool{}
	for _, n := range names {
		t.Run(n, func(t *testing.T) { cases[n](t, corpusBody(t, n)) })
		for _, s := range []string{StateUp, StateDisconnected, StateDown, StateOffline, StateTombstone} {
			if bytes.Contains(corpusBody(t, n), []byte(`"state_name": "`+s+`"`)) {
				states[s] = true
			}
		}
	}
	if len(states) != 5 {
		t.Errorf("the corpus covers store states %v, want all five", states)
	}
}
