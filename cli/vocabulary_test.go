package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeprecatedFlagSpellingsStillWork: an old spelling is a hidden alias
// that does what the new one does and says so in one line; the new spelling
// and -o/--output json work (docs/commands.md, flag vocabulary).
func TestDeprecatedFlagSpellingsStillWork(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	old := filepath.Join(dir, "old.pem")
	code, _, errb := runMain(ctx, "keygen", "--out", old)
	if code != ExitOK || strings.Count(errb, "tikv-ear: notice: --out is deprecated; use --out-file") != 1 {
		t.Fatalf("keygen --out: exit %d\n%s", code, errb)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("keygen --out wrote nothing: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "new"), 0o700); err != nil { // pub.pem goes beside the key
		t.Fatal(err)
	}
	newer := filepath.Join(dir, "new", "new.pem")
	code, out, errb := runMain(ctx, "keygen", "--out-file", newer, "-o", "json")
	var res KeygenResult
	if code != ExitOK || strings.Contains(errb, "notice") || json.Unmarshal([]byte(out), &res) != nil || res.PrivateKey != newer || res.PublicKey == "" {
		t.Fatalf("keygen --out-file -o json: exit %d, %+v\n%s%s", code, res, out, errb)
	}
}
