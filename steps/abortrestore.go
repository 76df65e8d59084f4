package steps

import (
	"context"
	"fmt"
	"slices"
)

// swappedStores returns, for the run in last, each store whose config the run
// swapped (journal step "swap" done with a backup) and did not put back, with
// the backup of the config it replaced.
func swappedStores(last RunState) map[uint64]string {
	out := map[uint64]string{}
	for _, r := range last.Records {
		if r.Step != StepSwap || r.StoreID == 0 {
			continue
		}
		switch r.State {
		case StateDone:
			if b := r.Detail["backup"]; b != "" {
				out[r.StoreID] = b
			}
		case "undone":
			delete(out, r.StoreID)
		}
	}
	return out
}

// restoreUnrestarted puts back the previous tikv.toml of every store an
// interrupted run swapped but never restarted onto it: the store still runs
// the old config (its status port's /config says so), so the new file on
// disk would only take effect at some later, unplanned restart (issue 18:
// after kill -9 during a restart and --abort, stores ran plaintext with the
// encryption config on disk, and verify failed). A store already running the
// new config keeps it; one whose running config cannot be read is named.
func (s *Session) restoreUnrestarted(ctx context.Context, last RunState) (restored []uint64) {
	eng := s.Engine
	swapped := swappedStores(last)
	ids := make([]uint64, 0, len(swapped))
	for id := range swapped {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	warn := func(id uint64, format string, args ...any) {
		s.emit(Event{Kind: Warning, Step: StepRollback, Message: fmt.Sprintf("store %d", id) + fmt.Sprintf(format, args...)})
	}
	for _, id := range ids {
		node, ok := eng.Nodes[id]
		if !ok {
			continue
		}
		n := node.Plan
		backup := swapped[id]
		running, err := node.Status.Config(ctx)
		if err != nil {
			warn(id, ": its running config cannot be read (%v); %s holds the run's new config and %s the one before it", err, n.ConfigPath, backup)
			continue
		}
		if SameEncryption(running, eng.Desired) {
			continue // restarted onto the new config: it stays
		}
		prev, ok, err := node.ReadFile(ctx, backup)
		if err != nil || !ok {
			warn(id, " still runs its old config but its backup %s cannot be read (%v): put it back by hand before the store restarts", backup, err)
			continue
		}
		if _, err := node.WriteFile(ctx, n.ConfigPath, prev); err != nil {
			warn(id, " still runs its old config; putting %s back failed: %v (copy %s over it by hand)", n.ConfigPath, err, backup)
			continue
		}
		restored = append(restored, id)
		s.emit(Event{Kind: StepDone, Step: StepRollback, Message: fmt.Sprintf("store %d was never restarted onto the new config: its previous %s is back in place", id, n.ConfigPath)})
	}
	return restored
}
