package verdict

import "testing"

func TestCombine(t *testing.T) {
	cases := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Unsure("no evidence was checked")},
		{[]Verdict{Prove("a"), Prove("b")}, Prove("a; b")},
		{[]Verdict{Prove("a"), Unsure("log not read")}, Unsure("log not read")},
		{[]Verdict{Unsure("x"), Fail("y"), Prove("z"), Fail("w")}, Fail("y; w")},
		{[]Verdict{Prove("a"), {Value: "bogus", Reason: "?"}}, Unsure("?")},
	}
	for _, c := range cases {
		if got := Combine(c.in...); got != c.want {
			t.Errorf("Combine(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if Unsure("x").Proven() || !Prove("x").Proven() || Fail("x").String() != "failing: x" {
		t.Error("helpers")
	}
}
