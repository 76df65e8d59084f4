package ui

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestStoppedStoresSaysWhereEachStoreStands: after a run stopped, the
// dashboard names the stores that run the target, those rolled back, those
// restarted but unproven, and how many were not touched, from the run's
// events, instead of one sentence that fits no case.
func TestStoppedStoresSaysWhereEachStoreStands(t *testing.T) {
	cases := []struct {
		stores []*storeState
		want   string
	}{
		{[]*storeState{{ID: 1, Verify: "rolled back", Restart: "up"}, {ID: 2}, {ID: 3}},
			"Store 1 rolled back (d shows to what); 2 not touched by this run."},
		{[]*storeState{{ID: 1, Verify: "verified", Restart: "up"}, {ID: 4, Restart: "restarted"}, {ID: 2}},
			"Store 1 on the target, verified; store 4 restarted and NOT verified; 1 not touched by this run."},
		{[]*storeState{{ID: 1}, {ID: 2}}, "2 not touched by this run."},
		{[]*storeState{{ID: 1, Verify: "rolled back"}, {ID: 3, Verify: "rolled back"}}, "Stores 1,3 rolled back (d shows to what)."},
	}
	for _, tc := range cases {
		d := &dashboard{stores: tc.stores}
		if got := d.stoppedStores(); got != tc.want {
			t.Errorf("stoppedStores() = %q\nwant             %q", got, tc.want)
		}
	}
}

// TestEventLineNamesItsStoreOnce: a timeline line whose text already starts
// with its store does not say "store 1 store 1".
func TestEventLineNamesItsStoreOnce(t *testing.T) {
	st := NewStyles(true)
	dec := &steps.Decision{Question: "store 1 did not reach the target"}
	got := eventLine(st, steps.Event{Kind: steps.DecisionAsk, Step: "verify", StoreID: 1, Decision: dec}, true)
	if strings.Contains(got, "store 1 store 1") || !strings.Contains(got, "verify store 1 did not reach") {
		t.Errorf("eventLine = %q", got)
	}
	got = eventLine(st, steps.Event{Kind: steps.StepDone, Step: "restart", StoreID: 2, Message: "restarted"}, true)
	if !strings.Contains(got, "restart store 2 restarted") {
		t.Errorf("eventLine = %q", got)
	}
}

// TestAlgorithmScreenSaysSM4BuildIsUnknown: the version gate is not a
// promise that a store's binary runs SM4; the screen says the build is
// unknown and what a dynamically linked build does.
func TestAlgorithmScreenSaysSM4BuildIsUnknown(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.screen = ScreenAlgorithm
	m.algos = []AlgorithmOption{{Method: "sm4-ctr", Gates: []Gate{{StoreID: 1, OK: true}}}}
	v := unwrapped(screenAt(t, m, 80, 24))
	for _, want := range []string{"1 of 1 stores run a TiKV version that has it", "build unknown", "dynamically linked openssl"} {
		if !strings.Contains(strings.Join(strings.Fields(v), " "), want) {
			t.Errorf("the Algorithm screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "can run it") {
		t.Errorf("the screen promises the stores can run SM4:\n%s", v)
	}
}
