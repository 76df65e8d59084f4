package steps

import (
	"strings"
	"testing"
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
