//go:build linux

package docstest

import (
	"fmt"
	"syscall"
)

// tmpfsMagic is TMPFS_MAGIC from linux/magic.h (statfs(2) f_type).
const tmpfsMagic = 0x01021994

// checkNotTmpfs refuses a working directory on tmpfs: the examples annotate
// `audit` with "# exit 1" because the sim's key files are on disk, not tmpfs
// (a high finding); on a tmpfs they would be right and audit would pass.
func checkNotTmpfs(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Type == tmpfsMagic {
		return fmt.Errorf("%s is on tmpfs: the examples expect the sim's key files on a disk file system (audit's \"# exit 1\"); set TMPDIR to a directory on disk", dir)
	}
	return nil
}
