//go:build realparts

package vault

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/vault/vaulttest"
)

// baoServer is a real OpenBao dev server (shared by every case of the suite:
// each case works in its own mounts and, where it needs one, namespace).
type baoServer struct {
	bs *realparts.BaoServer
	n  *atomic.Int64 // names policies and roles
}

func (b baoServer) addr() string { return b.bs.Addr }
func (b baoServer) root() string { return b.bs.Token }

func (b baoServer) client(t *testing.T, ns string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = b.bs.Addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(b.bs.Token)
	if ns != "" {
		c.SetNamespace(ns)
	}
	return c
}

// namespace: POST sys/namespaces/:name (OpenBao v2.6.2 vault/logical_system_namespaces.go).
func (b baoServer) namespace(t *testing.T, name string) {
	t.Helper()
	if _, err := b.client(t, "").Logical().Write("sys/namespaces/"+name, nil); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

func (b baoServer) mount(t *testing.T, ns, path, engine string, version int) {
	t.Helper()
	in := &api.MountInput{Type: engine}
	if engine == "kv" {
		in.Options = map[string]string{"version": fmt.Sprint(version)}
	}
	if err := b.client(t, ns).Sys().Mount(path, in); err != nil {
		t.Fatalf("mounting %s at %s: %v", engine, path, err)
	}
}

// policyHCL renders p as an ACL policy.
func policyHCL(p vaulttest.Policy) string {
	paths := make([]string, 0, len(p))
	for k := range p {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	var sb strings.Builder
	for _, k := range paths {
		fmt.Fprintf(&sb, "path %q {\n  capabilities = [\"%s\"]\n}\n", k, strings.Join(p[k], "\", \""))
	}
	return sb.String()
}

func (b baoServer) putPolicy(t *testing.T, ns, hcl string) string {
	t.Helper()
	name := fmt.Sprintf("tikv-ear-%d", b.n.Add(1))
	if err := b.client(t, ns).Sys().PutPolicy(name, hcl); err != nil {
		t.Fatalf("writing policy %s: %v", name, err)
	}
	return name
}

func (b baoServer) token(t *testing.T, ns string, p vaulttest.Policy, ttl time.Duration) string {
	t.Helper()
	return b.tokenHCL(t, ns, policyHCL(p), ttl)
}

func (b baoServer) tokenHCL(t *testing.T, ns, hcl string, ttl time.Duration) string {
	t.Helper()
	req := &api.TokenCreateRequest{Policies: []string{b.putPolicy(t, ns, hcl)}}
	if ttl > 0 {
		req.TTL = ttl.String()
	}
	s, err := b.client(t, ns).Auth().Token().Create(req)
	if err != nil {
		t.Fatalf("creating a token: %v", err)
	}
	return s.Auth.ClientToken
}

func (b baoServer) appRole(t *testing.T, ns string, p vaulttest.Policy) (string, string) {
	t.Helper()
	c := b.client(t, ns)
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil && !strings.Contains(err.Error(), "path is already in use") {
		t.Fatalf("enabling approle: %v", err)
	}
	role := fmt.Sprintf("role-%d", b.n.Add(1))
	if _, err := c.Logical().Write("auth/approle/role/"+role, map[string]any{"token_policies": b.putPolicy(t, ns, policyHCL(p))}); err != nil {
		t.Fatalf("creating approle %s: %v", role, err)
	}
	r, err := c.Logical().Read("auth/approle/role/" + role + "/role-id")
	if err != nil || r == nil {
		t.Fatalf("reading role id: %v", err)
	}
	sid, err := c.Logical().Write("auth/approle/role/"+role+"/secret-id", nil)
	if err != nil || sid == nil {
		t.Fatalf("generating a secret id: %v", err)
	}
	return fmt.Sprint(r.Data["role_id"]), fmt.Sprint(sid.Data["secret_id"])
}

// expire waits (at most 30 s) until the server refuses tok.
func (b baoServer) expire(t *testing.T, tok string) {
	t.Helper()
	c := b.client(t, "")
	c.SetToken(tok)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Auth().Token().LookupSelf(); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the token did not expire within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unsealKey reads the dev server's unseal key from its output ("Unseal Key:
// …", OpenBao v2.6.2 command/server.go dev banner). It is never printed.
var unsealLine = regexp.MustCompile(`(?m)^Unseal Key: (\S+)$`)

func (b baoServer) seal(t *testing.T, sealed bool) {
	t.Helper()
	c := b.client(t, "")
	if sealed {
		if err := c.Sys().Seal(); err != nil {
			t.Fatalf("sealing: %v", err)
		}
		return
	}
	out, err := os.ReadFile(b.bs.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	m := unsealLine.FindSubmatch(out)
	if m == nil {
		t.Fatal("no unseal key in the dev server's output")
	}
	st, err := c.Sys().Unseal(string(m[1]))
	if err != nil || st.Sealed {
		t.Fatal("unsealing the dev server failed")
	}
}

// TestRealOpenBao runs the Vault suite against a real OpenBao dev server.
func TestRealOpenBao(t *testing.T) {
	srv := baoServer{bs: realparts.MustStartBao(t), n: &atomic.Int64{}}
	suite(t, func(*testing.T) server { return srv })

	// The operator policy tikv-ear generates is enough for every command.
	t.Run("GeneratedPolicy", func(t *testing.T) {
		ctx := context.Background()
		sp := newSpace(t, srv, "")
		b := sp.backend(t, srv.root(), nil)
		hcl, err := b.Policy("operator")
		if err != nil {
			t.Fatal(err)
		}
		ob := sp.backend(t, srv.tokenHCL(t, "", hcl, 0), nil)
		checks := ob.PreflightKEK(ctx)
		if c, bad := failed(checks); bad {
			t.Fatalf("preflight with the generated policy: %+v", c)
		}
		ref, err := ob.Prepare(ctx, core.PurposeCurrent)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ob.RotateKEK(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ob.Prepare(ctx, core.PurposeNew); err != nil {
			t.Fatal(err)
		}
		if _, err := ob.Retire(ctx, ref, core.RetireOptions{Confirmed: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := ob.RaiseMinDecryptionVersion(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ob.SetAutoRotate(ctx, "24h"); err != nil {
			t.Fatal(err)
		}
		host, _ := b.Policy("host")
		hb := sp.backend(t, srv.tokenHCL(t, "", host, 0), nil)
		if _, err := hb.unwrap(ctx, "vault:v1:AAAA"); err == nil || strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("host policy cannot reach transit/decrypt: %v", err)
		}
	})
}
