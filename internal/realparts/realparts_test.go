//go:build realparts

package realparts

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestRealPDOneMember starts one real pd-server and checks PD's own answer before
// any store registers: 500 ErrNotBootstrapped (../shared/realparts/README.md).
func TestRealPDOneMember(t *testing.T) {
	c := MustStartPD(t, 1, "")
	resp, err := http.Get(c.Members[0].ClientURL + "/pd/api/v1/stores")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("GET stores before bootstrap: %d, want 500", resp.StatusCode)
	}
}

// TestRealPDThreeMembersLeaderKill kills the leader of a 3-member cluster and
// expects another member to take over, then the killed one to rejoin.
func TestRealPDThreeMembersLeaderKill(t *testing.T) {
	c := MustStartPD(t, 3, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old.Kill()
	if old.Running() {
		t.Fatal("killed member still running")
	}
	next, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == old {
		t.Fatalf("leader is still %s after it was killed", old.Name)
	}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRealBaoDev starts OpenBao in dev mode and reads sys/mounts with the root
// token: secret/ is there, transit/ is not.
func TestRealBaoDev(t *testing.T) {
	s := MustStartBao(t)
	req, _ := http.NewRequest(http.MethodGet, s.Addr+"/v1/sys/mounts", nil)
	req.Header.Set("X-Vault-Token", s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var mounts map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&mounts); err != nil {
		t.Fatal(err)
	}
	if _, ok := mounts["secret/"]; !ok {
		t.Errorf("secret/ not mounted: %v", keys(mounts))
	}
	if _, ok := mounts["transit/"]; ok {
		t.Errorf("transit/ mounted by default")
	}
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}
