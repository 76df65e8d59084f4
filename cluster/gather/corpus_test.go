package gather

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// corpusLog reads testdata/synthetic/logs/<name> without its header.
func corpusLog(t testing.TB, name string) []byte { return corpus.Read(t, "synthetic/logs", name) }

// corpusCase is the verdict a corpus file must get. want is the log verdict;
// state the state of a store whose status port does not answer with this
// log; events the catalogue names (in order) the reader must find; started
// whether the last start completed encryption init.
type corpusCase struct {
	file    string
	want    verdict.Value
	state   State
	events  []string
	started bool
	// reason holds texts the failing/unknown reason must contain.
	reason []string
}

func corpusCases() []corpusCase {
	const (
		proven, failing, unknown = verdict.Proven, verdict.Failing, verdict.Unknown
	)
	n := func(ms ...tikvlog.Msg) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.Name
		}
		return out
	}
	return []corpusCase{
		{"v4.0.0-first-enable.log", proven, StateUnknown, n(tikvlog.MsgNoDicts, tikvlog.MsgBeingEnabled, tikvlog.MsgRotateDataKey, tikvlog.MsgNewEncryptedFile, tikvlog.MsgNewEncryptedFile), true, nil},
		{"v4.0.8-downgrade-file-dict-v2.log", failing, StateFailing, append(n(tikvlog.MsgFailedLoadFileDict), tikvlog.OtherFatal), false, []string{"unknown version 2"}},
		{"v4.0.9-unwrap-panic-key-file-missing.log", failing, StateFailing, append(n(tikvlog.MsgFailedAccessMasterKey), tikvlog.OtherFatal), false, []string{"called `Result::unwrap()`"}},
		{"v5.0.0-init-failed-io.log", failing, StateFailing, n(tikvlog.MsgFailedAccessMasterKey, tikvlog.MsgFailedAccessMasterKey, tikvlog.MsgEncryptionInitFailed), false, []string{"KV:Encryption:Io"}},
		{"v5.0.2-raft-engine-create-failed.log", failing, StateFailing, n(tikvlog.MsgFoundDicts, tikvlog.MsgEnabled, tikvlog.MsgRaftEngineOpenFailed), false, []string{"CURRENT file does not end with newline"}},
		{"v5.1.0-kms-cloud-backend.log", proven, StateUnknown, n(tikvlog.MsgInitKMSBackend, tikvlog.MsgFoundDicts, tikvlog.MsgEnabled), true, nil},
		{"v5.4.0-raft-engine-nonce.log", failing, StateFailing, n(tikvlog.MsgNoDicts, tikvlog.MsgBeingEnabled, tikvlog.MsgRotateDataKey, tikvlog.MsgRaftEngineOpenFailed), false, []string{"Nonce + Counter must be 12/16 bytes, 0"}},
		{"v6.0.0-raft-engine-markdown-debris.log", failing, StateFailing, n(tikvlog.MsgRaftEngineOpenFailed), false, []string{"Nonce + Counter", "markdown link debris"}},
		{"v6.1.0-backtrace-real-newlines.log", failing, StateFailing, n(tikvlog.MsgRaftEngineOpenFailed), false, []string{"Nonce + Counter", "spans"}},
		{"v6.1.0-disabled-debug-file-lines.log", proven, StateUnknown, n(tikvlog.MsgNoDicts, tikvlog.MsgDisabled, tikvlog.MsgNewEncryptedFile), true, nil},
		{"v6.1.2-raft-engine-open-panic.log", failing, StateFailing, n(tikvlog.MsgNoDicts, tikvlog.MsgBeingEnabled, tikvlog.MsgRaftEngineOpenFailed), false, []string{"Nonce + Counter"}},
		{"v6.5.3-kms-rotation-cloud-error.log", failing, StateFailing, n(tikvlog.MsgInitKMSBackend, tikvlog.MsgEncryptionInitFailed), false, []string{"decrypt encrypted key failed", "KV:Cloud:Unknown"}},
		{"v6.5.11-kms-both-master-keys-failed.log", failing, StateFailing, n(tikvlog.MsgInitKMSBackend, tikvlog.MsgFailedLoadKeyDict, tikvlog.MsgEncryptionInitFailed), false, []string{"KV:Encryption:BothMasterKeyFail"}},
		{"v7.1.0-kms-cloud-backend-enabled.log", proven, StateUnknown, n(tikvlog.MsgInitKMSBackend, tikvlog.MsgFoundDicts, tikvlog.MsgEnabled, tikvlog.MsgTryRotateDataKey), true, nil},
		{"v7.2.0-kms-aws-backend-enabled.log", proven, StateUnknown, n(tikvlog.MsgInitKMSBackend, tikvlog.MsgFoundDicts, tikvlog.MsgEnabled), true, nil},
		{"v7.5.0-file-dict-torn-tail.log", proven, StateUnknown, n(tikvlog.MsgFoundDicts, tikvlog.MsgInstallingDictFile, tikvlog.MsgEnabled), true, nil},
		{"v7.5.0-master-key-rotation.log", proven, StateUnknown, n(tikvlog.MsgFailedLoadKeyDict, tikvlog.MsgFallbackPreviousKey, tikvlog.MsgFoundDicts, tikvlog.MsgPersistedReplaceMasterKey), true, nil},
		{"v8.1.0-wrong-file-key.log", failing, StateFailing, n(tikvlog.MsgFailedLoadKeyDict, tikvlog.MsgEncryptionInitFailed), false, []string{"KV:Encryption:BothMasterKeyFail"}},
		{"v8.4.0-kms-backend-enabled.log", proven, StateUnknown, n(tikvlog.MsgInitKMSBackend, tikvlog.MsgNoDicts, tikvlog.MsgBeingEnabled, tikvlog.MsgRotateDataKey), true, nil},
		{"v8.5.0-bare-timestamp.log", proven, StateUnknown, n(tikvlog.MsgFoundDicts, tikvlog.MsgEnabled), true, nil},
		{"v8.5.0-cut-fatal.log", failing, StateFailing, n(tikvlog.MsgFailedAccessMasterKey, tikvlog.MsgEncryptionInitFailed), false, []string{"cut off"}},
		{"v8.5.0-fatal-then-good-restart.log", proven, StateUnknown, n(tikvlog.MsgEncryptionInitFailed, tikvlog.MsgFoundDicts, tikvlog.MsgEnabled), true, nil},
		{"v8.5.0-garbled-after-start.log", unknown, StateUnknown, n(tikvlog.MsgFoundDicts), false, []string{"2 unparsed records after the last start (lines 3, 4)"}},
		{"v8.5.0-insecure-master-key.log", failing, StateFailing, n(tikvlog.MsgEncryptionInitFailed), false, []string{"absent or insecure", "KV:Unknown"}},
		{"v8.5.0-key-file-wrong-size.log", failing, StateFailing, n(tikvlog.MsgFailedAccessMasterKey, tikvlog.MsgFailedAccessMasterKey, tikvlog.MsgEncryptionInitFailed), false, []string{"expected 65, actual 64"}},
		{"v8.5.0-markdown-paste.log", failing, StateFailing, n(tikvlog.MsgFailedLoadKeyDict, tikvlog.MsgEncryptionInitFailed), false, []string{"KV:Encryption:WrongMasterKey"}},
		{"v8.5.0-no-timestamp-prefix.log", failing, StateFailing, n(tikvlog.MsgNoDicts, tikvlog.MsgEncryptionInitFailed), false, []string{"no [timestamp] prefix"}},
		{"v8.5.0-restart-enabled.log", proven, StateUnknown, n(tikvlog.MsgFoundDicts, tikvlog.MsgInstallingDictFile, tikvlog.MsgEnabled, tikvlog.MsgTryRotateDataKey, tikvlog.MsgRotateWorkerCancelled), true, nil},
		{"v8.5.0-sm4-dynamic-openssl.log", failing, StateFailing, n(tikvlog.MsgNoDicts, tikvlog.MsgBeingEnabled, tikvlog.MsgRaftEngineOpenFailed), false, []string{"sm4-ctr is not supported"}},
		// tikv_stderr.log files: read beside a tikv.log whose last start is older than the stderr write.
		{"v6.5.0-stderr-config-panic-old-format.tikv_stderr.log", failing, StateFailing, nil, false, []string{"expected valid encryption method", "tikv_stderr.log line 1"}},
		{"v7.5.0-stderr-validate-fatal.tikv_stderr.log", unknown, StateUnknown, nil, false, []string{"tikv_stderr.log has 1 unparsed line (line 1)"}},
		{"v8.5.0-stderr-config-panic-new-format.tikv_stderr.log", failing, StateFailing, nil, false, []string{"missing field `type`", "tikv_stderr.log line 1"}},
	}
}

// TestCorpusVerdicts reads every file of testdata/synthetic/logs and asserts its
// verdict: failures are failing (never "no failed start"), damaged or
// unparsable evidence is unknown with its line numbers, good starts proven.
func TestCorpusVerdicts(t *testing.T) {
	cases := corpusCases()
	var covered []string
	for _, c := range cases {
		covered = append(covered, c.file)
	}
	corpus.RequireCases(t, "synthetic/logs", "*.log", covered)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	after := start.Add(time.Minute)
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			body := corpusLog(t, c.file)
			s := Store{Reachable: true, PD: PDFacts{StateName: "Disconnected"}}
			if strings.HasSuffix(c.file, ".tikv_stderr.log") {
				s.Log = ScanLog([]byte(`[2020/01/01 00:00:00.000 +00:00] [INFO] [lib.rs:91] ["Welcome to TiKV"]`+"\n"), false, 8)
				s.Log.Stderr = ScanStderr("/log/"+StderrName, true, int64(len(body)), &after, body, s.Log)
			} else {
				s.Log = ScanLog(body, false, 64)
				s.Log.Stderr = ScanStderr("/log/"+StderrName, false, 0, nil, nil, s.Log)
			}
			v := LogVerdict(&s)
			s.State, s.Reason = Derive(&s)
			if v.Value != c.want || s.State != c.state {
				t.Fatalf("log verdict %s (%s), state %s (%s); want %s, %s", v.Value, v.Reason, s.State, s.Reason, c.want, c.state)
			}
			if got := Judge(&s); c.want != verdict.Proven && got.Value != c.want {
				t.Errorf("store verdict %s, want %s", got.Value, c.want)
			}
			if c.want != verdict.Proven && strings.Contains(s.Reason, "no failed start") {
				t.Errorf("a failure excerpt reads as %q", s.Reason)
			}
			for _, r := range c.reason {
				if !strings.Contains(v.Reason+" | "+s.Reason, r) {
					t.Errorf("reasons lack %q:\n%s\n%s", r, v.Reason, s.Reason)
				}
			}
			if c.events != nil {
				a, err := tikvlog.Analyze(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, ev := range a.Events {
					got = append(got, ev.Msg.Name)
				}
				if strings.Join(got, ",") != strings.Join(c.events, ",") {
					t.Errorf("events %v, want %v", got, c.events)
				}
				if a.Started != c.started {
					t.Errorf("started = %v, want %v", a.Started, c.started)
				}
			}
		})
	}
}

// TestCorpusNoRecordDropped checks that the reader accounts for every
// non-blank physical line of every corpus file.
func TestCorpusNoRecordDropped(t *testing.T) {
	for _, c := range corpusCases() {
		body := corpusLog(t, c.file)
		rd := tikvlog.NewReader(bytes.NewReader(body))
		lines := 0
		for rd.Next() {
			lines += rd.Record().Lines
		}
		want := 0
		for _, l := range strings.Split(string(body), "\n") {
			if strings.TrimSpace(l) != "" {
				want++
			}
		}
		if lines != want {
			t.Errorf("%s: records cover %d lines, the file has %d", c.file, lines, want)
		}
	}
}
