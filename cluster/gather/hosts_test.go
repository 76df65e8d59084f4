package gather

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/sim/clock"
	"github.com/tikv-ear/tikv-ear/sim/host"
)

func nodeFor(h, user string, port int) inventory.Node {
	return inventory.Node{Host: h, SSHUser: user, SSHPort: port}
}

// hostFleet is n simulated hosts with a TiUP layout each but no TiKV process:
// SSH works, the status port does not answer.
type hostFleet struct {
	hosts  []*host.Host
	nodes  []inventory.Node
	stores []pd.StoreInfo
	client *ssh.Client
	// clientOptions built client; a test may build its own from them.
	clientOptions ssh.Options
}

func newHostFleet(tb testing.TB, n int, latency time.Duration) *hostFleet {
	tb.Helper()
	dir := tb.TempDir()
	key, err := host.NewOperatorKey()
	if err != nil {
		tb.Fatal(err)
	}
	identity := filepath.Join(dir, "id_ed25519")
	if err := key.WriteKeyPair(identity); err != nil {
		tb.Fatal(err)
	}
	// A closed port: the status port refuses at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	closedStatus := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	clk := clock.New(50)
	f := &hostFleet{}
	var kh strings.Builder
	for i := range n {
		name := fmt.Sprintf("host-%d", i+1)
		h, err := host.New(host.Config{Name: name, Root: filepath.Join(dir, name), User: "tidb",
			AuthorizedKey: key.Signer.PublicKey(), ControlURL: "http://" + closedStatus + "/host/" + name, Clock: clk})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(h.Close)
		port := 20160 + i
		paths, err := h.LayOut(host.LayoutTiUP, host.Instance{Port: port, StatusPort: 20180, PD: []string{"127.0.0.1:2379"},
			Labels: map[string]string{"zone": "z" + strconv.Itoa(i%3+1)}})
		if err != nil {
			tb.Fatal(err)
		}
		if err := h.Serve(ctx); err != nil {
			tb.Fatal(err)
		}
		h.SetLatency(latency)
		kh.WriteString(knownhosts.Line([]string{knownhosts.Normalize(h.Addr())}, h.HostKey()) + "\n")
		addr := fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250+1, port)
		f.hosts = append(f.hosts, h)
		f.nodes = append(f.nodes, inventory.Node{
			StoreID: uint64(i + 1), Address: addr, StatusAddress: closedStatus,
			Host: "127.0.0.1", SSHPort: h.Port(), SSHUser: "tidb",
			DeployDir: paths.DeployDir, DataDir: paths.DataDir, LogFile: paths.LogFile, ConfigPath: paths.ConfigPath,
			TiUPManaged: true, Labels: map[string]string{"zone": "z" + strconv.Itoa(i%3+1)},
		})
		var st pd.StoreInfo
		st.Store.Id, st.Store.Address, st.Store.StateName = uint64(i+1), addr, pd.StateDisconnected
		f.stores = append(f.stores, st)
	}
	khPath := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(khPath, []byte(kh.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	f.clientOptions = ssh.Options{IdentityFiles: []string{identity}, KnownHostsFiles: []string{khPath}, NoAgent: true}
	f.client = ssh.NewClient(f.clientOptions)
	tb.Cleanup(func() { f.client.Close() })
	return f
}

func TestGatherHostsWithoutTiKV(t *testing.T) {
	f := newHostFleet(t, 3, 0)
	f.hosts[1].SetRefuse(true)
	// A log whose last start failed.
	log := logLine("INFO", tikvlog.MsgDisabled.Text) + logLine("FATAL", tikv.EncryptionInitFailed("IO error No such file or directory (os error 2)", tikv.CodeIO))
	if err := os.WriteFile(f.nodes[2].LogFile, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls [][2]int
	rep, err := Gather(context.Background(), Sources{Stores: f.stores, Nodes: f.nodes, SSH: f.client, HTTP: nil},
		Options{Concurrency: 2, Progress: func(done, total int) {
			mu.Lock()
			calls = append(calls, [2]int{done, total})
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 4 || calls[0] != [2]int{0, 3} || calls[3] != [2]int{3, 3} {
		t.Errorf("progress calls %v, want (0,3) … (3,3)", calls)
	}
	if rep.Complete || len(rep.Stores) != 3 || rep.Cluster.Regions.MissPeer != -1 {
		t.Fatalf("report: complete=%v stores=%d cluster=%+v", rep.Complete, len(rep.Stores), rep.Cluster)
	}
	s1, s2, s3 := rep.Stores[0], rep.Stores[1], rep.Stores[2]
	if !s1.Reachable || s1.Config == nil || !s1.Config.TiUP || s1.Config.Method != "plaintext" || s1.Coverage == nil || s1.KeyDict == nil || s1.KeyDict.Exists {
		t.Errorf("store 1: %+v", s1)
	}
	if s1.State != StateUnknown || !strings.Contains(s1.Reason, "status port does not answer") {
		t.Errorf("store 1 state %s (%s)", s1.State, s1.Reason)
	}
	if s2.Reachable || s2.Config != nil || s2.State != StateUnknown || !strings.Contains(s2.Reason, "cannot be reached over SSH") {
		t.Errorf("store 2 (SSH refused): reachable=%v state=%s (%s) errors=%v", s2.Reachable, s2.State, s2.Reason, s2.Errors)
	}
	if s3.State != StateFailing || !strings.Contains(s3.Reason, "KV:Encryption:Io") {
		t.Errorf("store 3 (FATAL in log): state %s (%s)", s3.State, s3.Reason)
	}
}

// BenchmarkStatusFanout gathers 300 simulated hosts (TiUP layout, no TiKV
// process) through the real SSH client with 20 ms of latency on every SSH
// session, 20 hosts at a time, and reports hosts/s.
func BenchmarkStatusFanout(b *testing.B) {
	const hosts = 300
	f := newHostFleet(b, hosts, 20*time.Millisecond)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		n++
		rep, err := Gather(ctx, Sources{Stores: f.stores, Nodes: f.nodes, SSH: f.client}, Options{Concurrency: 20})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range rep.Stores {
			if !s.Reachable {
				b.Fatalf("store %d unreachable: %v", s.StoreID, s.Errors)
			}
		}
	}
	b.ReportMetric(float64(hosts*n)/time.Since(start).Seconds(), "hosts/s")
}
