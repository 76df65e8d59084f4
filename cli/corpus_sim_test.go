package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
	"github.com/tikv-ear/tikv-ear/internal/corpus"
	"github.com/tikv-ear/tikv-ear/sim"
)

// TestStatusOnCorpusFailures appends each failure excerpt of testdata/synthetic/logs
// to a stopped sim node's tikv.log (or tikv_stderr.log) and runs status: the
// store must be failing, or unknown with the unparsed lines listed, and
// never "tikv.log shows no failed start".
func TestStatusOnCorpusFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: dir})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	defer cl.Close()
	waitServing(t, ctx, cl)
	n1 := cl.Nodes()[0]
	sess, err := ConnectFlags{Sim: dir, Timeout: 5 * time.Second}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	systemctl(t, ctx, sess, n1, "stop")
	waitFor(t, ctx, "store 1 to stop serving", func() bool { return !n1.Proc.Running() })
	logPath := n1.Paths.LogFile
	stderrPath := filepath.Join(filepath.Dir(logPath), gather.StderrName)
	cases := []struct {
		file  string
		state gather.State
		value verdict.Value
		want  string // in the reason or the listed records
	}{
		{"v4.0.8-downgrade-file-dict-v2.log", gather.StateFailing, verdict.Failing, "unknown version 2"},
		{"v4.0.9-unwrap-panic-key-file-missing.log", gather.StateFailing, verdict.Failing, "called `Result::unwrap()`"},
		{"v5.0.0-init-failed-io.log", gather.StateFailing, verdict.Failing, "KV:Encryption:Io"},
		{"v5.0.2-raft-engine-create-failed.log", gather.StateFailing, verdict.Failing, "CURRENT file does not end with newline"},
		{"v5.4.0-raft-engine-nonce.log", gather.StateFailing, verdict.Failing, "Nonce + Counter"},
		{"v6.0.0-raft-engine-markdown-debris.log", gather.StateFailing, verdict.Failing, "markdown link debris"},
		{"v6.1.0-backtrace-real-newlines.log", gather.StateFailing, verdict.Failing, "Nonce + Counter"},
		{"v6.1.2-raft-engine-open-panic.log", gather.StateFailing, verdict.Failing, "Nonce + Counter"},
		{"v6.5.3-kms-rotation-cloud-error.log", gather.StateFailing, verdict.Failing, "KV:Cloud:Unknown"},
		{"v6.5.11-kms-both-master-keys-failed.log", gather.StateFailing, verdict.Failing, "KV:Encryption:BothMasterKeyFail"},
		{"v8.1.0-wrong-file-key.log", gather.StateFailing, verdict.Failing, "KV:Encryption:BothMasterKeyFail"},
		{"v8.5.0-cut-fatal.log", gather.StateFailing, verdict.Failing, "cut off"},
		{"v8.5.0-garbled-after-start.log", gather.StateUnknown, verdict.Unknown, "Killed"},
		{"v8.5.0-insecure-master-key.log", gather.StateFailing, verdict.Failing, "absent or insecure"},
		{"v8.5.0-key-file-wrong-size.log", gather.StateFailing, verdict.Failing, "expected 65, actual 64"},
		{"v8.5.0-markdown-paste.log", gather.StateFailing, verdict.Failing, "KV:Encryption:WrongMasterKey"},
		{"v8.5.0-no-timestamp-prefix.log", gather.StateFailing, verdict.Failing, "no [timestamp] prefix"},
		{"v8.5.0-sm4-dynamic-openssl.log", gather.StateFailing, verdict.Failing, "sm4-ctr is not supported"},
		{"v6.5.0-stderr-config-panic-old-format.tikv_stderr.log", gather.StateFailing, verdict.Failing, "expected valid encryption method"},
		{"v8.5.0-stderr-config-panic-new-format.tikv_stderr.log", gather.StateFailing, verdict.Failing, "missing field `type`"},
		{"v7.5.0-stderr-validate-fatal.tikv_stderr.log", gather.StateUnknown, verdict.Unknown, "readpool.unified.stack-size should be >= 2mb"},
	}
	// The node's own log, as the sim wrote it up to the stop.
	base, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			excerpt := corpus.Read(t, "synthetic/logs", c.file)
			log, stderr := append(append([]byte{}, base...), excerpt...), []byte{}
			if strings.HasSuffix(c.file, ".tikv_stderr.log") {
				log, stderr = base, excerpt
			}
			if err := os.WriteFile(logPath, log, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(stderrPath, stderr, 0o644); err != nil {
				t.Fatal(err)
			}
			// The excerpt was written after the node's last start, on the host's clock (the sim's).
			later := cl.Clock().Now().Add(time.Minute)
			if err := os.Chtimes(stderrPath, later, later); err != nil {
				t.Fatal(err)
			}
			rep, _ := runStatus(t, ctx, dir)
			s := storeByID(t, rep, n1.StoreID)
			if s.State != c.state || s.Verdict.Value != c.value {
				t.Fatalf("state %s verdict %s (%s), want %s %s", s.State, s.Verdict.Value, s.Reason, c.state, c.value)
			}
			if strings.Contains(s.Reason, "no failed start") {
				t.Errorf("a failure excerpt reads as %q", s.Reason)
			}
			listed := s.Reason
			if s.Log != nil {
				for _, r := range s.Log.Unparsed {
					listed += "\n" + r.Text
				}
				if s.Log.Stderr != nil {
					for _, r := range s.Log.Stderr.Unparsed {
						listed += "\n" + r.Text
					}
				}
			}
			if !strings.Contains(listed, c.want) {
				t.Errorf("status does not show %q:\n%s", c.want, listed)
			}
			if c.value == verdict.Unknown {
				text, _ := statusText(t, ctx, dir)
				t.Logf("status with %s:\n%s", c.file, text)
				if !strings.Contains(text, c.want) || !strings.Contains(text, "line ") {
					t.Errorf("the text output does not list the unparsed lines:\n%s", text)
				}
			}
		})
	}
}
