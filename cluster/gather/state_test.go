package gather

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

func TestDerive(t *testing.T) {
	plainCov := &Coverage{Plaintext: Tally{Files: 8, Bytes: 800}}
	encCov := &Coverage{Encrypted: Tally{Files: 8, Bytes: 800}, FilesPercent: 100, BytesPercent: 100}
	mixed := &Coverage{Encrypted: Tally{Files: 2, Bytes: 200}, Plaintext: Tally{Files: 6, Bytes: 600}, FilesPercent: 25, BytesPercent: 25}
	cfg := func(m string) *ConfigFacts { return &ConfigFacts{Method: m} }
	run := func(m string, init bool) *RunningFacts { return &RunningFacts{Method: m, IsInitialized: init} }
	fatal := &LogFacts{FatalAfterStart: true, Events: []LogEvent{{Level: "FATAL", Name: tikvlog.MsgEncryptionInitFailed.Name,
		Message: tikv.EncryptionInitFailed("IO error No such file or directory (os error 2)", tikv.CodeIO),
		Error:   "IO error No such file or directory (os error 2)", Code: tikv.CodeIO}}}
	for _, tc := range []struct {
		name   string
		s      Store
		want   State
		reason string
	}{
		{"plaintext", Store{Config: cfg("plaintext"), Running: run("plaintext", false), Coverage: plainCov}, StatePlaintext, "none encrypted"},
		{"restart pending", Store{Config: cfg("aes256-ctr"), Running: run("plaintext", false), Coverage: plainCov}, StateEnabling, "restart the store"},
		{"encrypted", Store{Config: cfg("aes256-ctr"), Running: run("aes256-ctr", true), Coverage: encCov}, StateEncrypted, "all 8 data files encrypted"},
		{"partial", Store{Config: cfg("aes256-ctr"), Running: run("aes256-ctr", true), Coverage: mixed}, StateEncryptedPartial, "6 data files still plaintext (25.0% of bytes encrypted)"},
		{"disabling", Store{Config: cfg("plaintext"), Running: run("plaintext", true), Coverage: mixed}, StateEncryptedPartial, "2 data files (25.0% of bytes) are still encrypted"},
		{"no disk facts", Store{Running: run("aes256-ctr", true), Reachable: false}, StateEncrypted, "data files not checked"},
		{"config changed back", Store{Config: cfg("plaintext"), Running: run("aes256-ctr", true), Coverage: encCov}, StateEncrypted, "tikv.toml now sets plaintext"},
		{"failing", Store{Config: cfg("aes256-ctr"), Log: fatal, Reachable: true, KeyFile: &KeyFileFacts{Path: "/k", Exists: true}}, StateFailing, "IO error No such file or directory (os error 2) (KV:Encryption:Io)"},
		{"waiting for key", Store{Config: cfg("aes256-ctr"), Log: fatal, Reachable: true, KeyFile: &KeyFileFacts{Path: "/run/k"}}, StateWaitingForKey, "/run/k does not exist"},
		{"down, no reason", Store{Reachable: true, PD: PDFacts{StateName: "Disconnected"}}, StateUnknown, "PD: Disconnected"},
		{"nothing reachable", Store{PD: PDFacts{StateName: "Up"}}, StateUnknown, "cannot be reached over SSH"},
		{"metrics only", Store{Running: &RunningFacts{}}, StateUnknown, "not /config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := Derive(&tc.s)
			if got != tc.want || !strings.Contains(reason, tc.reason) {
				t.Errorf("Derive = %s, %q; want %s with %q", got, reason, tc.want, tc.reason)
			}
		})
	}
}

// logLine renders a unified-format line (reference pd-and-tiup.md §4; sample
// from tikv/tikv#9701: [2021/02/20 05:21:08.600 +00:00] [INFO] [mod.rs:496] ["encryption is enabled. method = Aes256Ctr"]).
func logLine(level, msg string) string {
	q, _ := json.Marshal(msg)
	return "[2021/02/20 05:21:08.600 +00:00] [" + level + "] [mod.rs:496] [" + string(q) + "]\n"
}

func TestScanLog(t *testing.T) {
	fatalMsg := tikv.EncryptionInitFailed("IO error No such file or directory (os error 2)", tikv.CodeIO)
	log := "partial line from the middle of a record]\n" +
		logLine("INFO", tikvlog.MsgDisabled.Text) +
		logLine("INFO", "some unrelated message") +
		logLine("INFO", tikvlog.MsgBeingEnabled.Format("Aes256Ctr")) +
		logLine("INFO", tikvlog.MsgTryRotateDataKey.Format("Aes256Ctr")) +
		logLine("FATAL", fatalMsg)
	lf := ScanLog([]byte(log), true, 2)
	if !lf.FatalAfterStart {
		t.Errorf("FatalAfterStart = false after a FATAL line")
	}
	if len(lf.Events) != 2 || lf.Events[0].Name != tikvlog.MsgBeingEnabled.Name || lf.Events[0].Method != tikv.MethodAES256CTR ||
		lf.Events[1].Name != tikvlog.MsgEncryptionInitFailed.Name || lf.Events[1].Code != tikv.CodeIO {
		t.Errorf("events (keep 2, per-tick lines left out): %+v", lf.Events)
	}
	if lf.Events[0].Time == nil || lf.Events[0].Time.Year() != 2021 {
		t.Errorf("event time: %v", lf.Events[0].Time)
	}
	lf = ScanLog([]byte(log+logLine("INFO", tikvlog.MsgEnabled.Format("Aes256Ctr"))), true, 8)
	if lf.FatalAfterStart {
		t.Errorf("FatalAfterStart = true although a later start succeeded")
	}
	if lf.BytesRead == 0 || len(lf.Events) != 4 {
		t.Errorf("log facts: %+v", lf)
	}
}

func TestSSHTarget(t *testing.T) {
	for _, tc := range []struct {
		host, user string
		port       int
		def, want  string
	}{
		{"10.0.1.1", "tidb", 22, "", "tidb@10.0.1.1"},
		{"10.0.1.1", "", 2222, "ops", "ops@10.0.1.1:2222"},
		{"tikv-1", "", 0, "", "tikv-1"},
	} {
		n := nodeFor(tc.host, tc.user, tc.port)
		if got := SSHTarget(n, tc.def); got != tc.want {
			t.Errorf("SSHTarget(%+v, %q) = %q, want %q", n, tc.def, got, tc.want)
		}
	}
}

func TestLastReplaceMasterKey(t *testing.T) {
	older, newer := mustTime(t, "2026-03-01T10:00:00Z"), mustTime(t, "2026-05-01T10:00:00Z")
	ev := func(name string, at time.Time) LogEvent { return LogEvent{Name: name, Time: &at} }
	rep := &Report{Stores: []Store{
		{StoreID: 1, Log: &LogFacts{Events: []LogEvent{ev(tikvlog.MsgPersistedReplaceMasterKey.Name, older), ev(tikvlog.MsgEnabled.Name, newer.Add(time.Hour))}}},
		{StoreID: 2},
		{StoreID: 3, Log: &LogFacts{Events: []LogEvent{ev(tikvlog.MsgPersistedReplaceMasterKey.Name, newer)}}},
	}}
	at, store, ok := LastReplaceMasterKey(rep)
	if !ok || !at.Equal(newer) || store != 3 {
		t.Fatalf("LastReplaceMasterKey = %v, %d, %v; want %v from store 3", at, store, ok, newer)
	}
	if _, _, ok := LastReplaceMasterKey(&Report{Stores: []Store{{StoreID: 1, Log: &LogFacts{Events: []LogEvent{ev(tikvlog.MsgEnabled.Name, older)}}}}}); ok {
		t.Fatal("found a rotation in a log without one")
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
