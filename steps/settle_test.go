package steps

import "testing"

// TestLeadersBalancedFollowsPD: the settle's "PD moves no more leaders onto
// the store" rule is PD's balance-leader rule (count policy, tolerance t:
// a leader moves only while (source-t)/w_source > (target+t)/w_target), with
// the counts the real pd-server left after a restart: the store regained 7
// of the 17 it held before its eviction and PD stopped there.
func TestLeadersBalancedFollowsPD(t *testing.T) {
	up := func(id uint64, leaders int) Store { return Store{ID: id, StateName: "Up", LeaderCount: leaders} }
	cases := []struct {
		name    string
		stores  []Store
		want    bool
		sources map[uint64]bool
	}{
		{"the real PD stopped at 7 (max 17-5 = 12 = 7+5)", []Store{up(1, 9), up(2, 7), up(3, 10), up(4, 17), up(5, 8), up(6, 9)}, true, nil},
		{"one more on the richest: PD still moves", []Store{up(1, 9), up(2, 7), up(3, 10), up(4, 18), up(5, 8), up(6, 9)}, false, nil},
		{"just restarted, nothing back", []Store{up(1, 12), up(2, 0), up(3, 12), up(4, 12), up(5, 12), up(6, 12)}, false, nil},
		{"two leaders a store: PD never moves one", []Store{up(1, 2), up(2, 0), up(3, 3), up(4, 2)}, true, nil},
		{"a Down store is no source", []Store{up(1, 5), up(2, 0), {ID: 3, StateName: "Down", LeaderCount: 40}}, true, nil},
		{"the target not Up yet", []Store{up(1, 5), {ID: 2, StateName: "Disconnected"}}, false, nil},
		{"the target unknown", []Store{up(1, 5)}, false, nil},
		{"leader weight 2 halves the score: (14-5)/2 <= 0+5", []Store{up(1, 3), up(2, 0), {ID: 3, StateName: "Up", LeaderCount: 14, LeaderWeight: 2}}, true, nil},
		{"the same store at weight 1 is a source", []Store{up(1, 3), up(2, 0), up(3, 14)}, false, nil},
		// 30 stores on the real PD: store 22 regained 13, store 3 leads 29 but
		// no region store 22 follows in, so PD never moves one of them to it.
		{"the richest store leads no region the target follows in", []Store{up(1, 19), up(2, 13), up(3, 29), up(4, 18)}, true, map[uint64]bool{1: true, 4: true}},
		{"a source it follows in is rich enough", []Store{up(1, 19), up(2, 13), up(3, 29), up(4, 18)}, false, map[uint64]bool{3: true}},
	}
	for _, c := range cases {
		if got, _ := leadersBalanced(c.stores, 2, pdLeaderTolerantSizeRatio, c.sources); got != c.want {
			t.Errorf("%s: balanced = %v, want %v", c.name, got, c.want)
		}
	}
}
