// Package tiupseq is the rolling restart that `tiup cluster reload -R tikv`
// runs, written as a Go driver so that benchmarks can measure tikv-ear against
// it on the same cluster, at the same speed, in the same run. It is a
// benchmark baseline, not part of tikv-ear's rollout.
//
// Every step and every interval is traced to pingcap/tiup at commit
// 842f05cc83afab3e6e44eabb5020c5bd302af048 (the paths and line numbers below
// are of that commit; reference /work/shared/reference/pd-and-tiup.md §2):
//
//   - pkg/cluster/manager/reload.go Manager.Reload (L34): refresh the configs of
//     every instance as one ParallelStep (L108; tasks from buildInitConfigTasks,
//     L80) bounded by --concurrency (components/cluster/command/root.go L147,
//     default 5), then operator.Upgrade (L127).
//   - pkg/cluster/operation/upgrade.go Upgrade (L46): increaseScheduleLimit
//     (L342) raises leader-schedule-limit through SetReplicationConfig, which
//     POSTs to pd/api/v1/config/replication-mode (pkg/cluster/api/pdapi.go
//     L988): PD ignores the unknown "set" key there, so the limit does not
//     change (pd-and-tiup.md §2.2). The driver therefore leaves it as it is.
//     Then the TiKV instances one at a time, in topology order, each through
//     upgradeInstance (L256): PreRestart (L292), restartInstance (L298),
//     PostRestart.
//   - pkg/cluster/spec/tikv.go TiKVInstance.PreRestart (L363): nothing with
//     one TiKV (L374); RetryOption{Timeout: --transfer-timeout (600 s),
//     Delay: 2 s} (L364-367); WaitLeader (L383); the leader count before
//     (genLeaderCounter L447: the status port's /metrics,
//     tikv_raftstore_region_count{type="leader"}); EvictStoreLeader (L395),
//     whose timeout is only a warning (L396-400).
//   - pkg/cluster/api/pdapi.go EvictStoreLeader (L491): GetCurrentStore (GET
//     pd/api/v1/stores, L260), count the leaders, none → no scheduler; else
//     POST pd/api/v1/schedulers {"name":"evict-leader-scheduler","store_id":id}
//     and poll GetCurrentStore + the count every Delay until 0.
//   - pkg/utils/retry.go Retry (L52): call first, then sleep Delay between
//     calls, until Timeout.
//   - pkg/cluster/operation/action.go restartInstance (L355): `systemctl
//     daemon-reload && systemctl restart tikv-<port>.service`
//     (pkg/cluster/module/systemd.go L82) then ins.Ready → BaseInstance.Ready
//     (pkg/cluster/spec/instance.go L177) → PortStarted (L133):
//     pkg/cluster/module/wait_for.go runs `ss -ltn` (L75) every Sleep = 1 s
//     (L48-49) until ":<port> " shows, within --wait-timeout (120 s).
//   - pkg/cluster/spec/tikv.go TiKVInstance.PostRestart (L406):
//     RemoveStoreEvict (L419; pdapi.go L679: GetCurrentStore, DELETE
//     pd/api/v1/schedulers/evict-leader-scheduler-<id>, a 404 or "scheduler
//     not found" is success), then, when the store had leaders,
//     RecoverStoreLeader (L424; pdapi.go L595): nothing below 200 leaders
//     (L597); else wait, every 2 s for up to 400 s (L626-627), until the count
//     is at least orig*2/3 (L601) or unchanged 5 times in a row.
//
// TiUP does not check PD's store state, heartbeats or region health after a
// restart (pd-and-tiup.md §2.2); neither does this driver.
package tiupseq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// TiUP's constants, at the commit cited in the package comment.
const (
	// TransferTimeout is --transfer-timeout's default (reload.go flags; options.APITimeout).
	TransferTimeout = 600 * time.Second
	// EvictPoll is PreRestart's RetryOption.Delay (tikv.go L366).
	EvictPoll = 2 * time.Second
	// WaitTimeout is --wait-timeout's default (command/root.go; options.OptTimeout).
	WaitTimeout = 120 * time.Second
	// PortPoll is WaitForConfig.Sleep's default (wait_for.go L48-49).
	PortPoll = time.Second
	// RecoverMinLeaders: RecoverStoreLeader returns at once below it (pdapi.go L597).
	RecoverMinLeaders = 200
	// RecoverPoll and RecoverTimeout are RecoverStoreLeader's RetryOption (pdapi.go L626-627).
	RecoverPoll    = 2 * time.Second
	RecoverTimeout = 400 * time.Second
	// RecoverMaxUnchanged is maxUnchangedTimes (pdapi.go RecoverStoreLeader).
	RecoverMaxUnchanged = 5
	// Concurrency is --concurrency's default (command/root.go L147).
	Concurrency = 5
)

// Store is what GetCurrentStore reads of one PD store.
type Store struct {
	ID      uint64
	Address string
}

// PD is the part of PD's HTTP API TiUP's PDClient uses here.
type PD interface {
	// Leader is GET pd/api/v1/leader (WaitLeader).
	Leader(ctx context.Context) error
	// Stores is GET pd/api/v1/stores (GetCurrentStore).
	Stores(ctx context.Context) ([]Store, error)
	// AddEvictLeader is POST pd/api/v1/schedulers.
	AddEvictLeader(ctx context.Context, storeID uint64) error
	// RemoveEvictLeader is DELETE pd/api/v1/schedulers/evict-leader-scheduler-<id>;
	// a 404 or "scheduler not found" must count as success.
	RemoveEvictLeader(ctx context.Context, storeID uint64) error
}

// Instance is one TiKV instance of the topology.
type Instance struct {
	// Address is host:port as the store registers it (TiUP's addr(spec)).
	Address string
	// Port is the main port PortStarted waits for.
	Port int
	// Leaders reads the status port's leader count (genLeaderCounter).
	Leaders func(ctx context.Context) (int, error)
	// Restart runs `systemctl daemon-reload && systemctl restart <unit>` over SSH.
	Restart func(ctx context.Context) error
	// PortListening runs `ss -ltn` over SSH and looks for ":<port> ".
	PortListening func(ctx context.Context, port int) (bool, error)
	// Refresh writes the instance's new config (and what it needs) to its host:
	// the "Refresh instance configs" step.
	Refresh func(ctx context.Context) error
}

// Options are the driver's clock and timings; zero values take TiUP's.
type Options struct {
	// Sleep waits d (sim time on a simulated cluster).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock the timeouts and the result use.
	Now func() time.Time
	// Scale divides every TiUP interval and timeout (a sim running ×N uses N).
	Scale float64
	// Restart, when above 0, restarts only the first Restart instances (a
	// benchmark's row of a large cluster); every instance's config is still
	// refreshed first, as reload does.
	Restart int
}

// Phase is one step of one instance.
type Phase struct {
	Step       string // refresh, evict, restart, port, remove, recover
	Start, End time.Time
}

// Result is what one run measured.
type Result struct {
	Started, Finished time.Time
	// Refresh is the config-refresh step (all instances).
	Refresh Phase
	// Instances holds each instance's phases, in topology order.
	Instances [][]Phase
	// Warnings are what TiUP would only log (an eviction or recovery timeout).
	Warnings []string
}

// Wall is the whole run's duration.
func (r Result) Wall() time.Duration { return r.Finished.Sub(r.Started) }

type driver struct {
	pd   PD
	opt  Options
	res  *Result
	size int
}

func (d *driver) scaled(t time.Duration) time.Duration {
	if d.opt.Scale > 0 {
		return time.Duration(float64(t) / d.opt.Scale)
	}
	return t
}

// Run does what `tiup cluster reload -R tikv` does to the instances.
func Run(ctx context.Context, pd PD, instances []Instance, opt Options) (*Result, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Sleep == nil {
		opt.Sleep = sleep
	}
	d := &driver{pd: pd, opt: opt, res: &Result{}, size: len(instances)}
	d.res.Started = opt.Now()
	defer func() { d.res.Finished = opt.Now() }()
	if err := d.refresh(ctx, instances); err != nil {
		return d.res, err
	}
	row := instances
	if opt.Restart > 0 && opt.Restart < len(row) {
		row = row[:opt.Restart]
	}
	for _, in := range row {
		var phases []Phase
		err := d.upgradeInstance(ctx, in, &phases)
		d.res.Instances = append(d.res.Instances, phases)
		if err != nil {
			return d.res, err
		}
	}
	return d.res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refresh is the ParallelStep "+ Refresh instance configs" at --concurrency.
func (d *driver) refresh(ctx context.Context, instances []Instance) error {
	d.res.Refresh = Phase{Step: "refresh", Start: d.opt.Now()}
	defer func() { d.res.Refresh.End = d.opt.Now() }()
	sem := make(chan struct{}, Concurrency)
	errs := make([]error, len(instances))
	var wg sync.WaitGroup
	for i, in := range instances {
		if in.Refresh == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := in.Refresh(ctx); err != nil {
				errs[i] = fmt.Errorf("refreshing the config of %s: %w", in.Address, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// errRetry is the "still waiting" error of a Retry round.
var errRetry = errors.New("still waiting")

// errTimeout is Retry's "operation timed out after" (utils.IsTimeoutOrMaxRetry).
var errTimeout = errors.New("operation timed out")

// retry is pkg/utils/retry.go Retry: call f; on error sleep delay and call
// again, until f succeeds or timeout has passed.
func (d *driver) retry(ctx context.Context, delay, timeout time.Duration, f func() error) error {
	delay, timeout = d.scaled(delay), d.scaled(timeout)
	deadline := d.opt.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		if d.opt.Now().After(deadline) {
			return fmt.Errorf("%w after %s", errTimeout, timeout)
		}
		if err := d.opt.Sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// currentStore is GetCurrentStore: the store registered at addr.
func (d *driver) currentStore(ctx context.Context, addr string) (Store, bool, error) {
	stores, err := d.pd.Stores(ctx)
	if err != nil {
		return Store{}, false, err
	}
	for _, s := range stores {
		if s.Address == addr {
			return s, true, nil
		}
	}
	return Store{}, false, nil
}

func (d *driver) phase(phases *[]Phase, step string, start time.Time) {
	*phases = append(*phases, Phase{Step: step, Start: start, End: d.opt.Now()})
}

// upgradeInstance is upgrade.go upgradeInstance for a TiKV instance.
func (d *driver) upgradeInstance(ctx context.Context, in Instance, phases *[]Phase) error {
	rolling := d.size > 1 // PreRestart/PostRestart return nil with one TiKV (tikv.go L374, L412)
	var before int
	if rolling {
		start := d.opt.Now()
		var err error
		if before, err = d.preRestart(ctx, in); err != nil {
			return err
		}
		d.phase(phases, "evict", start)
	}
	start := d.opt.Now()
	if err := in.Restart(ctx); err != nil {
		return fmt.Errorf("failed to restart: %s: %w", in.Address, err)
	}
	d.phase(phases, "restart", start)
	start = d.opt.Now()
	err := d.retry(ctx, PortPoll, WaitTimeout, func() error {
		ok, err := in.PortListening(ctx, in.Port)
		switch {
		case err != nil:
			return err
		case !ok:
			return errRetry
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to restart: %s: timed out waiting for port %d to be started: %w", in.Address, in.Port, err)
	}
	d.phase(phases, "port", start)
	if !rolling {
		return nil
	}
	start = d.opt.Now()
	s, ok, err := d.currentStore(ctx, in.Address)
	if err != nil {
		return fmt.Errorf("failed to remove evict store scheduler for %s: %w", in.Address, err)
	}
	if ok {
		if err := d.pd.RemoveEvictLeader(ctx, s.ID); err != nil {
			return fmt.Errorf("failed to remove evict store scheduler for %s: %w", in.Address, err)
		}
	}
	d.phase(phases, "remove", start)
	if before > 0 {
		start = d.opt.Now()
		if err := d.recoverLeaders(ctx, in, before); err != nil {
			if !errors.Is(err, errTimeout) {
				return fmt.Errorf("failed to recover store leader %s: %w", in.Address, err)
			}
			d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("Ignore recovering store leader from %s, %v", in.Address, err))
		}
		d.phase(phases, "recover", start)
	}
	return nil
}

// preRestart is TiKVInstance.PreRestart; it returns leaderCountBeforeRestart.
func (d *driver) preRestart(ctx context.Context, in Instance) (int, error) {
	err := d.retry(ctx, EvictPoll, TransferTimeout, func() error {
		if err := d.pd.Leader(ctx); err != nil {
			return errRetry // "still waiting for the PD leader to be elected"
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("error getting PD leader, %w", err)
	}
	before, err := in.Leaders(ctx)
	if err != nil {
		return 0, fmt.Errorf("failed to get leader count %s: %w", in.Address, err)
	}
	if err := d.evictStoreLeader(ctx, in); err != nil {
		if !errors.Is(err, errTimeout) {
			return before, fmt.Errorf("failed to evict store leader %s: %w", in.Address, err)
		}
		d.res.Warnings = append(d.res.Warnings, fmt.Sprintf("Ignore evicting store leader from %s, %v", in.Address, err))
	}
	return before, nil
}

// evictStoreLeader is PDClient.EvictStoreLeader.
func (d *driver) evictStoreLeader(ctx context.Context, in Instance) error {
	s, ok, err := d.currentStore(ctx, in.Address)
	if err != nil || !ok {
		return err // ErrNoStore: nothing to evict
	}
	n, err := in.Leaders(ctx)
	if err != nil || n == 0 {
		return err
	}
	if err := d.pd.AddEvictLeader(ctx, s.ID); err != nil {
		return err
	}
	return d.retry(ctx, EvictPoll, TransferTimeout, func() error {
		if _, ok, err := d.currentStore(ctx, in.Address); err != nil || !ok {
			return err
		}
		n, err := in.Leaders(ctx)
		switch {
		case err != nil:
			return err
		case n > 0:
			return errRetry // "Still waiting for %d store leaders to transfer..."
		}
		return nil
	})
}

// recoverLeaders is PDClient.RecoverStoreLeader.
func (d *driver) recoverLeaders(ctx context.Context, in Instance, orig int) error {
	if orig < RecoverMinLeaders {
		return nil
	}
	target := orig * 2 / 3
	if _, ok, err := d.currentStore(ctx, in.Address); err != nil || !ok {
		return err
	}
	last, unchanged := -1, 0
	return d.retry(ctx, RecoverPoll, RecoverTimeout, func() error {
		if _, ok, err := d.currentStore(ctx, in.Address); err != nil || !ok {
			return err
		}
		n, err := in.Leaders(ctx)
		if err != nil {
			return err
		}
		if n >= target {
			return nil
		}
		if n == last {
			if unchanged++; unchanged >= RecoverMaxUnchanged {
				return nil // "Skip recovering leaders to %s, because leader count has been unchanged"
			}
		} else {
			last, unchanged = n, 0
		}
		return errRetry
	})
}

// Summary is one line per step kind: the total and the slowest instance,
// durations multiplied by scale (a sim's speed, to show sim time; 0 means 1).
func (r Result) Summary(scale float64) string {
	if scale <= 0 {
		scale = 1
	}
	total, slowest := map[string]time.Duration{}, map[string]time.Duration{}
	var order []string
	for _, ps := range r.Instances {
		for _, p := range ps {
			d := time.Duration(float64(p.End.Sub(p.Start)) * scale)
			if _, ok := total[p.Step]; !ok {
				order = append(order, p.Step)
			}
			total[p.Step] += d
			slowest[p.Step] = max(slowest[p.Step], d)
		}
	}
	parts := []string{fmt.Sprintf("refresh %s", time.Duration(float64(r.Refresh.End.Sub(r.Refresh.Start))*scale).Round(100*time.Millisecond))}
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s Σ%s (max %s)", s, total[s].Round(100*time.Millisecond), slowest[s].Round(100*time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}
