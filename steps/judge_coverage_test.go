package steps

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// TestJudgeNoFileProvenIsUnknown: a proof that counted no data file (every
// listed file changed while read, or none was there) proves nothing, so the
// store's verdict cannot pass on it: it says why and what to do.
func TestJudgeNoFileProvenIsUnknown(t *testing.T) {
	for _, c := range []struct {
		cov  gather.Coverage
		want string
	}{
		{gather.Coverage{Dirs: []string{"/data/db"}, Skipped: 3, Mismatches: 9}, "3 changed while they were read and 9 were still being written; verify again"},
		{gather.Coverage{Dirs: []string{"/data/db", "/data/raft-engine"}}, "no data file was found on disk under /data/db, /data/raft-engine"},
	} {
		cov := c.cov
		res := Judge(&gather.Report{Stores: []gather.Store{{StoreID: 1, Coverage: &cov}}}, tikv.MethodAES256CTR)
		v := res.Stores[0]
		if !strings.Contains(strings.Join(v.Unknowns, "\n"), c.want) || res.OK {
			t.Errorf("coverage %+v: unknowns %q (ok %v), want %q and not OK", cov, v.Unknowns, res.OK, c.want)
		}
	}
}
