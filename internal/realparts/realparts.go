// Package realparts finds and starts the real upstream servers the realparts
// tests hold tikv-ear against: TiKV's Placement Driver (pd-server, 1 or 3
// members) and OpenBao (a Vault-API server, dev mode). The binaries come from
// the directory named by $TIKV_EAR_REALPARTS, filled by
// ../shared/realparts/install DIR (see README.md "Real parts"). Every server
// listens on 127.0.0.1 only, on its own free ports, with its own data
// directory. The package never downloads anything and never skips a test: a
// missing binary is an error that names the install step.
package realparts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvDir is the environment variable that names the directory holding the
// real binaries.
const EnvDir = "TIKV_EAR_REALPARTS"

// Names of the binaries in the EnvDir directory.
const (
	PDServer    = "pd-server"
	PDSimulator = "pd-simulator"
	Bao         = "bao"
)

// InstallHint is the step that fills the directory, named by every error this
// package returns for a missing binary.
const InstallHint = "run ../shared/realparts/install DIR and set " + EnvDir + "=DIR (make test-real needs it)"

// Binary returns the path of the named real binary (PDServer, PDSimulator or
// Bao) in $TIKV_EAR_REALPARTS, or an error naming the install step.
func Binary(name string) (string, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: %s", EnvDir, InstallHint)
	}
	p := filepath.Join(dir, name)
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s not found in %s=%s: %s", name, EnvDir, dir, InstallHint)
	case err != nil:
		return "", fmt.Errorf("checking %s: %w", p, err)
	case st.IsDir() || st.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable file: %s", p, InstallHint)
	}
	return p, nil
}

// TB is the part of testing.TB the Must helpers use (so this package does not
// import testing).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}
