package steps_test

import (
	"context"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/steps"
)

// TestPlanSessionsPerHost is the cost of `plan` per host: two SSH sessions,
// one connection. Preflight's reads (tikv.toml, /proc/cpuinfo, df, key.dict,
// the Raft Engine dir) go in one batch; the file backend's key dir check is
// the other; the diff renders the tikv.toml preflight read, not a second read.
func TestPlanSessionsPerHost(t *testing.T) {
	ctx := context.Background()
	e := startSim(t, simConfig{Stores: 3, Zones: 3, Regions: 30, Speed: 100})
	env := e.c.Env()
	cfg, err := ssh.LoadConfig(env.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sessions := map[string][]string{}
	client := ssh.NewClient(ssh.Options{IdentityFiles: []string{env.Identity}, KnownHostsFiles: []string{env.KnownHosts},
		Config: cfg, NoAgent: true, DialTimeout: 2 * time.Second, CommandTimeout: 30 * time.Second,
		OnSession: func(host, line string) {
			mu.Lock()
			sessions[host] = append(sessions[host], line)
			mu.Unlock()
		}})
	t.Cleanup(func() { client.Close() })
	stores, err := e.pdc.Stores(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Build(stores, inventory.Sources{MetaPath: env.Meta, PDClientURLs: e.c.PDURLs()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := e.pdc.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	s := &steps.Cluster{Flags: steps.ConnectOptions{PD: e.c.PDURLs(), Meta: env.Meta, Timeout: 2 * time.Second, Concurrency: 3},
		PD: e.pdc, Stores: stores, Inventory: inv, SSH: client, ClusterID: cl.Id}
	planned, err := steps.BuildPlan(ctx, s, steps.PlanRequest{Environment: steps.EnvStaging, Method: tikv.MethodAES256CTR, RotationPeriod: "7d",
		Key:      kms.Spec{Backend: "file", File: &filekey.Config{KeyDir: filepath.Join(e.dir, "plan-keys"), HostKeyDir: filepath.Join(e.dir, "plan-host-keys"), Owner: u.Username}},
		Strategy: testStrategy(), Policies: steps.DefaultPolicies(), ReportDir: filepath.Join(e.dir, "reports")})
	if err != nil {
		t.Fatal(err)
	}
	if b := steps.Blocking(planned.Checks); len(b) > 0 {
		t.Fatalf("blocking checks: %+v", b)
	}
	if len(planned.Plan.Nodes) != 3 {
		t.Fatalf("%d nodes", len(planned.Plan.Nodes))
	}
	for _, n := range planned.Plan.Nodes {
		host := steps.SSHTarget(n)
		lines := sessions[host]
		if len(lines) != 2 {
			t.Errorf("%s: %d SSH sessions, want 2:\n%s", host, len(lines), strings.Join(lines, "\n---\n"))
		}
		reads := 0
		for _, l := range lines {
			if strings.Contains(l, n.ConfigPath) {
				reads++
			}
		}
		if reads != 1 {
			t.Errorf("%s: tikv.toml read in %d sessions, want 1", host, reads)
		}
		if d := planned.Diffs[n.StoreID]; !strings.Contains(d, "+data-encryption-method") && !strings.Contains(d, "data-encryption-method") {
			t.Errorf("store %d: no diff rendered from the read config:\n%s", n.StoreID, d)
		}
	}
}
