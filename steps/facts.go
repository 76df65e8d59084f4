package steps

import (
	"context"
	"fmt"
	"path"
	"sync"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
)

// GatherFacts reads what preflight needs from PD and from every host (over
// SSH, read-only), at most concurrency hosts at a time.
func GatherFacts(ctx context.Context, p *Plan, pdc PD, nodes map[uint64]*SSHNode, concurrency int) Facts {
	f := Facts{Plan: p, Hosts: map[uint64]HostFacts{}, Rotation: p.Target.PreviousMasterKey != nil}
	if stores, err := pdc.Stores(ctx); err != nil {
		f.StoresErr = err.Error()
	} else {
		f.Stores = stores
	}
	if h, err := pdc.RegionHealth(ctx); err != nil {
		f.HealthErr = err.Error()
	} else {
		f.Health = h
	}
	if n, err := pdc.MaxReplicas(ctx); err == nil {
		f.MaxReplicas = n
	}
	if ev, err := pdc.EvictLeaderStores(ctx); err == nil {
		f.EvictStores = ev
	}
	sc := SignerCheck(ctx, p)
	f.Signer = &sc
	var mu sync.Mutex
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for _, n := range p.Nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			hf := hostFacts(ctx, n, nodes[n.StoreID])
			mu.Lock()
			f.Hosts[n.StoreID] = hf
			mu.Unlock()
		}()
	}
	wg.Wait()
	return f
}

func hostFacts(ctx context.Context, n NodePlan, node *SSHNode) HostFacts {
	hf := HostFacts{FreeBytes: -1}
	if node == nil {
		hf.Err = "no SSH access configured"
		return hf
	}
	// The reads are independent: one round trip of latency per host, not six.
	var (
		data               []byte
		ok                 bool
		readErr, statusErr error
		aes                bool
		aesErr, freeErr    error
		free               uint64
		dict, dictErr      = false, error(nil)
		raftData           bool
		wg                 sync.WaitGroup
	)
	wg.Go(func() { data, ok, readErr = node.ReadFile(ctx, n.ConfigPath) })
	// PD can still show a store Up for its heartbeat window after the process
	// stopped; the status port tells whether it serves now.
	wg.Go(func() { _, statusErr = node.Metrics(ctx) })
	wg.Go(func() { aes, aesErr = node.N.CPUHasAES(ctx) })
	if n.DataDir != "" {
		wg.Go(func() {
			ds, err := node.N.FreeSpace(ctx, n.DataDir)
			free, freeErr = uint64(ds.Available), err
		})
		wg.Go(func() {
			fi, err := node.N.Stat(ctx, path.Join(n.DataDir, tikv.KeyDictName))
			dict, dictErr = fi.Exists, err
		})
		wg.Go(func() {
			res, err := node.N.Exec.Run(ctx, node.N.Host, "ls -A -- "+ssh.Quote(path.Join(n.DataDir, "raft-engine"))+" 2>/dev/null | head -1", nil)
			raftData = err == nil && len(res.Stdout) > 0
		})
	}
	wg.Wait()
	if readErr != nil {
		hf.Err = readErr.Error()
		return hf
	}
	hf.Reachable = true
	if !ok {
		hf.ConfigErr = fmt.Sprintf("%s does not exist on %s", n.ConfigPath, n.Host)
	} else {
		hf.ConfigTiUP = tikv.DetectTiUP(data)
		cfg, err := tikvconf.ParseConfig(n.ConfigPath, data)
		if err != nil {
			hf.ConfigErr = err.Error()
		} else {
			hf.Current = cfg.Encryption
			for _, pr := range cfg.Validate(n.Version) {
				if pr.Severity == tikv.SeverityError {
					hf.ConfigErr = pr.Error()
					break
				}
			}
		}
	}
	if statusErr != nil {
		hf.StatusErr = statusErr.Error()
	}
	if aesErr == nil {
		hf.AESNI = &aes
	}
	if n.DataDir != "" {
		if freeErr == nil {
			hf.FreeBytes = int64(free)
		}
		if dictErr == nil {
			hf.KeyDictExists = dict
		}
		hf.RaftEngineData = raftData
	}
	return hf
}
