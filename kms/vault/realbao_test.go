//go:build realparts

package vault

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
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

	t.Run("AgentRenders", func(t *testing.T) { realAgentRenders(t, srv) })

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

// realAgentRenders runs `bao agent` with the config AgentConfig writes (the
// host's AppRole holds only the generated host policy) and checks the file it
// renders is TiKV's 65-byte hex+LF key, mode 0400, with the planned fingerprint.
func realAgentRenders(t *testing.T, srv baoServer) {
	ctx := context.Background()
	sp := newSpace(t, srv, "")
	dir := t.TempDir()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	b := sp.backend(t, srv.root(), func(c *Config) {
		c.Delivery = DeliveryAgent
		c.HostKeyDir, c.Owner = filepath.Join(dir, "keys"), u.Username
		c.AgentConfigPath = filepath.Join(dir, "agent.hcl")
		c.AgentRoleIDFile, c.AgentSecretIDFile = filepath.Join(dir, "role_id"), filepath.Join(dir, "secret_id")
	})
	ref, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	hostPolicy, err := b.Policy("host")
	if err != nil {
		t.Fatal(err)
	}
	c := srv.client(t, "")
	if err := c.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil && !strings.Contains(err.Error(), "path is already in use") {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("auth/approle/role/tikv-host", map[string]any{"token_policies": srv.putPolicy(t, "", hostPolicy)}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Logical().Read("auth/approle/role/tikv-host/role-id")
	if err != nil || r == nil {
		t.Fatalf("role id: %v", err)
	}
	sid, err := c.Logical().Write("auth/approle/role/tikv-host/secret-id", nil)
	if err != nil || sid == nil {
		t.Fatalf("secret id: %v", err)
	}
	for f, v := range map[string]any{"role_id": r.Data["role_id"], "secret_id": sid.Data["secret_id"]} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(fmt.Sprint(v)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	h := kmstest.NewHost("h")
	if err := b.Deliver(ctx, h, ref); err != nil {
		t.Fatal(err)
	}
	hcl, _, _, ok := h.File(b.cfg.AgentConfigPath)
	if !ok {
		t.Fatal("no agent config delivered")
	}
	if err := os.WriteFile(b.cfg.AgentConfigPath, hcl, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := realparts.Binary(realparts.Bao)
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	agent := exec.CommandContext(actx, bin, "agent", "-config="+b.cfg.AgentConfigPath)
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	agent.Stdout, agent.Stderr, agent.Env = logf, logf, []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = agent.Process.Kill(); _ = agent.Wait() }()
	keyPath := b.HostPath(ref)
	for {
		if fi, err := os.Stat(keyPath); err == nil && fi.Size() > 0 {
			break
		}
		if actx.Err() != nil {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("bao agent rendered nothing at %s within a minute:\n%s", keyPath, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(keyPath)
	if !hexLF.Match(key) || fi.Mode().Perm() != 0o400 || core.Fingerprint(key) != ref.Fingerprint {
		t.Fatalf("rendered key: %d bytes, hex+LF %t, mode %v, fingerprint matches %t", len(key), hexLF.Match(key), fi.Mode().Perm(), core.Fingerprint(key) == ref.Fingerprint)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret_id")); !os.IsNotExist(err) {
		t.Errorf("the agent kept its secret-id file (remove_secret_id_file_after_reading): %v", err)
	}
}
