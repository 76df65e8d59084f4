package tikv

import "testing"

func TestVersionGates(t *testing.T) {
	cases := []struct {
		v                                  string
		nonce, kmsRot, leak, race, reDefOn bool
	}{
		{"5.3.9", false, true, false, false, false},
		{"5.4.0", true, true, true, true, false},
		{"6.1.0", true, true, true, true, true},
		{"6.1.2", true, true, false, true, true},
		{"6.1.7", true, true, false, false, true},
		{"6.2.0", false, true, false, true, true},
		{"6.5.3", false, true, false, false, true},
		{"6.5.10", false, true, false, false, true},
		{"6.5.11", false, false, false, false, true},
		{"7.1.5", false, true, false, false, true},
		{"7.1.6", false, false, false, false, true},
		{"7.5.3", false, true, false, false, true},
		{"7.5.4", false, false, false, false, true},
		{"8.1.0", false, true, false, false, true},
		{"8.1.1", false, false, false, false, true},
		{"8.3.0", false, true, false, false, true},
		{"8.4.0", false, false, false, false, true},
		{"v8.5.2", false, false, false, false, true},
		{"9.0.0-beta.2", false, false, false, false, true},
	}
	for _, c := range cases {
		v, err := ParseVersion(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := RaftEngineNonceBug(v); got != c.nonce {
			t.Errorf("%s RaftEngineNonceBug = %v", c.v, got)
		}
		if got := KMSRotationBug(v); got != c.kmsRot {
			t.Errorf("%s KMSRotationBug = %v", c.v, got)
		}
		if got := RaftEngineKeyLeakBug(v); got != c.leak {
			t.Errorf("%s RaftEngineKeyLeakBug = %v", c.v, got)
		}
		if got := RaftLogMetaRaceBug(v); got != c.race {
			t.Errorf("%s RaftLogMetaRaceBug = %v", c.v, got)
		}
		if got := RaftEngineDefaultOn(v); got != c.reDefOn {
			t.Errorf("%s RaftEngineDefaultOn = %v", c.v, got)
		}
	}
	for _, bad := range []string{"", "8.5", "8.x.1", "a.b.c"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) should fail", bad)
		}
	}
}
