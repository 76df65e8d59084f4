//go:build realparts

package e2e

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/sim"
)

// pdDo sends a request to PD's leader (any live member forwards it) and
// returns the status and body.
func (e *env) pdDo(method, path, body string) (int, string) {
	e.t.Helper()
	for _, u := range e.pdURLs() {
		req, err := http.NewRequest(method, u+path, strings.NewReader(body))
		if err != nil {
			e.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	e.t.Fatalf("%s %s: no PD member answers", method, path)
	return 0, ""
}

// storeState is PD's state_name of one store (GET /pd/api/v1/store/{id},
// which answers for a Tombstone store too).
func (e *env) storeState(id uint64) string {
	var s struct {
		Store struct {
			StateName string `json:"state_name"`
		} `json:"store"`
	}
	if _, err := e.pdGet(fmt.Sprintf("/pd/api/v1/store/%d", id), &s); err != nil {
		return err.Error()
	}
	return s.Store.StateName
}

// configs fingerprints every tikv.toml (and its backups) on the sim's hosts:
// a refused run changes none of them.
func (e *env) configs() string {
	e.t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(e.c.Options().Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), "tikv.toml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %x\n", p, sha256.Sum256(data))
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

// fail runs the binary and requires it to fail; it returns the output.
func (e *env) fail(args ...string) string {
	e.t.Helper()
	out, err := e.cmd(args...).CombinedOutput()
	var ee *exec.ExitError
	if err == nil {
		e.t.Fatalf("tikv-ear %s succeeded, want a refusal:\n%s", strings.Join(args, " "), tail(out))
	} else if !asExit(err, &ee) {
		e.t.Fatalf("tikv-ear %s: %v", strings.Join(args, " "), err)
	}
	e.t.Logf("tikv-ear %s: exit %d", args[0], ee.ExitCode())
	return string(out)
}

func asExit(err error, ee **exec.ExitError) bool {
	x, ok := err.(*exec.ExitError)
	*ee = x
	return ok
}

// mustContain fails unless out says every one of want.
func mustContain(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, tail([]byte(out)))
		}
	}
}

// node returns the sim node of a store.
func (e *env) node(id uint64) *sim.Node {
	for _, n := range e.c.Nodes() {
		if n.StoreID == id {
			return n
		}
	}
	e.t.Fatalf("no sim node serves store %d", id)
	return nil
}

// TestRealStoreOfflineRefused: a store is made Offline through PD's API
// (DELETE /pd/api/v1/store/{id}: tikv/pd server/api/store.go DeleteStore ->
// RemoveStore, "The store is set as Offline.") after the plan and before
// apply's preflight. PD is draining that store (its regions get new peers
// elsewhere, server/cluster/cluster.go checkStore buries it at zero regions),
// so a rolling restart beside it risks a region's quorum: the engine's
// policy is to refuse (preflight "stores-up" fails on any store neither Up
// nor Tombstone), naming the store and its state, with nothing changed; a
// new plan is refused too, with the way out (wait for Tombstone, or cancel
// the removal). The operator then cancels the removal (POST /pd/api/v1/
// store/{id}/state?state=Up, server/api/store.go SetStoreState -> UpStore)
// and every store is Up again; a new plan and its apply then run. PD may
// still flag idle regions offline-peer then: it recounts the flag only when
// a region's heartbeat changes the region (pkg/statistics/
// region_collection.go RegionStatsNeedUpdate leaves OfflinePeer out), and
// the sim's idle regions send the same heartbeat every time, as an idle
// TiKV's do. No peer of those regions is on an Offline store, so the engine
// warns about them and does not refuse (steps.PDClient.RegionHealth).
func TestRealStoreOfflineRefused(t *testing.T) {
	e := start(t, 1, "serial")
	limit := e.leaderScheduleLimit()
	victim := e.c.Nodes()[4].StoreID
	if code, body := e.pdDo(http.MethodDelete, fmt.Sprintf("/pd/api/v1/store/%d", victim), ""); code != http.StatusOK {
		t.Fatalf("DELETE store %d: %d %s", victim, code, body)
	}
	e.gone = victim
	e.waitFor(fmt.Sprintf("store %d Offline", victim), func() (bool, string) {
		st := e.storeState(victim)
		return st == "Offline", st
	})
	before := e.configs()
	out := e.fail("apply", e.plan, "--yes")
	mustContain(t, "apply beside an Offline store", out, fmt.Sprintf("store %d", victim), "Offline")
	if after := e.configs(); after != before {
		t.Errorf("the refused apply changed configs:\nbefore\n%s\nafter\n%s", before, after)
	}
	out = e.fail(e.planArgs()...)
	mustContain(t, "plan beside an Offline store", out, "stores-up", fmt.Sprintf("store %d is being removed (Offline)", victim),
		fmt.Sprintf("cancel-delete %d", victim), "tikv-ear: hint:")
	if after := e.configs(); after != before {
		t.Errorf("the refused plan changed configs")
	}
	e.assertClean("after apply and plan refused an Offline store", limit)
	// PD has begun moving regions off the store: a region it changed while
	// the store was Offline is flagged offline-peer.
	e.waitFor("PD flagging a region offline-peer", func() (bool, string) {
		n := e.offlinePeers()
		return n > 0, fmt.Sprintf("%d regions", n)
	})

	if code, body := e.pdDo(http.MethodPost, fmt.Sprintf("/pd/api/v1/store/%d/state?state=Up", victim), ""); code != http.StatusOK {
		t.Fatalf("setting store %d Up again: %d %s", victim, code, body)
	}
	e.gone = 0
	e.assertClean("after the store was set Up again", limit)
	t.Logf("PD flags %d region(s) offline-peer with every store Up", e.offlinePeers())
	out = e.must(e.planArgs()...)
	if strings.Contains(out, "offline-peer-stale") {
		t.Logf("the new plan warns: %s", lineWith(out, "offline-peer-stale"))
	}
	e.must("apply", e.plan, "--yes")
	e.assertClean("after apply once the store was Up again", limit)
	e.verify()
}

// offlinePeers is PD's offline-peer region count (-1 when unread).
func (e *env) offlinePeers() int {
	var r struct {
		Count int `json:"count"`
	}
	if _, err := e.pdGet("/pd/api/v1/regions/check/offline-peer", &r); err != nil {
		return -1
	}
	return r.Count
}

// lineWith returns the first line of out that contains s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestRealStoreTombstone: a store is removed through PD's API and PD moves
// its regions away and buries it (Offline -> Tombstone, server/cluster/
// cluster.go checkStore: a Removing store with no region left). PD then
// refuses the store's TiKV (pdpb STORE_TOMBSTONE) and it stops. A plan made
// before that still names the store: apply refuses it, naming the Tombstone
// store, with nothing changed. A new plan leaves the Tombstone store out
// (PD's GET /stores lists Up and Offline only by default, server/api/
// store.go NewStoreStateFilter) and runs on the others.
func TestRealStoreTombstone(t *testing.T) {
	e := start(t, 1, "serial")
	limit := e.leaderScheduleLimit()
	victim := e.c.Nodes()[5].StoreID
	// PD's default store limit (15 peers a minute, pkg/schedule/config
	// defaultStoreLimit) would drain 30 regions in two minutes; the rate is
	// not what this test is about.
	if code, body := e.pdDo(http.MethodPost, "/pd/api/v1/stores/limit", `{"rate": 6000}`); code != http.StatusOK {
		t.Fatalf("POST stores/limit: %d %s", code, body)
	}
	if code, body := e.pdDo(http.MethodDelete, fmt.Sprintf("/pd/api/v1/store/%d", victim), ""); code != http.StatusOK {
		t.Fatalf("DELETE store %d: %d %s", victim, code, body)
	}
	e.gone = victim
	e.waitFor(fmt.Sprintf("store %d Tombstone", victim), func() (bool, string) {
		st := e.storeState(victim)
		return st == "Tombstone", st
	})
	e.node(victim).Proc.Stop()
	e.waitHealthy()

	before := e.configs()
	out := e.fail("apply", e.plan, "--yes")
	mustContain(t, "apply of a plan naming a Tombstone store", out, fmt.Sprintf("store %d", victim), "Tombstone")
	if after := e.configs(); after != before {
		t.Errorf("the refused apply changed configs:\nbefore\n%s\nafter\n%s", before, after)
	}
	e.assertClean("after apply refused a plan naming a Tombstone store", limit)

	e.writePlan()
	plan, err := os.ReadFile(e.plan)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plan, []byte(fmt.Sprintf("store-id = %d\n", victim))) {
		t.Fatalf("the new plan names Tombstone store %d:\n%s", victim, plan)
	}
	e.must("apply", e.plan, "--yes")
	e.assertClean("after apply around a Tombstone store", limit)
}

// TestRealEvictionStuck: one store refuses PD's TransferLeader (the sim's
// eviction-stuck fault: its leaders never move). The engine gives up at its
// evict timeout (policy abort, the headless default), removes the
// evict-leader scheduler it added, restores leader-schedule-limit and says
// so; the store was not restarted. The failed run is over (nothing to
// resume); with the store obeying again, a new apply finishes the job.
func TestRealEvictionStuck(t *testing.T) {
	e := start(t, 1, "serial", "--evict-timeout", "20s")
	limit := e.leaderScheduleLimit()
	// Every store refuses: whichever the run evicts first is stuck (only the
	// leader's store obeys or refuses a TransferLeader).
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultEvictionStuck}); err != nil {
		t.Fatal(err)
	}
	out := e.fail("apply", e.plan, "--yes")
	mustContain(t, "apply with a stuck eviction", out,
		"eviction timed out", "evict-leader scheduler removed", fmt.Sprintf("leader-schedule-limit restored to %v", limit))
	if strings.Contains(out, "✓ restart") {
		t.Errorf("a store was restarted although its eviction never finished:\n%s", tail([]byte(out)))
	}
	e.assertClean("after a stuck eviction", limit)

	if err := e.c.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Off: true}); err != nil {
		t.Fatal(err)
	}
	e.must("apply", e.plan, "--yes")
	e.assertClean("after the apply that followed the stuck run", limit)
	e.verify()
}

// TestRealEvictAheadStoppedByAFailedStart: six stores, serial, against the
// real PD; the store of batch 3 fails to start. Batch 4's store, which may
// already be moving its leaders away (it evicts while batch 3 restarts), is
// stopped with it: the run fails with batch 3's start failure (not as
// interrupted), batch 4's store is never restarted and keeps its config
// byte for byte, and PD is left with no scheduler, the limit restored and
// every store Up. With the fault gone, a new apply finishes the job.
func TestRealEvictAheadStoppedByAFailedStart(t *testing.T) {
	e := start(t, 1, "serial")
	limit := e.leaderScheduleLimit()
	// Serial order: zone, then store ID; one canary. Batch 3 is the first
	// store of z2, batch 4 the second.
	var z2 []*sim.Node
	for _, n := range e.c.Nodes() {
		if n.Zone == "z2" {
			z2 = append(z2, n)
		}
	}
	slices.SortFunc(z2, func(a, b *sim.Node) int { return cmp.Compare(a.StoreID, b.StoreID) })
	failing, next := z2[0], z2[1]
	original, err := os.ReadFile(next.Paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	fault := sim.Fault{Kind: sim.FaultStartFailure, Node: failing.Index}
	if err := e.c.Inject(fault); err != nil {
		t.Fatal(err)
	}
	out := e.fail("apply", e.plan, "--yes")
	mustContain(t, "apply with batch 3's store failing to start", out, "failed to start", fmt.Sprintf("leader-schedule-limit restored to %v", limit))
	if strings.Contains(out, "interrupted") {
		t.Errorf("the run reads as interrupted, not as batch 3's failure:\n%s", tail([]byte(out)))
	}
	if strings.Contains(out, "moving its leaders away while batch 3 restarts") {
		// Stopped while evicting, or held before its restart: either way its
		// scheduler goes.
		mustContain(t, "batch 4 stopped", out, fmt.Sprintf("✓ release store %d", next.StoreID))
	} else {
		t.Logf("batch 4 had not started evicting when batch 3 failed")
	}
	if strings.Contains(out, fmt.Sprintf("▸ restart store %d ", next.StoreID)) {
		t.Errorf("store %d (batch 4) was restarted although batch 3 failed", next.StoreID)
	}
	if now, err := os.ReadFile(next.Paths.ConfigPath); err != nil || string(now) != string(original) {
		t.Errorf("store %d (batch 4) was not restarted but its config changed (err %v)", next.StoreID, err)
	}
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultStartFailure, Node: failing.Index, Off: true}); err != nil {
		t.Fatal(err)
	}
	// systemd's Restart=always brings the failed store back once the fault is gone.
	e.waitFor(fmt.Sprintf("store %d serving again", failing.StoreID), func() (bool, string) {
		return failing.Proc.Running() && e.storeState(failing.StoreID) == "Up", e.storeState(failing.StoreID)
	})
	e.assertClean("after batch 3 failed while batch 4 evicted ahead", limit)
	e.must("apply", e.plan, "--yes")
	e.assertClean("after the apply that followed", limit)
	e.verify()
}
