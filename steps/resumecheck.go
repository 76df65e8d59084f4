package steps

import (
	"fmt"
	"slices"
	"strings"
)

// RestartedUnverified returns the stores the run in last restarted (journal
// step "restart" started or done) and never verified: stores that run the
// run's new config unproven, or are still starting with it.
func RestartedUnverified(last RunState) []uint64 {
	restarted, settled := map[uint64]bool{}, map[uint64]bool{}
	for _, r := range last.Records {
		if r.StoreID == 0 {
			continue
		}
		switch {
		case r.Step == StepRestart && (r.State == StateStarted || r.State == StateDone):
			restarted[r.StoreID] = true
		case r.Step == StepVerify && r.State == StateDone, r.Step == StepRollback && r.State == StateDone:
			settled[r.StoreID] = true // proven on the target, or back on its old config
		}
	}
	var out []uint64
	for id := range restarted {
		if !settled[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// resumeBlocked says why a resumed run's preflight refused when what blocks
// is a store the interrupted run itself restarted: it is still starting with
// the run's new config, or failed to start, and "bring every store Up" would
// not say that the run took it down, nor how to go on. It returns nil when no
// blocking check is about such a store.
func (s *Session) resumeBlocked(last RunState, blocking []Check) *Error {
	ids := RestartedUnverified(last)
	var down []uint64
	for _, id := range ids {
		for _, c := range blocking {
			mine := c.StoreID == id && c.ID == "store-serving" || c.ID == "stores-up" && slices.Contains(c.Stores, id)
			if mine && !slices.Contains(down, id) {
				down = append(down, id)
			}
		}
	}
	if len(down) == 0 {
		return nil
	}
	var names, logs []string
	for _, id := range down {
		names = append(names, fmt.Sprintf("store %d", id))
		if n, ok := s.Plan.Node(id); ok && n.LogFile != "" {
			logs = append(logs, fmt.Sprintf("store %d: %s on %s; the config before the run is kept beside %s", id, n.LogFile, n.Host, n.ConfigPath))
		}
	}
	hints := []string{"wait until it serves again ('tikv-ear status " + s.PlanPath + "' shows it Up), then resume again: the resumed run verifies it and goes on"}
	if len(logs) > 0 {
		hints = append(hints, "if it does not start, read the FATAL line in its log ("+strings.Join(logs, "; ")+")")
	}
	return &Error{Msg: fmt.Sprintf("cannot resume yet: the interrupted run %s restarted %s with the new config and it is not serving yet; nothing changed", last.Run, strings.Join(names, ", ")),
		Hints: hints, Code: ExitFailure, Err: &PreflightError{Blocking: blocking}}
}
