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
		name   string
		stores []Store
		want   bool
	}{
		{"the real PD stopped at 7 (max 17-5 = 12 = 7+5)", []Store{up(1, 9), up(2, 7), up(3, 10), up(4, 17), up(5, 8), up(6, 9)}, true},
		{"one more on the richest: PD still moves", []Store{up(1, 9), up(2, 7), up(3, 10), up(4, 18), up(5, 8), up(6, 9)}, false},
		{"just restarted, nothing back", []Store{up(1, 12), up(2, 0), up(3, 12), up(4, 12), up(5, 12), up(6, 12)}, false},
		{"two leaders a store: PD never moves one", []Store{up(1, 2), up(2, 0), up(3, 3), up(4, 2)}, true},
		{"a Down store is no source", []Store{up(1, 5), up(2, 0), {ID: 3, StateName: "Down", LeaderCount: 40}}, true},
		{"the target not Up yet", []Store{up(1, 5), {ID: 2, StateName: "Disconnected"}}, false},
		{"the target unknown", []Store{up(1, 5)}, false},
		{"leader weight 2 halves the score: (14-5)/2 <= 0+5", []Store{up(1, 3), up(2, 0), {ID: 3, StateName: "Up", LeaderCount: 14, LeaderWeight: 2}}, true},
		{"the same store at weight 1 is a source", []Store{up(1, 3), up(2, 0), up(3, 14)}, false},
	}
	for _, c := range cases {
		if got, _ := leadersBalanced(c.stores, 2, pdLeaderTolerantSizeRatio); got != c.want {
			t.Errorf("%s: balanced = %v, want %v", c.name, got, c.want)
		}
	}
}
