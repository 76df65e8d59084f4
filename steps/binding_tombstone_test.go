package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestBindPlanRefusesTombstone: a plan made before a store was buried still
// names it; binding refuses it by PD's state (not by whatever its host shows).
func TestBindPlanRefusesTombstone(t *testing.T) {
	p := &Plan{Nodes: []NodePlan{
		{StoreID: 1, Host: "10.0.0.1", ConfigPath: "/tikv/conf/tikv.toml", Address: "10.0.0.1:20160", StatusAddress: "10.0.0.1:20180", Zone: "z1"},
		{StoreID: 2, Host: "10.0.0.2", ConfigPath: "/tikv/conf/tikv.toml", Address: "10.0.0.2:20160", StatusAddress: "10.0.0.2:20180", Zone: "z2"},
	}}
	stores := []Store{
		{ID: 1, Address: "10.0.0.1:20160", StatusAddress: "10.0.0.1:20180", StateName: "Up", Labels: map[string]string{"zone": "z1"}},
		{ID: 2, Address: "10.0.0.2:20160", StatusAddress: "10.0.0.2:20180", StateName: "Tombstone", Labels: map[string]string{"zone": "z2"}},
	}
	_, err := BindPlan(context.Background(), p, stores, nil, nil)
	var be *BindingError
	if !errors.As(err, &be) {
		t.Fatalf("BindPlan = %v, want a BindingError", err)
	}
	if !strings.Contains(be.Error(), "store 2") || !strings.Contains(be.Error(), "Tombstone") {
		t.Fatalf("the refusal does not name the Tombstone store: %v", be)
	}
	if strings.Contains(be.Error(), "store 1") {
		t.Fatalf("the Up store is refused too: %v", be)
	}
}
