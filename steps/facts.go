package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	// The reads are independent: one SSH session (one batch) per host, beside
	// the status port's answer.
	b := node.N.Batch()
	readConfig := node.N.ReadFileIn(b, n.ConfigPath)
	aesIn := node.N.CPUHasAESIn(b)
	var (
		freeIn    func() (ssh.DiskSpace, error)
		dictIn    func() (bool, error)
		raftIn    func() (ssh.Result, error)
		statusErr error
		wg        sync.WaitGroup
	)
	if n.DataDir != "" {
		freeIn = node.N.FreeSpaceIn(b, n.DataDir)
		dictIn = node.N.ExistsIn(b, path.Join(n.DataDir, tikv.KeyDictName))
		raftIn = node.N.RunIn(b, raftEngineHoldsFiles(path.Join(n.DataDir, "raft-engine")))
	}
	// PD can still show a store Up for its heartbeat window after the process
	// stopped; the status port tells whether it serves now.
	wg.Go(func() { _, statusErr = node.Metrics(ctx) })
	b.Run(ctx) // a failure is each read's own error
	wg.Wait()
	data, readErr := readConfig()
	ok := readErr == nil
	if errors.Is(readErr, fs.ErrNotExist) {
		readErr = nil
	}
	aes, aesErr := aesIn()
	if readErr != nil {
		hf.Err = readErr.Error()
		return hf
	}
	hf.Reachable = true
	if ok {
		hf.Config = data
	}
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
		if ds, err := freeIn(); err == nil {
			hf.FreeBytes = int64(ds.Available)
		}
		if exists, err := dictIn(); err == nil {
			hf.KeyDictExists = exists
		}
		res, err := raftIn()
		hf.RaftEngineData = err == nil && len(res.Stdout) > 0
	}
	return hf
}

// raftEngineHoldsFiles prints one line when dir has any entry, hidden ones
// included (what "ls -A dir | head -1" printed), with the shell's own globs
// instead of two processes.
func raftEngineHoldsFiles(dir string) string {
	q := ssh.Quote(dir)
	return "for f in " + q + "/* " + q + "/.[!.]* " + q + "/..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then echo \"$f\"; break; fi; done"
}
