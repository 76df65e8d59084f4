package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
)

// pruneBackups keeps the last ssh.DefaultBackupsKept backups of each store's
// tikv.toml on its host (and of meta.yaml here) after a successful run; older
// ones are removed. A failed run prunes nothing: its backups are evidence.
func (s *Session) pruneBackups(ctx context.Context) {
	p, eng := s.Plan, s.Engine
	total := 0
	for _, n := range p.Nodes {
		node, ok := eng.Nodes[n.StoreID]
		if !ok {
			continue
		}
		removed, err := node.N.PruneBackups(ctx, n.ConfigPath, ssh.DefaultBackupsKept)
		if err != nil {
			s.emit(Event{Kind: Warning, Step: StepFinalize, Message: fmt.Sprintf("pruning old backups of %s on store %d: %v", n.ConfigPath, n.StoreID, err)})
			continue
		}
		total += len(removed)
	}
	if p.Cluster.MetaYAML != "" {
		olds, _ := filepath.Glob(p.Cluster.MetaYAML + ssh.BackupSuffix + "*")
		slices.Sort(olds)
		for len(olds) > ssh.DefaultBackupsKept {
			if err := os.Remove(olds[0]); err == nil {
				total++
			}
			olds = olds[1:]
		}
	}
	if total > 0 {
		s.emit(Event{Kind: Info, Step: StepFinalize, Message: fmt.Sprintf("removed %d old backup(s); the last %d of each tikv.toml and of meta.yaml are kept", total, ssh.DefaultBackupsKept)})
	}
}
