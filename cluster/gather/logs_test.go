package gather

import (
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

const welcome = `[2026/11/27 10:00:00.000 +00:00] [INFO] [lib.rs:91] ["Welcome to TiKV"]` + "\n"

func TestScanLogNeverDropsEvidence(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	later, earlier := at.Add(time.Minute), at.Add(-time.Minute)
	stderrOf := func(mtime *time.Time, body string) func(lf *LogFacts) *StderrFacts {
		return func(lf *LogFacts) *StderrFacts {
			return ScanStderr("/log/tikv_stderr.log", true, int64(len(body)), mtime, []byte(body), lf)
		}
	}
	okStderr := func(lf *LogFacts) *StderrFacts { return ScanStderr("/log/tikv_stderr.log", false, 0, nil, nil, lf) }
	cases := []struct {
		name   string
		log    string
		stderr func(lf *LogFacts) *StderrFacts
		nilLog bool
		state  State
		value  verdict.Value
		reason []string
	}{
		{"cut FATAL record", welcome + `[2026/11/27 10:00:01.000 +00:00] [FATAL] [lib.rs:478] ["Encryption failed to initialize: IO error No such file or direc`,
			okStderr, false, StateFailing, verdict.Failing, []string{"its last start failed: IO error No such file or direc", "tikv.log line 2", "a damaged record: the record is cut off"}},
		{"FATAL with markdown debris and no timestamp", welcome + `[FATAL] [[server.rs:1372](http://server.rs:1372/)] ["Failed to create raft engine: x"]` + "\n",
			okStderr, false, StateFailing, verdict.Failing, []string{"its last start failed: x", "no [timestamp] prefix", "markdown link debris"}},
		{"unparsed lines after the start", welcome + "#### garbled ####\n" + "also garbled\n",
			okStderr, false, StateUnknown, verdict.Unknown, []string{"2 unparsed records after the last start (lines 2, 3)", "may hide a failure"}},
		{"stderr panic after the start", welcome,
			stderrOf(&later, "thread 'main' panicked at 'invalid auto generated configuration file x, err y', cmd/tikv-server/src/main.rs:188:17\n"), false, StateFailing, verdict.Failing, []string{"invalid auto generated configuration file x, err y", "tikv_stderr.log line 1"}},
		{"stderr panic before the start", welcome,
			stderrOf(&earlier, "thread 'main' panicked at 'old', a.rs:1:1\n"), false, StateUnknown, verdict.Unknown, []string{"shows no failed start"}},
		{"stderr panic without a time", welcome,
			stderrOf(nil, "thread 'main' panicked at 'x', a.rs:1:1\n"), false, StateUnknown, verdict.Unknown, []string{"cannot be placed"}},
		{"stderr unreadable", welcome, func(*LogFacts) *StderrFacts { return nil }, false, StateUnknown, verdict.Unknown, []string{"tikv_stderr.log could not be read"}},
		{"log unreadable", "", nil, true, StateUnknown, verdict.Unknown, []string{"tikv.log could not be read"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Store{Reachable: true, PD: PDFacts{StateName: "Disconnected"}}
			if !c.nilLog {
				s.Log = ScanLog([]byte(c.log), false, 8)
				s.Log.Stderr = c.stderr(s.Log)
			}
			s.State, s.Reason = Derive(&s)
			v := Judge(&s)
			if s.State != c.state || v.Value != c.value {
				t.Fatalf("state %s verdict %s (%s), want %s %s", s.State, v.Value, s.Reason, c.state, c.value)
			}
			for _, r := range c.reason {
				if !strings.Contains(s.Reason, r) {
					t.Errorf("reason %q lacks %q", s.Reason, r)
				}
			}
			if c.value != verdict.Proven && strings.Contains(s.Reason, "shows no failed start") && (c.nilLog || s.Log.UnparsedTotal > 0) {
				t.Errorf("claims a clean log it could not read whole: %q", s.Reason)
			}
		})
	}
}

func TestScanLogCountsEveryRecord(t *testing.T) {
	lf := ScanLog([]byte("cut]\n"+welcome+"garbage\n"+`[INFO] [mod.rs:1] ["encryption is enabled. method = Aes128Ctr"]`+"\n"), true, 8)
	if lf.Records["parsed"] != 1 || lf.Records["unparsed"] != 1 || lf.Records["partial"] != 1 {
		t.Errorf("records %v", lf.Records)
	}
	if !lf.Started || lf.FatalAfterStart || lf.StartLine != 1 || lf.UnparsedTotal != 1 || lf.Unparsed[0].Line != 2 || lf.DamagedTotal != 1 {
		t.Errorf("facts %+v", lf)
	}
	last := lf.Events[len(lf.Events)-1]
	if last.Name != tikvlog.MsgEnabled.Name || last.Method != "aes128-ctr" || last.Damaged == "" || last.Time != nil {
		t.Errorf("event from a line without timestamp: %+v", last)
	}
}

func TestJudgeServingStore(t *testing.T) {
	s := Store{Running: &RunningFacts{Method: "aes256-ctr", IsInitialized: true}, Coverage: &Coverage{Encrypted: Tally{Files: 1}}, Reachable: true}
	s.State, s.Reason = Derive(&s)
	if v := Judge(&s); v.Value != verdict.Proven {
		t.Errorf("all read: %v", v)
	}
	s.Errors = []SourceError{{Source: SourceLog, Message: "permission denied"}}
	if v := Judge(&s); v.Value != verdict.Unknown || !strings.Contains(v.Reason, "log: permission denied") {
		t.Errorf("log unreadable: %v", v)
	}
}
