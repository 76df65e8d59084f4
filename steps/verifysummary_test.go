package steps

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/report"
)

// A log that could not be read is named as unknown in the verify step's
// summary, never passed over as if it were clean.
func TestVerifySummarySaysAnUnreadLogIsUnknown(t *testing.T) {
	st := NodeState{LogUnread: "ssh: reading tikv.log: permission denied"}
	got := verifySummary(st)
	if !strings.Contains(got, "log: unknown (not read: ssh: reading tikv.log: permission denied)") {
		t.Fatalf("summary of an unread log: %q", got)
	}
	st = NodeState{LogMatches: []string{"being-enabled"}}
	if got := verifySummary(st); !strings.Contains(got, "log: being-enabled") || strings.Contains(got, "unknown") {
		t.Fatalf("summary of a read log: %q", got)
	}
}

// The verify step's log evidence becomes node-log events: the catalogue's
// wording with its level, the FATAL line, or one unknown line when the log
// was not read (never an empty pane that reads as clean).
func TestLogEvidenceEvents(t *testing.T) {
	evs := LogEvidence(4, NodeState{LogUnread: "ssh: permission denied"})
	if len(evs) != 1 || evs[0].Kind != NodeLog || evs[0].StoreID != 4 || !strings.Contains(evs[0].Message, "unknown (not read: ssh: permission denied)") {
		t.Fatalf("unread log: %+v", evs)
	}
	evs = LogEvidence(2, NodeState{LogMatches: []string{"no-such-message"}, Fatal: "disk full"})
	if len(evs) != 2 || evs[0].Log.Catalog != "no-such-message" || !evs[1].Log.Fatal || !strings.Contains(evs[1].Message, "FATAL disk full") {
		t.Fatalf("matches and fatal: %+v", evs)
	}
	if evs := LogEvidence(1, NodeState{}); len(evs) != 0 {
		t.Fatalf("nothing read, nothing matched: %+v", evs)
	}
}

// The run's report carries each store's log evidence three-valued: read,
// unknown with the reason, or absent when the log was not scanned.
func TestReportCarriesAnUnreadLogAsUnknown(t *testing.T) {
	res := &Result{Stores: []*StoreResult{
		{StoreID: 1, State: NodeState{LogUnread: "ssh: permission denied"}},
		{StoreID: 2, State: NodeState{LogMatches: []string{}}},
		{StoreID: 3},
	}}
	r := BuildReport(context.Background(), report.KindApply, &Plan{}, res, &Engine{}, nil)
	got := map[uint64][2]string{}
	for _, s := range r.Stores {
		got[s.ID] = [2]string{s.Verification.Log, s.Verification.LogReason}
	}
	want := map[uint64][2]string{1: {report.LogUnknown, "ssh: permission denied"}, 2: {report.LogRead, ""}, 3: {"", ""}}
	if !maps.Equal(got, want) {
		t.Fatalf("report log evidence %v, want %v", got, want)
	}
}
