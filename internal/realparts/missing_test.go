package realparts

import (
	"strings"
	"testing"
)

// TestBinaryMissingNamesInstall: without the binaries the error names the
// install step (make test-real fails with it, never skips).
func TestBinaryMissingNamesInstall(t *testing.T) {
	t.Setenv(EnvDir, "")
	_, err := Binary(PDServer)
	if err == nil || !strings.Contains(err.Error(), "../shared/realparts/install DIR") {
		t.Fatalf("unset %s: %v", EnvDir, err)
	}
	t.Setenv(EnvDir, t.TempDir())
	_, err = Binary(Bao)
	if err == nil || !strings.Contains(err.Error(), "../shared/realparts/install DIR") {
		t.Fatalf("empty dir: %v", err)
	}
}
