package steps

import (
	"errors"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// TestRunVerdict: a run's report calls a store proven only when the run's
// verify step passed on it; a failure or rollback is failing; a store the
// run skipped or never reached is unknown with the reason.
func TestRunVerdict(t *testing.T) {
	verified := []Phase{{Step: StepRestart, OK: true}, {Step: StepVerify, OK: true}}
	cases := []struct {
		name   string
		sr     StoreResult
		runErr error
		want   verdict.Value
		reason string
	}{
		{"verified", StoreResult{Phases: verified}, nil, verdict.Proven, "verification rules passed"},
		{"failed", StoreResult{Failed: "TiKV failed to start: Encryption failed to initialize", Phases: verified}, nil, verdict.Failing, "failed to start"},
		{"rolled back", StoreResult{RolledBack: true}, nil, verdict.Failing, "rolled back"},
		{"skipped", StoreResult{Skipped: true}, nil, verdict.Unknown, "skipped"},
		{"verify failed", StoreResult{Phases: []Phase{{Step: StepVerify, OK: false}}}, nil, verdict.Unknown, "no passed verification"},
		{"run stopped first", StoreResult{Phases: []Phase{{Step: StepEvict, OK: true}}}, errors.New("aborted by the operator"), verdict.Unknown, "aborted by the operator"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runVerdict(&c.sr, c.runErr)
			if got.Value != c.want || !strings.Contains(got.Reason, c.reason) {
				t.Errorf("verdict %v, want %s with %q", got, c.want, c.reason)
			}
		})
	}
}
