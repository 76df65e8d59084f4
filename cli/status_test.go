package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// runStatus runs `status` against the sim in dir and decodes its JSON output
// strictly into the documented types.
func runStatus(t *testing.T, ctx context.Context, dir string) (*gather.Report, string) {
	t.Helper()
	g, out, errb := testGlobals(ctx)
	cmd := &StatusCmd{ConnectFlags: ConnectFlags{Sim: dir, Timeout: 5 * time.Second, Concurrency: 4}, Output: "json"}
	if err := cmd.Run(g); err != nil {
		t.Fatalf("status: %v\nstderr:\n%s", err, errb.String())
	}
	dec := json.NewDecoder(strings.NewReader(out.String()))
	dec.DisallowUnknownFields()
	var rep gather.Report
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("status --output json does not decode into gather.Report: %v\n%s", err, out.String())
	}
	if rep.SchemaVersion != gather.SchemaVersion {
		t.Fatalf("schema_version = %d, want %d", rep.SchemaVersion, gather.SchemaVersion)
	}
	return &rep, errb.String()
}

func statusText(t *testing.T, ctx context.Context, dir string) (string, string) {
	t.Helper()
	g, out, errb := testGlobals(ctx)
	cmd := &StatusCmd{ConnectFlags: ConnectFlags{Sim: dir, Timeout: 5 * time.Second, Concurrency: 4}, Output: "text"}
	if err := cmd.Run(g); err != nil {
		t.Fatalf("status: %v\nstderr:\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

func storeByID(t *testing.T, rep *gather.Report, id uint64) gather.Store {
	t.Helper()
	for _, s := range rep.Stores {
		if s.StoreID == id {
			return s
		}
	}
	t.Fatalf("store %d missing from the report", id)
	return gather.Store{}
}

// tableRow returns the text-table line of a store (the one starting with its id).
func tableRow(t *testing.T, text string, id string) []string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == id {
			return f
		}
	}
	t.Fatalf("no table row for store %s:\n%s", id, text)
	return nil
}

func TestStatusAgainstSim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: dir})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	defer cl.Close()
	waitServing(t, ctx, cl)

	// 1. A plaintext cluster.
	rep, stderr := runStatus(t, ctx, dir)
	if !rep.Complete || len(rep.Stores) != 3 {
		t.Fatalf("plaintext cluster: complete=%v stores=%d partial=%v", rep.Complete, len(rep.Stores), rep.Partial)
	}
	if !strings.Contains(stderr, "gathering 3/3 stores") {
		t.Errorf("no progress line on stderr: %q", stderr)
	}
	if rep.Cluster.MaxReplicas != 3 || strings.Join(rep.Cluster.LocationLabels, ",") != "zone,host" || rep.Cluster.ID == 0 {
		t.Errorf("cluster summary: %+v", rep.Cluster)
	}
	if rep.Cluster.Regions.MissPeer != 0 || rep.Cluster.Regions.DownPeer != 0 || len(rep.Cluster.EvictLeaderStores) != 0 {
		t.Errorf("region health / evict-leader on a healthy cluster: %+v", rep.Cluster)
	}
	for _, s := range rep.Stores {
		if s.State != gather.StatePlaintext {
			t.Errorf("store %d: state %s (%s), want plaintext; errors %v", s.StoreID, s.State, s.Reason, s.Errors)
		}
		if s.Config == nil || s.Config.Method != tikv.MethodPlaintext || !s.Config.TiUP || !s.TiUPManaged {
			t.Errorf("store %d: config %+v tiup=%v", s.StoreID, s.Config, s.TiUPManaged)
		}
		if s.Coverage == nil || s.Coverage.Encrypted.Files != 0 || s.Coverage.Plaintext.Files == 0 || s.Coverage.BytesPercent != 0 {
			t.Errorf("store %d: coverage %+v, want plaintext files and 0%% encrypted", s.StoreID, s.Coverage)
		}
		if s.KeyDict == nil || s.KeyDict.Exists {
			t.Errorf("store %d: key.dict %+v, want none", s.StoreID, s.KeyDict)
		}
		if s.PD.StateName != pd.StateUp || s.PD.Zone == "" || s.PD.RegionCount == 0 || s.PD.StartTimestamp == 0 {
			t.Errorf("store %d: PD facts %+v", s.StoreID, s.PD)
		}
		if s.Running == nil || s.Running.IsInitialized || s.Running.Method != tikv.MethodPlaintext {
			t.Errorf("store %d: running %+v", s.StoreID, s.Running)
		}
		if s.Log == nil || len(s.Log.Events) == 0 || s.Log.Events[len(s.Log.Events)-1].Name != tikvlog.MsgDisabled.Name {
			t.Errorf("store %d: log events %+v, want the last to be %q", s.StoreID, s.Log, tikvlog.MsgDisabled.Text)
		}
	}
	text, _ := statusText(t, ctx, dir)
	row := tableRow(t, text, "1")
	if !strings.Contains(strings.Join(row, " "), "plaintext plaintext plaintext proven none 0%/0% yes") {
		t.Errorf("text row of store 1: %q\n%s", row, text)
	}
	if !strings.Contains(text, "cluster ") || !strings.Contains(text, "location-labels zone,host") || strings.Contains(text, "partial result") {
		t.Errorf("text summary:\n%s", text)
	}

	// 2. Enable encryption by hand on node 1 and restart it over SSH.
	n1 := cl.Nodes()[0]
	keyPath := filepath.Join(n1.Host.Root(), "run", "tikv-ear", "master.key")
	writeTestKey(t, keyPath)
	orig, err := os.ReadFile(n1.Paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := tikvconf.ApplyEdits(orig, tikvconf.EncryptionEdits(tikv.Encryption{
		Method: tikv.MethodAES256CTR, MasterKey: tikv.MasterKey{Type: tikv.MasterKeyFile, Path: keyPath},
	})...)
	if err != nil {
		t.Fatalf("editing tikv.toml: %v", err)
	}
	if err := os.WriteFile(n1.Paths.ConfigPath, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	sess := restartOverSSH(t, ctx, dir, n1)
	defer sess.Close()

	// Files written before the restart stay plaintext until compaction
	// rewrites them: encrypted-partial, and new files come out encrypted.
	var s1 gather.Store
	waitFor(t, ctx, "store 1 to write encrypted files", func() bool {
		rep, _ = runStatus(t, ctx, dir)
		s1 = storeByID(t, rep, n1.StoreID)
		return s1.Coverage != nil && s1.Coverage.Encrypted.Files > 0
	})
	if s1.State != gather.StateEncryptedPartial || s1.Coverage.Plaintext.Files == 0 || s1.Coverage.BytesPercent >= 100 {
		t.Errorf("store 1 after enabling: state %s (%s), coverage %+v", s1.State, s1.Reason, s1.Coverage)
	}
	if s1.Running == nil || s1.Running.Method != tikv.MethodAES256CTR || !s1.Running.IsInitialized || s1.Running.MasterKeyType != tikv.MasterKeyFile {
		t.Errorf("store 1 running: %+v", s1.Running)
	}
	if s1.Config == nil || s1.Config.Method != tikv.MethodAES256CTR || s1.Config.MasterKey.Path != keyPath {
		t.Errorf("store 1 config: %+v", s1.Config)
	}
	if s1.KeyDict == nil || !s1.KeyDict.Exists || s1.KeyDict.Method != tikv.MetadataMethodAES256GCM || s1.KeyDict.KeysExposed {
		t.Errorf("store 1 key.dict: %+v", s1.KeyDict)
	}
	if s1.Coverage == nil || s1.Coverage.Encrypted.Files == 0 || s1.FileDict == nil || s1.FileDict.Methods[tikv.MethodAES256CTR] == 0 {
		t.Errorf("store 1 coverage %+v file.dict %+v", s1.Coverage, s1.FileDict)
	}
	if s1.KeyFile == nil || !s1.KeyFile.Exists || s1.KeyFile.Mode != "0400" || s1.KeyFile.Size != tikv.FileKeySize {
		t.Errorf("store 1 key file: %+v", s1.KeyFile)
	}
	if s1.Log == nil || !hasEvent(s1.Log, tikvlog.MsgBeingEnabled.Name, tikv.MethodAES256CTR) {
		t.Errorf("store 1 log lacks %q: %+v", tikvlog.MsgBeingEnabled.Text, s1.Log)
	}
	for _, id := range []uint64{2, 3} {
		if s := storeByID(t, rep, id); s.State != gather.StatePlaintext {
			t.Errorf("store %d: state %s (%s), want plaintext", id, s.State, s.Reason)
		}
	}
	text, _ = statusText(t, ctx, dir)
	row1 := strings.Join(tableRow(t, text, "1"), " ")
	if !strings.Contains(row1, "aes256-ctr file encrypted-partial proven aes256-gcm") {
		t.Errorf("text row of store 1: %q\n%s", row1, text)
	}

	// 3. Node 2 refuses SSH: a partial result that still shows every store.
	if err := cl.Inject(sim.Fault{Kind: sim.FaultSSHRefuse, Node: 2}); err != nil {
		t.Fatal(err)
	}
	rep, stderr = runStatus(t, ctx, dir)
	s2 := storeByID(t, rep, 2)
	if rep.Complete || s2.Reachable || len(s2.Errors) == 0 || s2.Errors[0].Source != gather.SourceSSH {
		t.Fatalf("ssh-refuse: complete=%v store 2 reachable=%v errors=%+v", rep.Complete, s2.Reachable, s2.Errors)
	}
	if s2.Config != nil || s2.Coverage != nil || s2.Running == nil {
		t.Errorf("ssh-refuse: store 2 config=%v coverage=%v running=%v (the status port still answers)", s2.Config, s2.Coverage, s2.Running)
	}
	if !strings.Contains(strings.Join(rep.Partial, "\n"), "store 2") || !strings.Contains(stderr, "partial result") {
		t.Errorf("partial: %v, stderr %q", rep.Partial, stderr)
	}
	if s := storeByID(t, rep, 3); !s.Reachable || s.State != gather.StatePlaintext {
		t.Errorf("store 3 during node 2's fault: reachable=%v state=%s", s.Reachable, s.State)
	}
	text, _ = statusText(t, ctx, dir)
	t.Logf("status with node 2 refusing SSH:\n%s", text)
	if !strings.Contains(text, "store 2 (") || !strings.Contains(text, "unreachable over SSH") || !strings.Contains(text, "error: ssh:") {
		t.Errorf("text notes for an unreachable node:\n%s", text)
	}
	if err := cl.Inject(sim.Fault{Kind: sim.FaultSSHRefuse, Node: 2, Off: true}); err != nil {
		t.Fatal(err)
	}

	// 4. The key file vanishes (tmpfs lost on reboot) and node 1 restarts: waiting-for-key.
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	restartOnly(t, ctx, sess, n1)
	waitFor(t, ctx, "store 1 to stop serving", func() bool {
		_, err := steps.StatusClient(steps.NodePlanOf(sess.Inventory.Nodes[0], ""), time.Second).Metrics(ctx)
		return err != nil
	})
	rep, _ = runStatus(t, ctx, dir)
	s1 = storeByID(t, rep, 1)
	if s1.State != gather.StateWaitingForKey || s1.KeyFile == nil || s1.KeyFile.Exists {
		t.Errorf("store 1 without its key: state %s (%s), key file %+v", s1.State, s1.Reason, s1.KeyFile)
	}
	if s1.Log == nil || !s1.Log.FatalAfterStart {
		t.Errorf("store 1 log: want a FATAL after the last start: %+v", s1.Log)
	}
}

// waitServing waits until every node's process listens: sim.Start returns as
// soon as PD shows the stores Up, and the sim's PD creates them Up before the
// first heartbeat.
func waitServing(t *testing.T, ctx context.Context, cl *sim.Cluster) {
	t.Helper()
	waitFor(t, ctx, "every simulated store to serve", func() bool {
		for _, n := range cl.Nodes() {
			if !n.Proc.Running() {
				return false
			}
		}
		return true
	})
}

// writeTestKey writes a random file master key (64 hex digits and a newline, mode 0400).
func writeTestKey(t *testing.T, p string) {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(hex.EncodeToString(raw)+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
}

func hasEvent(l *gather.LogFacts, name, method string) bool {
	for _, e := range l.Events {
		if e.Name == name && e.Method == method {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// restartOverSSH connects to the sim, restarts the node's unit over SSH and
// waits until PD shows the store Up with a new start timestamp.
func restartOverSSH(t *testing.T, ctx context.Context, dir string, n *sim.Node) *Session {
	t.Helper()
	sess, err := ConnectFlags{Sim: dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	before, err := sess.PD.Store(ctx, n.StoreID)
	if err != nil {
		t.Fatal(err)
	}
	restartOnly(t, ctx, sess, n)
	waitFor(t, ctx, "the restarted store to be Up with a new start time", func() bool {
		si, err := sess.PD.Store(ctx, n.StoreID)
		return err == nil && si.Store.StateName == pd.StateUp && si.Store.StartTimestamp > before.Store.StartTimestamp
	})
	return sess
}

func restartOnly(t *testing.T, ctx context.Context, sess *Session, n *sim.Node) {
	t.Helper()
	systemctl(t, ctx, sess, n, "restart")
}

// systemctl runs `systemctl <verb> <unit>` for the node over SSH.
func systemctl(t *testing.T, ctx context.Context, sess *Session, n *sim.Node, verb string) {
	t.Helper()
	var target string
	for _, in := range sess.Inventory.Nodes {
		if in.StoreID == n.StoreID {
			target = gather.SSHTarget(in, sess.Flags.SSHUser)
		}
	}
	res, err := sess.SSH.Run(ctx, target, "systemctl "+verb+" "+n.Paths.UnitName, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("systemctl %s over SSH: %v exit %d %s", verb, err, res.ExitCode, res.Stderr)
	}
}
