package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/tikv-ear/tikv-ear/steps"
)

// swappedStores returns, for the run in last, each store whose config the run
// swapped (journal step "swap" done with a backup) and did not put back, with
// the backup of the config it replaced.
func swappedStores(last steps.RunState) map[uint64]string {
	out := map[uint64]string{}
	for _, r := range last.Records {
		if r.Step != steps.StepSwap || r.StoreID == 0 {
			continue
		}
		switch r.State {
		case steps.StateDone:
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
func restoreUnrestarted(ctx context.Context, g *Globals, eng *Engine, last steps.RunState) (restored []uint64) {
	swapped := swappedStores(last)
	ids := make([]uint64, 0, len(swapped))
	for id := range swapped {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		node, ok := eng.Nodes[id]
		if !ok {
			continue
		}
		n := node.Plan
		backup := swapped[id]
		running, err := node.Status.Config(ctx)
		if err != nil {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: store %d: its running config cannot be read (%v); %s holds the run's new config and %s the one before it\n", id, err, n.ConfigPath, backup)
			continue
		}
		if steps.SameEncryption(running, eng.Desired) {
			continue // restarted onto the new config: it stays
		}
		prev, ok, err := node.ReadFile(ctx, backup)
		if err != nil || !ok {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: store %d still runs its old config but its backup %s cannot be read (%v): put it back by hand before the store restarts\n", id, backup, err)
			continue
		}
		if _, err := node.WriteFile(ctx, n.ConfigPath, prev); err != nil {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: store %d still runs its old config; putting %s back failed: %v (copy %s over it by hand)\n", id, n.ConfigPath, err, backup)
			continue
		}
		restored = append(restored, id)
		fmt.Fprintf(g.IO.Err, "tikv-ear: store %d was never restarted onto the new config: its previous %s is back in place\n", id, n.ConfigPath)
	}
	return restored
}
