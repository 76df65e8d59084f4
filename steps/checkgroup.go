package steps

import (
	"fmt"
	"strings"
)

// CheckGroup is one check id, verdict and fix with the stores that share it:
// per-store repeats of a preflight finding collapse into one.
type CheckGroup struct {
	Check  Check // the first store's check
	Stores []uint64
}

// GroupChecks collapses per-store repeats into one group per check id,
// verdict and fix, in first-seen order. Every face groups checks with it:
// 'tikv-ear plan' prints them, the wizard lists them, and a run's summary
// counts the warnings it went past.
func GroupChecks(checks []Check) []CheckGroup {
	var groups []CheckGroup
	index := map[string]int{}
	for _, c := range checks {
		k := c.Status + "\x00" + c.ID + "\x00" + c.Fix
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, CheckGroup{Check: c})
		}
		if c.StoreID != 0 {
			groups[i].Stores = append(groups[i].Stores, c.StoreID)
		}
	}
	return groups
}

// Message is the group's text: "store 3: …" for one store, "stores 1,2,3:
// …" with the first store's message (its store prefix dropped, "(first
// shown)" when it is not a pass) for several, the message alone for none.
func (g CheckGroup) Message() string {
	msg := g.Check.Message
	if len(g.Stores) == 0 {
		return msg
	}
	ids := make([]string, len(g.Stores))
	for i, id := range g.Stores {
		ids[i] = fmt.Sprint(id)
	}
	msg = strings.TrimPrefix(msg, fmt.Sprintf("store %d: ", g.Stores[0]))
	if len(ids) == 1 {
		return "store " + ids[0] + ": " + msg
	}
	msg = "stores " + strings.Join(ids, ",") + ": " + msg
	if g.Check.Status != Pass {
		msg += " (first shown)"
	}
	return msg
}
