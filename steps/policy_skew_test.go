package steps

import (
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/kms"
)

// TestMasterKeyAgeNeverReportsAFutureLogTime: a store whose clock runs ahead
// of this machine's (or the sim's faster clock) logs "persisted result after
// replace master key." in the future; the age clamps it to now and says by
// how much it was ahead (issue 15: audit printed a future "last seen").
func TestMasterKeyAgeNeverReportsAFutureLogTime(t *testing.T) {
	now := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	ahead := now.Add(3*time.Hour + 12*time.Minute)
	rep := &gather.Report{Stores: []gather.Store{{StoreID: 2, Log: &gather.LogFacts{Events: []gather.LogEvent{
		{Time: &ahead, Name: tikvlog.MsgPersistedReplaceMasterKey.Name, Message: tikvlog.MsgPersistedReplaceMasterKey.Text}}}}}}
	a := MasterKeyAge(rep, kms.KeyRef{Generation: 1}, nil, 365*24*time.Hour, now)
	if a.LogConfirmed == nil || a.LogConfirmed.After(now) {
		t.Fatalf("last seen %v is after now %v", a.LogConfirmed, now)
	}
	if a.LogAhead != "3h12m0s" || a.LastRotation == nil || a.LastRotation.After(now) || a.AgeDays != 0 {
		t.Fatalf("age = %+v; want the skew 3h12m0s named and no future time", a)
	}
}
