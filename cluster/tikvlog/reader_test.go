package tikvlog

import (
	"strings"
	"testing"
)

// These inputs are written for tikv-ear in the shapes real logs take when
// they are pasted or cut (markdown link debris in the source field as in
// tikv/tikv#12162, a panic on stderr as in tikv/tikv#7886); they are not
// copies of upstream text.
func TestReaderClassifiesEveryRecord(t *testing.T) {
	in := strings.Join([]string{
		`[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:91] ["Welcome to TiKV"]`,
		`[2026/11/27 10:00:01.000 +00:00] [FATAL] [[server.rs:9](http://server.rs:9/)] ["Failed to create raft engine: \"IO Error\""]`,
		`[INFO] [mod.rs:2] ["encryption is enabled. method = Aes256Ctr"]`,
		`2026/11/27 10:00:02.000 +00:00 [WARN] [x.rs:1] [bare-timestamp]`,
		`[2026/11/27 10:00:03.000 +00:00] [FATAL] [lib.rs:465] ["Encryption failed to initialize: IO error No such`,
		`[2026/11/27 10:00:04.000 +00:00] [FATAL] [lib.rs:465] ["boom"] [backtrace="stack backtrace:`,
		`   0: tikv_util::set_panic_hook`,
		`   1: std::panicking"]`,
		`random text`,
		`thread 'main' panicked at 'invalid auto generated configuration file conf/tikv.toml, err missing field` + "`type`" + `', cmd/tikv-server/src/main.rs:188:17`,
		"note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
		`thread 'main' panicked at cmd/tikv-server/src/main.rs:188:17:`,
		`invalid auto generated configuration file conf/tikv.toml, err unknown field`,
		`> [2026/11/27 10:00:05.000 +00:00] [ERROR] [mod.rs:3] ["encryption: failed to load key dictionary."]`,
	}, "\n")
	type want struct {
		line, lines int
		class       Class
		level, msg  string
	}
	wants := []want{
		{1, 1, Parsed, "INFO", "Welcome to TiKV"},
		{2, 1, Partial, "FATAL", `Failed to create raft engine: "IO Error"`},
		{3, 1, Partial, "INFO", "encryption is enabled. method = Aes256Ctr"},
		{4, 1, Partial, "WARN", "bare-timestamp"},
		{5, 1, Partial, "FATAL", "Encryption failed to initialize: IO error No such"},
		{6, 3, Partial, "FATAL", "boom"},
		{9, 1, Unparsed, "", ""},
		{10, 2, Partial, "FATAL", "invalid auto generated configuration file conf/tikv.toml, err missing field`type`"},
		{12, 2, Partial, "FATAL", "invalid auto generated configuration file conf/tikv.toml, err unknown field"},
		{14, 1, Partial, "ERROR", "encryption: failed to load key dictionary."},
	}
	rd := NewReader(strings.NewReader(in))
	var got []Record
	for rd.Next() {
		got = append(got, rd.Record())
	}
	if rd.Err() != nil {
		t.Fatal(rd.Err())
	}
	if len(got) != len(wants) {
		for _, r := range got {
			t.Logf("%d+%d %s %s %q (%s)", r.Line, r.Lines, r.Class, r.Level, r.Message, r.Problem)
		}
		t.Fatalf("got %d records, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if r.Line != w.line || r.Lines != w.lines || r.Class != w.class || r.Level != w.level || r.Message != w.msg {
			t.Errorf("record %d = line %d+%d %s %s %q (%s), want %+v", i, r.Line, r.Lines, r.Class, r.Level, r.Message, r.Problem, w)
		}
		if r.Class != Parsed && r.Problem == "" {
			t.Errorf("record %d: damaged without a problem", i)
		}
	}
	if got[1].Source != "server.rs:9" {
		t.Errorf("markdown debris not cleaned from the source: %q", got[1].Source)
	}
	if v, _ := got[5].Field("backtrace"); !strings.Contains(v, "1: std::panicking") {
		t.Errorf("backtrace continuation not joined: %q", v)
	}
}

func TestAnalyzeLastStart(t *testing.T) {
	cases := []struct {
		name             string
		log              string
		failed, started  bool
		unparsed, starts int
	}{
		{"ok", "[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:91] [\"Welcome to TiKV\"]\n[2026/11/27 10:00:00.100 +00:00] [INFO] [mod.rs:1] [\"encryption is enabled. method = Aes256Ctr\"]\n", false, true, 0, 1},
		{"cut fatal", "[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:91] [\"Welcome to TiKV\"]\n[2026/11/27 10:00:01.000 +00:00] [FATAL] [lib.rs:1] [\"Encryption failed to initi", true, false, 0, 1},
		{"fatal before a later good start", "[2026/11/27 10:00:00.000 +00:00] [FATAL] [a.rs:1] [x]\n[2026/11/27 10:01:00.000 +00:00] [INFO] [lib.rs:91] [\"Welcome to TiKV\"]\n[2026/11/27 10:01:00.100 +00:00] [INFO] [mod.rs:1] [\"encryption is disabled.\"]\n", false, true, 0, 2},
		{"unparsed after the start", "[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:91] [\"Welcome to TiKV\"]\n###garbled###\n", false, false, 1, 2},
		{"unparsed before the start is not near it", "###old###\n[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:91] [\"Welcome to TiKV\"]\n", false, false, 0, 2},
	}
	for _, c := range cases {
		a, err := Analyze(strings.NewReader(c.log))
		if err != nil {
			t.Fatal(err)
		}
		if a.Failed != c.failed || a.Started != c.started || a.UnparsedTotal != c.unparsed || len(a.Unparsed) != c.unparsed {
			t.Errorf("%s: failed %v started %v unparsed %d, want %v %v %d", c.name, a.Failed, a.Started, a.UnparsedTotal, c.failed, c.started, c.unparsed)
		}
		if a.Failed && a.Fatal == nil {
			t.Errorf("%s: failed without the record", c.name)
		}
	}
}

func TestWordingsByVersion(t *testing.T) {
	cases := []struct {
		m       Msg
		version string
		text    string
		level   string
		ok      bool
	}{
		{MsgInitKMSBackend, "v5.0.0", "", "", false},
		{MsgInitKMSBackend, "v5.1.0", "Encryption init cloud backend", "INFO", true},
		{MsgInitKMSBackend, "v7.1.6", "Encryption init cloud backend", "INFO", true},
		{MsgInitKMSBackend, "v7.2.0", "Encryption init aws backend", "INFO", true},
		{MsgInitKMSBackend, "v8.3.0", "Encryption init aws backend", "INFO", true},
		{MsgInitKMSBackend, "v8.4.0", "Encryption init KMS backend", "INFO", true},
		{MsgRaftEngineOpenFailed, "v5.0.0", "failed to create raft engine: ", "FATAL", true},
		{MsgRaftEngineOpenFailed, "v6.0.0", "Failed to create raft engine: ", "FATAL", true},
		{MsgRaftEngineOpenFailed, "v6.1.2", "failed to open raft engine: ", "FATAL", true},
		{MsgNewEncryptedFile, "v6.0.0", "new encrypted file", "INFO", true},
		{MsgNewEncryptedFile, "v6.1.0", "new encrypted file", "DEBUG", true},
		{MsgEncryptionInitFailed, "v4.0.16", "", "", false},
		{MsgEnabled, "v4.0.0", "encryption is enabled. method = ", "INFO", true},
	}
	for _, c := range cases {
		w, ok := c.m.ForVersion(mustVersion(c.version))
		if ok != c.ok || w.Text != c.text || w.Level != c.level {
			t.Errorf("%s at %s = %q %s %v, want %q %s %v", c.m.Name, c.version, w.Text, w.Level, ok, c.text, c.level, c.ok)
		}
		if ok && !c.m.Matches(w.Format("x")) {
			t.Errorf("%s does not match its own %s wording", c.m.Name, c.version)
		}
	}
}
