package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
)

func TestBuildAuditFindings(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	created := now.Add(-500 * schedule.Day)
	rep := &gather.Report{GatheredAt: now, Complete: true, Cluster: gather.Cluster{ID: 7, Regions: gather.RegionHealth{DownPeer: 2},
		EvictLeaderSchedulers: []string{"evict-leader-scheduler"}, EvictLeaderStores: []uint64{2}},
		Stores: []gather.Store{{
			StoreID: 1, Address: "a:1", State: gather.StateEncrypted, PD: gather.PDFacts{StateName: "Up"},
			Running:  &gather.RunningFacts{Method: tikv.MethodAES256CTR, IsInitialized: true},
			Config:   &gather.ConfigFacts{Method: tikv.MethodAES256CTR, MasterKey: gather.MasterKeyFacts{Type: "file", Path: "/k/2"}, PreviousMasterKey: &gather.MasterKeyFacts{Type: "file", Path: "/k/1"}},
			KeyDict:  &gather.KeyDictFacts{Exists: true, Method: tikv.MetadataMethodAES256GCM},
			KeyFile:  &gather.KeyFileFacts{Path: "/k/2", Exists: true, Mode: "0644", FSType: "ext2/ext3"},
			Coverage: &gather.Coverage{Encrypted: gather.Tally{Files: 10, Bytes: 1000}, FilesPercent: 100, BytesPercent: 100},
		}, {
			StoreID: 2, Address: "a:2", State: gather.StateEncryptedPartial, PD: gather.PDFacts{StateName: "Up"},
			Running:  &gather.RunningFacts{Method: tikv.MethodAES256CTR},
			Config:   &gather.ConfigFacts{Method: tikv.MethodAES256CTR, MasterKey: gather.MasterKeyFacts{Type: "plaintext"}},
			KeyDict:  &gather.KeyDictFacts{Exists: true, Method: "plaintext", KeysExposed: true},
			Coverage: &gather.Coverage{Encrypted: gather.Tally{Files: 1, Bytes: 100}, Plaintext: gather.Tally{Files: 3, Bytes: 900}, BytesPercent: 10},
		}},
	}
	ref := kms.KeyRef{Backend: "file", ID: "/ops/2", Generation: 2, Fingerprint: "sha256:ab", Created: created}
	r := BuildAudit(rep, AuditInput{Policy: schedule.DefaultPolicy(), Started: now, Finished: now, RunID: "audit-x",
		Keys: []AuditKey{{Role: "master-key", Ref: ref, Rendered: tikv.MasterKey{Type: "file", Path: "/k/2"}, Evidence: &kms.Evidence{Created: created, State: "active"}}}})
	want := []struct{ sev, text string }{
		{report.SeverityHigh, "store 1 (a:1): master key file /k/2 is on ext2/ext3, not tmpfs"},
		{report.SeverityHigh, "mode 0644, wider than 0400"},
		{report.SeverityMedium, "store 1 (a:1): a previous-master-key (/k/1) is still configured"},
		{report.SeverityCritical, "store 2 (a:2): key.dict metadata method is plaintext"},
		{report.SeverityHigh, "store 2 (a:2): 3 of 4 data files are still plaintext on disk (10% of bytes encrypted)"},
		{report.SeverityMedium, "coverage: 11 of 14 data files encrypted on disk (55% of bytes); 3 files are plaintext"},
		{report.SeverityMedium, "evict-leader scheduler evict-leader-scheduler is present (stores 2)"},
		{report.SeverityMedium, "region health: 2 region(s) in PD's down-peer check"},
		{report.SeverityHigh, "master-key rotation is overdue: generation 2 is 500 days old, due 2026-07-15 under the 365d policy"},
	}
	for _, w := range want {
		found := false
		for _, f := range r.Findings {
			if f.Severity == w.sev && strings.Contains(f.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s finding %q in:\n%s", w.sev, w.text, findingLines(r.Findings))
		}
	}
	if len(r.Findings) != len(want) {
		t.Errorf("%d findings, want %d:\n%s", len(r.Findings), len(want), findingLines(r.Findings))
	}
	if fp := r.Stores[0].After.MasterKey.Fingerprint; fp != ref.Fingerprint {
		t.Errorf("store 1's master key is the plan's generation but has fingerprint %q", fp)
	}
	for _, c := range r.Compliance {
		if c.ID == "3.7.4" && c.Status != report.ControlNotEvidenced {
			t.Errorf("3.7.4 with an overdue key: %s", c.Status)
		}
	}

	// Without a plan and without a rotation in the logs the last rotation is unknown.
	r = BuildAudit(&gather.Report{GatheredAt: now, Complete: true}, AuditInput{Policy: schedule.DefaultPolicy(), Started: now, Finished: now})
	if len(r.Findings) != 1 || !strings.Contains(r.Findings[0].Message, "last master-key rotation is unknown") {
		t.Errorf("findings without a plan: %s", findingLines(r.Findings))
	}
	for _, c := range r.Compliance {
		if c.ID == "3.7.4" && c.Status != report.ControlNotEvidenced {
			t.Errorf("3.7.4 without a known rotation: %s", c.Status)
		}
	}
}

func findingLines(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Severity + ": " + f.Message + "\n")
	}
	return b.String()
}
