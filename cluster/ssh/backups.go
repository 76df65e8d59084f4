package ssh

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// DefaultBackupsKept is how many backups of a file WriteFileAtomic's callers
// keep per host (docs/commands.md, "Backups"): the newest ones; older ones
// are pruned after a successful run.
const DefaultBackupsKept = 5

// backupName matches the backups WriteFileAtomic makes: <base>.tikv-ear.bak.<UTC timestamp>.
var backupName = regexp.MustCompile(`^\.?[^/]*` + regexp.QuoteMeta(BackupSuffix) + `\d{8}T\d{6}(\.\d+)?Z$`)

// PruneBackups removes all but the keep newest backups of p (the names
// WriteFileAtomic gives them sort by time) and returns the removed paths.
// keep below 1 is taken as 1: the newest backup is never removed.
func (n Node) PruneBackups(ctx context.Context, p string, keep int) ([]string, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	keep = max(keep, 1)
	dir, base := path.Split(p)
	res, err := n.run(ctx, "listing the backups of "+p, "cd -- "+Quote(dir)+" && for f in "+Quote(base+BackupSuffix)+"*; do [ -f \"$f\" ] && printf '%s\\n' \"$f\"; done; true", nil)
	if err != nil {
		return nil, err
	}
	var backups []string
	for _, name := range strings.Split(string(res.Stdout), "\n") {
		if strings.HasPrefix(name, base+BackupSuffix) && backupName.MatchString(name) {
			backups = append(backups, name)
		}
	}
	slices.Sort(backups)
	if len(backups) <= keep {
		return nil, nil
	}
	old := backups[:len(backups)-keep]
	args := []string{"rm", "-f", "--"}
	var removed []string
	for _, b := range old {
		args = append(args, path.Join(dir, b))
		removed = append(removed, path.Join(dir, b))
	}
	if _, err := n.run(ctx, fmt.Sprintf("removing %d old backups of %s", len(old), p), Command(args...), nil); err != nil {
		return nil, err
	}
	return removed, nil
}
