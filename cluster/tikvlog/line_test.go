package tikvlog

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

func TestParseLineRFCSamples(t *testing.T) {
	l, err := ParseLine(`[2018/12/15 14:20:11.015 +08:00] [INFO] [tikv-server.rs:13] ["TiKV Started"]`)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2018, 12, 15, 14, 20, 11, 15e6, time.FixedZone("", 8*3600))
	if !l.Time.Equal(want) || l.Level != "INFO" || l.Source != "tikv-server.rs:13" || l.Message != "TiKV Started" || len(l.Fields) != 0 {
		t.Errorf("got %+v", l)
	}
	l, err = ParseLine(`[2018/12/15 14:20:11.015 +08:00] [WARN] [session.go:1234] ["Slow query"] [sql="SELECT * FROM TABLE\nWHERE ID=\"abc\""] [duration=1.345s] [client=192.168.0.123:12345] [txn_id=123000102231]` + "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	wantFields := []Field{{"sql", "SELECT * FROM TABLE\nWHERE ID=\"abc\""}, {"duration", "1.345s"}, {"client", "192.168.0.123:12345"}, {"txn_id", "123000102231"}}
	if len(l.Fields) != len(wantFields) {
		t.Fatalf("fields = %+v", l.Fields)
	}
	for i, f := range wantFields {
		if l.Fields[i] != f {
			t.Errorf("field %d = %+v, want %+v", i, l.Fields[i], f)
		}
	}
	l, err = ParseLine(`[2019/01/15 13:40:39.619 +08:00] [INFO] [mod.rs:470] [Welcome] ["raft id"=1] [thread_id=7] [empty=]`)
	if err != nil {
		t.Fatal(err)
	}
	if l.Message != "Welcome" || l.Fields[0].Key != "raft id" {
		t.Errorf("got %+v", l)
	}
	if v, ok := l.Field("empty"); !ok || v != "" {
		t.Errorf("empty field = %q %v", v, ok)
	}
	if v, ok := l.Field("thread_id"); !ok || v != "7" {
		t.Errorf("thread_id = %q %v", v, ok)
	}
}

func TestParseLineErrors(t *testing.T) {
	bad := []string{
		``,
		`plain text`,
		`[2018/12/15 14:20:11 +08:00] [INFO] [a.rs:1] [m]`,
		`[2018/12/15 14:20:11.015 +08:00] [NOTICE] [a.rs:1] [m]`,
		`[2018/12/15 14:20:11.015 +08:00] [INFO] [a.rs:1]`,
		`[2018/12/15 14:20:11.015 +08:00] [INFO] [a.rs:1] ["unterminated]`,
		`[2018/12/15 14:20:11.015 +08:00] [INFO] [a.rs:1] [m] [novalue]`,
		`[2018/12/15 14:20:11.015 +08:00] [INFO] [a.rs:1] [m]  [k=v]`,
		`[2018/12/15 14:20:11.015 +08:00] [INFO] [a.rs:1] ["bad \q"]`,
	}
	for _, s := range bad {
		if _, err := ParseLine(s); err == nil {
			t.Errorf("%q parsed", s)
		} else if !strings.HasPrefix(err.Error(), "log line") {
			t.Errorf("%q: error %q lacks context", s, err)
		}
	}
}

const sampleLog = `[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:88] ["Welcome to TiKV"]
garbage line
[2026/11/27 10:00:00.100 +00:00] [INFO] [mod.rs:1] ["encryption: none of key dictionary and file dictionary are found."]
[2026/11/27 10:00:00.101 +00:00] [INFO] [mod.rs:2] ["encryption is being enabled. method = Aes256Ctr"]
[2026/11/27 10:00:00.102 +00:00] [INFO] [mod.rs:3] ["encryption: rotate data key."] [key_id=9291156302549018620] [thread_id=1]
[2026/11/27 10:05:00.000 +00:00] [INFO] [mod.rs:2] ["encryption is enabled. method = Sm4Ctr"]
[2026/11/27 10:06:00.000 +00:00] [INFO] [mod.rs:4] ["encryption: persisted result after replace master key."]
[2026/11/27 10:07:00.000 +00:00] [FATAL] [lib.rs:478] ["Encryption failed to initialize: Both master key failed, current key x, previous key y.. code: KV:Encryption:BothMasterKeyFail"] [backtrace="0: x\n1: y"]
[2026/11/27 10:08:00.000 +00:00] [FATAL] [server.rs:9] ["failed to open raft engine: Other(\"Nonce + Counter must be 12/16 bytes, 0\")"]
`

func TestScanner(t *testing.T) {
	s := NewScanner(strings.NewReader(sampleLog))
	var evs []Event
	for s.Scan() {
		evs = append(evs, s.Event())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if s.Counts[Unparsed] != 1 {
		t.Errorf("unparsed = %d, want 1", s.Counts[Unparsed])
	}
	wantNames := []string{MsgNoDicts.Name, MsgBeingEnabled.Name, MsgRotateDataKey.Name, MsgEnabled.Name, MsgPersistedReplaceMasterKey.Name, MsgEncryptionInitFailed.Name, MsgRaftEngineOpenFailed.Name}
	if len(evs) != len(wantNames) {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	for i, n := range wantNames {
		if evs[i].Msg.Name != n {
			t.Errorf("event %d = %s, want %s", i, evs[i].Msg.Name, n)
		}
	}
	if evs[1].Method != tikv.MethodAES256CTR || evs[3].Method != tikv.MethodSM4CTR {
		t.Errorf("methods = %q, %q", evs[1].Method, evs[3].Method)
	}
	if evs[2].KeyID != 9291156302549018620 || evs[2].Record.Line != 5 {
		t.Errorf("rotate event = %+v", evs[2])
	}
	if evs[5].Code != tikv.CodeBothMasterKeyFail || !strings.HasPrefix(evs[5].Err, "Both master key failed") {
		t.Errorf("init failure = %q / %q", evs[5].Err, evs[5].Code)
	}
	if !strings.Contains(evs[6].Err, tikv.ErrRaftEngineNonce) {
		t.Errorf("raft engine err = %q", evs[6].Err)
	}
}

func TestScannerCatalogueRoundTrip(t *testing.T) {
	// Every wording of every catalogue message, written as TiKV writes it, is found again.
	var b strings.Builder
	var want []string
	for _, m := range Catalogue() {
		for _, w := range m.Wordings() {
			msg, _ := json.Marshal(w.Format("Aes128Ctr"))
			b.WriteString(`[2026/11/27 10:00:00.000 +00:00] [` + w.Level + `] [x.rs:1] [` + string(msg) + "]\n")
			want = append(want, m.Name)
		}
	}
	s := NewScanner(strings.NewReader(b.String()))
	n := 0
	for s.Scan() {
		if got := s.Event().Msg.Name; n >= len(want) || got != want[n] {
			t.Errorf("event %d = %s", n, got)
		}
		n++
	}
	if n != len(want) || s.Counts[Parsed] != len(want) {
		t.Errorf("found %d of %d (counts %v)", n, len(want), s.Counts)
	}
}
