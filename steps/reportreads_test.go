package steps_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikvstatus"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/steps"
)

// barrierExec holds every store's first command until all stores have sent
// one: a report that read its stores one after the other would never get
// past the first (the test's deadline ends it with an error, not a hang).
type barrierExec struct {
	next    ssh.Executor
	mu      sync.Mutex
	waiting map[string]bool
	want    int
	all     chan struct{}
	// sessions per host and whether a listing read files one od at a time
	sessions map[string]int
	perFile  bool
}

func (b *barrierExec) Run(ctx context.Context, host, cmd string, stdin io.Reader) (ssh.Result, error) {
	b.mu.Lock()
	b.sessions[host]++
	if strings.Contains(cmd, "od -An") {
		b.perFile = true
	}
	first := !b.waiting[host]
	b.waiting[host] = true
	if first && len(b.waiting) == b.want {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-ctx.Done():
		return ssh.Result{}, ctx.Err()
	}
	return b.next.Run(ctx, host, cmd, stdin)
}

// TestReportReadsStoresTogether: after a run, the report reads each store's
// live config, on-disk proof and key file with the stores side by side (not
// 300 stores one after the other), the proof with one listing per store
// (never one od per file), and still proves every store.
func TestReportReadsStoresTogether(t *testing.T) {
	ctx := context.Background()
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 30, Speed: 100, Batching: steps.BatchZone})
	res, err := e.run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &barrierExec{next: e.ssh, waiting: map[string]bool{}, want: 3, all: make(chan struct{}), sessions: map[string]int{}}
	eng := &steps.Engine{PD: steps.PDClient{C: e.pdc}, Nodes: map[uint64]*steps.SSHNode{}, Backend: e.backend, Desired: e.desired}
	for _, n := range e.plan.Nodes {
		eng.Nodes[n.StoreID] = steps.NewSSHNode(b, n, &tikvstatus.StatusClient{BaseURL: "http://" + n.StatusAddress, HTTP: httpClient()})
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := steps.BuildReport(dctx, report.KindApply, e.plan, res, eng, e.refs)
	if dctx.Err() != nil {
		t.Fatal("the report read its stores one after the other")
	}
	if len(r.Stores) != 3 {
		t.Fatalf("%d stores in the report", len(r.Stores))
	}
	for _, st := range r.Stores {
		v := st.Verification
		if v.Coverage == nil || v.Coverage.FilesEncrypted+v.Coverage.FilesPlaintext == 0 || v.KeyFile == nil || st.After.Method != e.desired.Method {
			t.Errorf("store %d: coverage %+v key file %+v after %+v", st.ID, v.Coverage, v.KeyFile, st.After)
		}
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Message, "could not be re-read") {
			t.Errorf("finding: %s", f.Message)
		}
	}
	if b.perFile {
		t.Error("a proof listing read the data files one od at a time")
	}
	for host, n := range b.sessions {
		if n != 3 {
			t.Errorf("%s: %d sessions for the report, want 3 (config, proof with file.dict, key file)", host, n)
		}
	}
}
