//go:build realparts

package docstest

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/sim"
)

// TestRealBackendVaultDoc follows docs/backend-vault.md "From an empty
// server" against a real OpenBao dev server: its "sh bao" blocks run verbatim
// in sh (bao logged in with the root token, as `bao login` leaves it in
// ~/.vault-token), its "toml key.toml" block becomes key.toml (plus the sim's
// host-key-dir and owner), and its "sh vault-sim" block runs through cli.Main
// against a simulated cluster: plan, apply (a signed report), verify, the KEK
// commands and deliver must all succeed.
func TestRealBackendVaultDoc(t *testing.T) {
	page := filepath.Join(docsDir, "backend-vault.md")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := fences("backend-vault.md", string(data))
	if err != nil {
		t.Fatal(err)
	}
	var baoBlocks []fence
	var keyTOML string
	var cmds []command
	for _, f := range fs {
		switch f.Info {
		case "sh bao":
			baoBlocks = append(baoBlocks, f)
		case "toml key.toml":
			keyTOML = f.Body
		case "sh vault-sim":
			c, err := commands(f)
			if err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, c...)
		}
	}
	if len(baoBlocks) == 0 || keyTOML == "" || len(cmds) == 0 {
		t.Fatalf("%s: want ```sh bao, ```toml key.toml and ```sh vault-sim blocks; found %d, %t, %d", page, len(baoBlocks), keyTOML != "", len(cmds))
	}

	bs := realparts.MustStartBao(t)
	bin, err := realparts.Binary(realparts.Bao)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	home := filepath.Join(work, "home")
	binDir := filepath.Join(work, "bin")
	for _, d := range []string{home, binDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte(bs.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "bao")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, f := range baoBlocks {
		cmd := exec.CommandContext(ctx, "sh", "-e", "-c", f.Body)
		cmd.Dir = work
		cmd.Env = []string{"HOME=" + home, "PATH=" + binDir + ":" + os.Getenv("PATH"), "BAO_ADDR=" + bs.Addr}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s:%d: %v\n%s", f.File, f.Line, err, out)
		}
	}

	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: filepath.Join(work, simDirName)})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	defer cl.Close()
	waitServing(t, ctx, cl)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	keyDir := filepath.Join(cl.Env().Dir, "vault-keys")
	toml := keyTOML + "host-key-dir = \"" + keyDir + "\"\nowner = \"" + u.Username + "\"\n"
	if err := os.WriteFile(filepath.Join(work, "key.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Chdir(work)
	for _, env := range []string{"TIKV_EAR_PD", "TIKV_EAR_SIM", "COLUMNS", "VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "BAO_TOKEN", "BAO_NAMESPACE"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	t.Setenv("BAO_ADDR", bs.Addr)
	for _, c := range cmds {
		runExample(t, c)
	}
	key, err := os.ReadFile(filepath.Join(keyDir, "master-g1.key"))
	if err != nil || len(key) != 65 {
		t.Fatalf("delivered key: %d bytes, %v", len(key), err)
	}
}
