package steps

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
)

func testPlan(method, backend string, versions ...string) *Plan {
	p := &Plan{Schema: PlanSchema, Environment: EnvStaging, Cluster: ClusterSection{PD: []string{"http://127.0.0.1:2379"}},
		Target:   Target{Method: method, DataKeyRotationPeriod: "7d", Key: kms.Spec{Backend: backend}, MasterKey: kms.KeyRef{Backend: backend, ID: "k1"}},
		Strategy: DefaultStrategy(), Policies: DefaultPolicies()}
	for i, v := range versions {
		p.Nodes = append(p.Nodes, NodePlan{StoreID: uint64(i + 1), Address: "h:2016" + string(rune('0'+i)), Version: v, Host: "h", ConfigPath: "/c", Service: "tikv-20160.service", Zone: []string{"z1", "z2", "z3"}[i%3], RaftEngine: true})
	}
	return p
}

func reachable(n int) map[uint64]HostFacts {
	yes := true
	m := map[uint64]HostFacts{}
	for i := 1; i <= n; i++ {
		m[uint64(i)] = HostFacts{Reachable: true, AESNI: &yes, FreeBytes: 10 << 30}
	}
	return m
}

func find(checks []Check, id string, store uint64) (Check, bool) {
	for _, c := range checks {
		if c.ID == id && c.StoreID == store {
			return c, true
		}
	}
	return Check{}, false
}

func TestPreflightRaftEngineBugFailsOn612(t *testing.T) {
	p := testPlan("aes256-ctr", "file", "8.5.2", "6.1.2", "8.5.2")
	stores := []Store{{ID: 1, StateName: "Up"}, {ID: 2, StateName: "Up"}, {ID: 3, StateName: "Up"}}
	checks := RunPreflight(Facts{Plan: p, Stores: stores, MaxReplicas: 3, Hosts: reachable(3)})
	c, ok := find(checks, "raft-engine-nonce-bug", 2)
	if !ok || c.Status != Fail || !strings.Contains(c.Message, "Nonce + Counter must be 12/16 bytes, 0") || !strings.Contains(c.Fix, "v6.2.0") {
		t.Fatalf("store 2 (6.1.2) should fail the raft engine gate: %+v", c)
	}
	if _, ok := find(checks, "raft-engine-nonce-bug", 1); ok {
		t.Fatal("8.5.2 must not be flagged")
	}
	if checks[0].Status != Fail {
		t.Fatal("failures must sort first")
	}
}

func TestPreflightClusterChecks(t *testing.T) {
	p := testPlan("aes256-ctr", "aws", "8.5.2", "8.5.2", "8.5.2")
	stores := []Store{{ID: 1, StateName: "Up"}, {ID: 2, StateName: "Disconnected", Address: "b"}, {ID: 3, StateName: "Up"}}
	checks := RunPreflight(Facts{Plan: p, Stores: stores, MaxReplicas: 1, Health: RegionHealth{PendingPeer: 4}, EvictStores: []uint64{3}, Hosts: reachable(3)})
	for _, id := range []string{"stores-up", "max-replicas", "region-health", "no-evict-scheduler"} {
		if c, ok := find(checks, id, 0); !ok || c.Status != Fail {
			t.Errorf("%s should fail: %+v", id, c)
		}
	}
	if len(Blocking(checks)) < 4 {
		t.Fatal("Blocking should return the failures")
	}
}

func TestPreflightVersionGatesForBackends(t *testing.T) {
	p := testPlan("sm4-ctr", "azure", "7.1.6", "8.5.2", "8.5.2")
	checks := RunPreflight(Facts{Plan: p, Stores: []Store{{ID: 1, StateName: "Up"}, {ID: 2, StateName: "Up"}, {ID: 3, StateName: "Up"}}, Hosts: reachable(3)})
	if c, ok := find(checks, "azure-version", 1); !ok || c.Status != Fail {
		t.Fatalf("azure on 7.1.6 must fail: %+v", c)
	}
	if c, ok := find(checks, "sm4-build", 2); !ok || c.Status != Warn {
		t.Fatalf("sm4 on 8.5.2 must warn about the build: %+v", c)
	}
	p = testPlan("aes256-ctr", "aws", "8.1.0")
	p.Target.PreviousMasterKey = &kms.KeyRef{Backend: "aws", ID: "old"}
	checks = RunPreflight(Facts{Plan: p, Stores: []Store{{ID: 1, StateName: "Up"}}, Hosts: reachable(1), Rotation: true})
	if c, ok := find(checks, "kms-rotation-bug", 1); !ok || c.Status != Fail || !strings.Contains(c.Fix, "v8.1.1") {
		t.Fatalf("KMS→KMS rotation on 8.1.0 must fail with the fix versions: %+v", c)
	}
}

func TestPreflightRefusesSilentMasterKeyChange(t *testing.T) {
	p := testPlan("aes256-ctr", "aws", "8.5.2")
	hosts := reachable(1)
	h := hosts[1]
	h.Current = tikv.Encryption{Method: "aes256-ctr", MasterKey: tikv.MasterKey{Type: "file", Path: "/run/tikv-keys/master-g1.key"}}
	hosts[1] = h
	desired := tikv.Encryption{Method: "aes256-ctr", MasterKey: tikv.MasterKey{Type: "kms", Vendor: "aws", KeyID: "arn:k"}}
	checks := RunPreflight(Facts{Plan: p, Stores: []Store{{ID: 1, StateName: "Up"}}, Hosts: hosts, Desired: &desired})
	c, ok := find(checks, "master-key-change", 1)
	if !ok || c.Status != Fail || !strings.Contains(c.Fix, "tikv-ear rotate") {
		t.Fatalf("a silent master-key change must fail preflight: %+v", c)
	}
	desired.PreviousMasterKey = h.Current.MasterKey
	checks = RunPreflight(Facts{Plan: p, Stores: []Store{{ID: 1, StateName: "Up"}}, Hosts: hosts, Desired: &desired})
	if _, ok := find(checks, "master-key-change", 1); ok {
		t.Fatal("keeping the old key as previous-master-key is the safe path and must pass")
	}
}

// TestStoresUpCheck: the one stores-up check the plan's preflight and the
// wizard's first look share. A Tombstone is no store; a Disconnected store
// fails the check with its ID; an Offline store's fix says how to finish or
// cancel its removal.
func TestStoresUpCheck(t *testing.T) {
	up := func(id uint64, state string) Store {
		return Store{ID: id, Address: fmt.Sprintf("10.0.0.%d:20160", id), StateName: state}
	}
	if c := StoresUpCheck([]Store{up(1, "Up"), up(2, "Up"), up(9, "Tombstone")}); c.Status != Pass {
		t.Errorf("every live store Up: %s %q", c.Status, c.Message)
	}
	c := StoresUpCheck([]Store{up(1, "Up"), up(2, "Disconnected"), up(3, "Up")})
	if c.Status != Fail || !slices.Equal(c.Stores, []uint64{2}) || !strings.Contains(c.Message, "store 2 (10.0.0.2:20160) is Disconnected") {
		t.Errorf("a Disconnected store: %s %v %q", c.Status, c.Stores, c.Message)
	}
	c = StoresUpCheck([]Store{up(1, "Up"), up(4, "Offline")})
	if c.Status != Fail || !strings.Contains(c.Fix, "pd-ctl store cancel-delete 4") {
		t.Errorf("an Offline store: %s %q", c.Status, c.Fix)
	}
}
