//go:build realparts

package wizard

import (
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
)

// TestRealWizardDriverWithVault: the demo's Vault path on a real OpenBao dev
// server, after `bao secrets enable transit` (a dev server has none).
func TestRealWizardDriverWithVault(t *testing.T) {
	bs := realparts.MustStartBao(t)
	cfg := api.DefaultConfig()
	cfg.Address = bs.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(bs.Token)
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	wizardVault(t, bs.Addr, bs.Token)
}
