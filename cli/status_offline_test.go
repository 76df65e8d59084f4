package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/sim"
)

func TestStatusPDUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	cl, err := sim.Start(ctx, sim.Options{Stores: 1, Zones: 1, Regions: 3, Speed: 50, Dir: dir})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	defer cl.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	g, out, _ := testGlobals(ctx)
	cmd := &StatusCmd{ConnectFlags: ConnectFlags{Sim: dir, PD: []string{closed}, Timeout: time.Second}, Output: "text"}
	err = cmd.Run(g)
	if err == nil {
		t.Fatalf("status with PD down succeeded:\n%s", out.String())
	}
	var buf bytes.Buffer
	if code := reportErr(&buf, err); code != ExitFailure {
		t.Errorf("exit code %d, want %d\n%s", code, ExitFailure, buf.String())
	}
	msg := buf.String()
	if !strings.Contains(msg, "tikv-ear: error: ") || !strings.Contains(msg, "pd unreachable") ||
		!strings.Contains(msg, "tikv-ear: hint: check --pd") {
		t.Errorf("error output lacks the PD hint:\n%s", msg)
	}
	if out.String() != "" {
		t.Errorf("stdout should be empty on failure: %q", out.String())
	}
}

func TestProgressLine(t *testing.T) {
	var tty bytes.Buffer
	p := newProgressLine(&tty, true)
	for i := 0; i <= 3; i++ {
		p.update(i, 3)
	}
	p.finish()
	if got := tty.String(); !strings.Contains(got, "\r\x1b[Kgathering 2/3 stores…") || !strings.HasSuffix(got, "gathering 3/3 stores…\r\x1b[K") {
		t.Errorf("TTY progress: %q", got)
	}
	var plain bytes.Buffer
	p = newProgressLine(&plain, false)
	for i := 0; i <= 300; i++ {
		p.update(i, 300)
	}
	p.finish()
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 11 || lines[0] != "tikv-ear: gathering 0/300 stores…" || lines[10] != "tikv-ear: gathering 300/300 stores…" || strings.Contains(plain.String(), "\r") {
		t.Errorf("plain progress (one line per tenth): %q", lines)
	}
}

func TestWriteStatusTextNotes(t *testing.T) {
	rep := &gather.Report{
		Complete: false, Partial: []string{"cluster: schedulers: boom"},
		Cluster: gather.Cluster{ID: 42, MaxReplicas: 3, LocationLabels: []string{"zone"}, Regions: gather.RegionHealth{MissPeer: 2, PendingPeer: -1},
			EvictLeaderStores: []uint64{2}, EvictLeaderSchedulers: []string{"evict-leader-scheduler"}, Errors: []string{"schedulers: boom"}},
		Stores: []gather.Store{{
			StoreID: 2, Address: "10.0.1.2:20160", Reachable: true, State: gather.StateFailing, Reason: "its last start failed",
			PD:       gather.PDFacts{Zone: "z2", Version: "8.5.2", StateName: "Disconnected"},
			Config:   &gather.ConfigFacts{Method: "aes256-ctr", MasterKey: gather.MasterKeyFacts{Type: "kms", Vendor: "aws"}, Problems: []gather.Problem{{Severity: "error", File: "/d/tikv.toml", Line: 7, Key: "security.encryption.master-key.key-id", Message: "key id should not be empty", Fix: "set key-id"}}},
			KeyDict:  &gather.KeyDictFacts{Exists: true, Method: "plaintext", KeysExposed: true},
			Coverage: &gather.Coverage{Encrypted: gather.Tally{Files: 1999}, Plaintext: gather.Tally{Files: 1}, FilesPercent: 99.95, BytesPercent: 99.99},
			Warnings: []string{"key.dict exposes keys"},
		}},
	}
	var b bytes.Buffer
	if err := WriteStatusText(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"aes256-ctr  kms/aws", "plaintext (KEYS EXPOSED)", "99.9%/99.9%", // never rounded up to 100%
		"regions: miss-peer 2, pending-peer ?, down-peer 0",
		"evict-leader: evict-leader-scheduler covers stores 2",
		"store 2 (10.0.1.2:20160): failing: its last start failed",
		"error: /d/tikv.toml:7: security.encryption.master-key.key-id: key id should not be empty (fix: set key-id)",
		"warning: key.dict exposes keys", "cluster: error: schedulers: boom", "partial result: 1 source(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}
