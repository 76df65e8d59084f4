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

// TestRealWizardJourneyVaultWithTheVaultSigner: the Vault backend and the
// Vault report signer on real OpenBao, through the wizard's screens at 80x24;
// the report verifies through sigstore-go with the transit key's public key
// as OpenBao returns it.
func TestRealWizardJourneyVaultWithTheVaultSigner(t *testing.T) {
	bs := realparts.MustStartBao(t)
	if code, body := vaultCall(t, bs.Addr, bs.Token, "POST", "sys/mounts/transit", map[string]any{"type": "transit"}); code/100 != 2 {
		t.Fatalf("mounting transit: %d %s", code, body)
	}
	vaultJourney(t, bs.Addr, bs.Token)
}
