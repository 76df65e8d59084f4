package steps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/bench/tiupseq"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// The rollout benchmark's cluster: 3 zones, benchLeaders leaders per store
// (3 replicas, so regions = stores × benchLeaders), sim clock ×benchSpeed,
// every TiKV start taking benchRestart of sim time (slow-start on every node,
// as issue 17 measured). Every figure is sim time (wall time × speed).
const (
	benchZones   = 3
	benchLeaders = 20
	benchSpeed   = 10
	benchRestart = 10 * time.Second
)

// serialRow is how many stores the serial rollouts (TiUP's sequence and
// tikv-ear serial) restart in a row on the largest cluster: the first ones in
// topology order. Every store of a serial rollout goes through the same
// sequence, so the per-store ratio needs no more; both still pay for the whole
// cluster what they do once per run (tikv-ear's preflight and staging,
// TiUP's config refresh of every instance). The whole 100-store rows
// took 7 minutes of wall time each and made `make bench` too long to run
// twice (the cluster keeps its 100 stores, its PD its 2 000 regions).
const serialRow = 30

// rowOf is how many stores a serial rollout of an n-store cluster restarts.
func rowOf(n int) int { return min(n, serialRow) }

// benchSizes are the store counts compared; TIKV_EAR_BENCH_SIZES="9,30" narrows them.
func benchSizes(b *testing.B) []int {
	v := os.Getenv("TIKV_EAR_BENCH_SIZES")
	if v == "" {
		return []int{9, 30, 100}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 3 {
			b.Fatalf("TIKV_EAR_BENCH_SIZES=%q: want store counts of at least 3, comma-separated", v)
		}
		out = append(out, n)
	}
	return out
}

// measured is one rollout on a fresh sim.
type measured struct {
	wall time.Duration // sim time, first action to last
	// floor counts the leaders each store held when its eviction began (as
	// apply's own closing line does, steps.FloorObserver); floorBefore the
	// leaders each store held before the run. For a zone rollout they differ:
	// the second and third zones carry the first zone's leaders by then.
	floor, floorBefore steps.Floor
	ticks              sim.TickHealth // the sim's PD ticks during the rollout, from its control endpoint
	work               remoteWork
	// refresh is the part of the wall spent once per run for every store
	// (TiUP's config refresh), not per restarted store.
	refresh time.Duration
	note    string
}

// remoteWork is what a rollout asked of the hosts, counted by the sim's hosts.
type remoteWork struct {
	commands, conns, shims, stores int
}

// hostWork sums the sim hosts' counters.
func (e *simEnv) hostWork() remoteWork {
	var w remoteWork
	for _, h := range e.c.Hosts() {
		c := h.Counts()
		w.commands += c.Commands
		w.conns += c.Conns
		for _, n := range c.Shims {
			w.shims += n
		}
		w.stores++
	}
	return w
}

// since is the work done after before, per store.
func (w remoteWork) since(before remoteWork) string {
	n := float64(max(w.stores, 1))
	return fmt.Sprintf("remote commands %.1f, SSH connections %.1f, shim calls %.1f per store",
		float64(w.commands-before.commands)/n, float64(w.conns-before.conns)/n, float64(w.shims-before.shims)/n)
}

func (m measured) ratioToFloor() float64 { return m.wall.Seconds() / m.floor.Total().Seconds() }

// beforeCell is m's wall over the floor that counts the leaders each store
// held before the run (the looser floor earlier runs printed), or the sim's lag.
func beforeCell(m measured) string {
	if !kept(m) {
		return fmt.Sprintf("sim behind (ticks %.2f)", m.ticks.Ratio)
	}
	return fmt.Sprintf("%.2f", m.wall.Seconds()/m.floorBefore.Total().Seconds())
}

// stop closes the sim and the SSH client once a rollout is measured. The
// test's cleanup would close them only when the whole benchmark ends, and
// every sim left running (its PD ticking, its nodes heartbeating) took CPU
// from the rollouts measured after it: by the 100-store zone rollout, eight
// earlier sims of 317 stores in all. Their directories (hosts, data files,
// journals) go too, rather than at the benchmark's end.
func (e *simEnv) stop() {
	e.ssh.Close()
	e.c.Close()
	os.RemoveAll(e.dir)
}

// benchEnv starts a fresh sim of n stores for one rollout.
func benchEnv(b *testing.B, stores int, batching string) *simEnv {
	b.Helper()
	// The production strategy (steps.DefaultStrategy), every duration on the sim's clock.
	e := startSim(b, simConfig{Stores: stores, Zones: benchZones, Regions: stores * benchLeaders, Speed: benchSpeed,
		Batching: batching, Canary: 1, Strategy: func(s *steps.Strategy) {
			def := steps.DefaultStrategy()
			scale := func(d steps.Duration) steps.Duration { return steps.D(d.Duration / benchSpeed) }
			s.EvictTimeout, s.EvictPoll = scale(def.EvictTimeout), scale(def.EvictPoll)
			s.RestartTimeout = scale(def.RestartTimeout)
			s.ReadyTimeout, s.ReadyPoll = scale(def.ReadyTimeout), scale(def.ReadyPoll)
			s.SettleTimeout, s.SettlePoll = scale(def.SettleTimeout), scale(def.SettlePoll)
			s.VerifyTimeout = scale(def.VerifyTimeout)
		}})
	if err := e.c.Inject(sim.Fault{Kind: sim.FaultSlowStart, Duration: benchRestart}); err != nil {
		b.Fatal(err)
	}
	// The shared 2-core machine can take seconds for an SSH handshake under
	// load: the benchmark's client waits like an operator's would, not 2 s.
	env := e.c.Env()
	cfg, err := ssh.LoadConfig(env.SSHConfig)
	if err != nil {
		b.Fatal(err)
	}
	e.ssh.Close()
	e.ssh = ssh.NewClient(ssh.Options{IdentityFiles: []string{env.Identity}, KnownHostsFiles: []string{env.KnownHosts},
		Config: cfg, NoAgent: true, DialTimeout: 30 * time.Second, CommandTimeout: 2 * time.Minute})
	b.Cleanup(func() { e.ssh.Close() })
	e.wireNodes()
	return e
}

// health reads the sim's control endpoint (GET /health): its clock, the
// quorum tracker and the write ledger. A rollout that lost a quorum or an
// acknowledged write fails the benchmark whatever its time.
func (e *simEnv) health(ctx context.Context) sim.Health {
	h, err := sim.ReadHealth(ctx, e.c.ControlURL())
	if err != nil {
		e.t.Fatal(err)
	}
	if !h.OK() {
		e.t.Fatalf("sim health: %d quorum losses, %d of %d acknowledged writes lost", len(h.QuorumLosses), h.Ledger.Lost, h.Ledger.Acked)
	}
	return h
}

// storeLeaders is each store's leader count now, from PD.
func (e *simEnv) storeLeaders(ctx context.Context) map[uint64]int {
	stores, err := e.pdc.Stores(ctx, false)
	if err != nil {
		e.t.Fatal(err)
	}
	leaders := map[uint64]int{}
	for _, s := range stores {
		leaders[s.Store.Id] = s.Status.LeaderCount
	}
	return leaders
}

// simFloor is the floor from the sim's own parameters, for the given leaders
// per store: PD's evict-leader batch per scheduling tick, the nodes' start
// time and the ticks restarted peers stay pending (sim/pd Config defaults).
func simFloor(bp steps.BatchPlan, leaders map[uint64]int) steps.Floor {
	const evictBatch, tick, catchUpTicks = 3, time.Second, 3 // sim/pd config.go defaults
	return steps.PhysicalFloor(bp, steps.FloorParams{Leaders: leaders, EvictRate: evictBatch / tick.Seconds(),
		Restart: benchRestart, CatchUp: catchUpTicks * tick})
}

// runTiKVEar is what apply does between the confirmation and the report:
// preflight, then the runner (stage, batches, finalize).
func runTiKVEar(b *testing.B, stores int, batching string) measured {
	e := benchEnv(b, stores, batching)
	ctx := context.Background()
	bp := e.batches(ctx)
	if bp.Strategy != batching {
		b.Fatalf("batching %s, want %s: %s", bp.Strategy, batching, bp.Reason)
	}
	if batching == steps.BatchSerial && len(bp.Batches) > rowOf(stores) {
		bp.Batches = bp.Batches[:rowOf(stores)] // the first serialRow stores of a large cluster
	}
	before := simFloor(bp, e.storeLeaders(ctx))
	ticks := e.health(ctx).Ticks
	work := e.hostWork()
	start := time.Now()
	if blocking := steps.Blocking(steps.RunPreflight(steps.GatherFacts(ctx, e.plan, steps.PDClient{C: e.pdc}, e.nodes, 20))); len(blocking) > 0 {
		b.Fatalf("preflight: %+v", blocking)
	}
	preflight := time.Since(start)
	rec := &recorder{}            // every event, samples included, for TIKV_EAR_BENCH_TIMELINE
	obs := &steps.FloorObserver{} // the leaders each store held when its eviction began
	r := e.runner(e.openJournal(), steps.Fanout{rec, obs})
	cpd := &countingPD{PD: r.PD}
	r.PD = cpd
	res, err := r.Run(ctx, bp)
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("%s rollout of %d stores: %v", batching, stores, err)
	}
	m := measured{wall: simTime(wall), floor: simFloor(bp, obs.Params(nil).Leaders), floorBefore: before, ticks: e.health(ctx).Ticks.Since(ticks)}
	if dir := os.Getenv("TIKV_EAR_BENCH_TIMELINE"); dir != "" { // profiling: the run's timeline, in sim seconds from the start
		var tl strings.Builder
		for _, ev := range rec.events {
			leaders := ""
			if ev.Metrics != nil {
				leaders = fmt.Sprintf("leaders=%d", ev.Metrics.Leaders)
			}
			fmt.Fprintf(&tl, "%8.2f %s %s store=%d batch=%d %s %s%s\n", simTime(ev.Time.Sub(start)).Seconds(), ev.Kind, ev.Step, ev.StoreID, ev.Batch, ev.Message, ev.Error, leaders)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("timeline-%s-%d.txt", batching, stores)), []byte(tl.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	e.assertSafe(ctx, batching+" rollout")
	assertRolled(b, res, bp, e.desired)
	m.note = fmt.Sprintf("preflight %s, %d batches, %s; %s; PD store lists read %d times (%d batches)", simTime(preflight).Round(100*time.Millisecond),
		len(bp.Batches), phaseSummary(res), e.hostWork().since(work), cpd.get("Stores"), len(bp.Batches))
	e.stop()
	return m
}

// runTiUP runs the TiUP sequence (bench/tiupseq) on a fresh sim: the same
// config edit and key delivery as tikv-ear's staging as its config refresh,
// then the rolling restart of every store in topology order.
func runTiUP(b *testing.B, stores int) measured {
	e := benchEnv(b, stores, steps.BatchSerial)
	ctx := context.Background()
	bp := steps.BatchPlan{Strategy: steps.BatchSerial}
	row := e.plan.Nodes[:rowOf(stores)] // the first serialRow stores of a large cluster, in topology order
	for i, n := range row {
		bp.Batches = append(bp.Batches, steps.Batch{Index: i + 1, Stores: []uint64{n.StoreID}})
	}
	floor := simFloor(bp, e.storeLeaders(ctx)) // TiUP's driver reports no evictions: leaders before the run
	keys := &steps.BackendKeys{B: e.backend, Refs: e.refs, Hosts: e.hosts}
	var instances []tiupseq.Instance
	for _, n := range e.plan.Nodes { // every config refreshed, as reload does; the row restarted
		node := e.nodes[n.StoreID]
		instances = append(instances, tiupseq.Instance{
			Address: n.Address, Port: n.Port,
			Leaders: func(ctx context.Context) (int, error) {
				s, err := node.Metrics(ctx)
				return s.Leaders, err
			},
			Restart:       node.Restart,
			PortListening: node.PortListening,
			Refresh: func(ctx context.Context) error {
				live, _, err := node.ReadFile(ctx, n.ConfigPath)
				if err != nil {
					return err
				}
				edited, err := steps.TOMLEditor(live, e.desired)
				if err != nil {
					return err
				}
				if err := keys.Stage(ctx, n); err != nil {
					return err
				}
				_, err = node.WriteFile(ctx, n.ConfigPath, edited)
				return err
			},
		})
	}
	ticks := e.health(ctx).Ticks
	work := e.hostWork()
	res, err := tiupseq.Run(ctx, tiupPD{e.pdc}, instances, tiupseq.Options{Scale: benchSpeed, Restart: len(row)})
	if err != nil {
		b.Fatalf("TiUP sequence on %d stores: %v", stores, err)
	}
	m := measured{wall: simTime(res.Wall()), floor: floor, floorBefore: floor, ticks: e.health(ctx).Ticks.Since(ticks), refresh: simTime(res.Refresh.End.Sub(res.Refresh.Start))}
	e.assertSafe(ctx, "TiUP sequence")
	m.note = res.Summary(benchSpeed) + "; " + e.hostWork().since(work)
	if len(res.Warnings) > 0 {
		m.note += "; warnings: " + strings.Join(res.Warnings, "; ")
	}
	e.stop()
	return m
}

// assertRolled checks that every store of the rollout's batches was
// verified on the target (a serial row of a large cluster leaves the rest
// as they were).
func assertRolled(b *testing.B, res *steps.Result, bp steps.BatchPlan, desired tikv.Encryption) {
	b.Helper()
	byID := map[uint64]*steps.StoreResult{}
	for _, sr := range res.Stores {
		byID[sr.StoreID] = sr
	}
	for _, bt := range bp.Batches {
		for _, id := range bt.Stores {
			sr := byID[id]
			if sr == nil || sr.Failed != "" || !sr.State.RunningOK || !steps.SameEncryption(sr.After, desired) {
				b.Errorf("store %d is not verified on the target: %+v", id, sr)
			}
		}
	}
}

// tiupPD is TiUP's PD client calls over cluster/pd.
type tiupPD struct{ c *pd.Client }

func (p tiupPD) Leader(ctx context.Context) error { _, err := p.c.Leader(ctx); return err }
func (p tiupPD) Stores(ctx context.Context) ([]tiupseq.Store, error) {
	infos, err := p.c.Stores(ctx, false)
	var out []tiupseq.Store
	for _, in := range infos {
		out = append(out, tiupseq.Store{ID: in.Store.Id, Address: in.Store.Address})
	}
	return out, err
}
func (p tiupPD) AddEvictLeader(ctx context.Context, id uint64) error {
	return p.c.AddEvictLeader(ctx, id)
}
func (p tiupPD) RemoveEvictLeader(ctx context.Context, id uint64) error {
	return p.c.RemoveEvictLeader(ctx, id)
}

// sim converts a wall duration of the benchmark to the sim time it represents.
func simTime(wall time.Duration) time.Duration { return wall * benchSpeed }

// phaseSummary is the slowest store's time per step, summed over batches.
func phaseSummary(res *steps.Result) string {
	byID := map[uint64]*steps.StoreResult{}
	for _, sr := range res.Stores {
		byID[sr.StoreID] = sr
	}
	sum := map[string]time.Duration{}
	for _, b := range res.Batches.Batches {
		slowest := map[string]time.Duration{}
		for _, id := range b.Stores {
			if sr := byID[id]; sr != nil {
				for _, p := range sr.Phases {
					slowest[p.Step] = max(slowest[p.Step], p.End.Sub(p.Start))
				}
			}
		}
		for k, v := range slowest {
			sum[k] += v
		}
	}
	var parts []string
	for _, s := range []string{steps.StepEvict, steps.StepSwap, steps.StepRestart, steps.StepReady, steps.StepVerify, steps.StepSettle} {
		parts = append(parts, fmt.Sprintf("%s %s", s, simTime(sum[s]).Round(100*time.Millisecond)))
	}
	started := map[string]time.Time{}
	for _, ev := range res.Timeline {
		if ev.StoreID != 0 || (ev.Step != steps.StepStage && ev.Step != steps.StepFinalize) {
			continue
		}
		switch ev.Kind {
		case steps.StepStarted:
			started[ev.Step] = ev.Time
		case steps.StepDone:
			parts = append(parts, fmt.Sprintf("run-wide %s %s", ev.Step, simTime(ev.Time.Sub(started[ev.Step])).Round(100*time.Millisecond)))
		}
	}
	return "slowest store per batch, summed: " + strings.Join(parts, ", ")
}

// BenchmarkRollout measures, in one run and each on a fresh sim, the TiUP
// sequence (`tiup cluster reload -R tikv`, bench/tiupseq), tikv-ear serial and
// tikv-ear zone at each size, and prints their walls, their ratios, the
// physical floor and the sim's tick ratio beside each. Issue 17's targets:
// serial ≤ 0.90× TiUP at every size; zone ≤ 0.35× TiUP at 30 stores and
// ≤ 0.15× at 100; zone at 100 ≤ 1.3× zone at 9; wall ≤ 1.25× floor. Nothing
// here asserts a time.
func BenchmarkRollout(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var lines []string
		zone := map[int]measured{}
		for _, n := range benchSizes(b) {
			if os.Getenv("TIKV_EAR_BENCH_ONLY") == "zone" { // profiling the zone rollout alone
				z := runTiKVEar(b, n, steps.BatchZone)
				b.Logf("%d stores, zone: wall %s, floor %s (leaders before the run: %s), wall/floor %s (%s), ticks %.3f; %s", n, z.wall.Round(100*time.Millisecond), z.floor.Total(), z.floorBefore.Total(), floorCell(z), beforeCell(z), z.ticks.Ratio, z.note)
				continue
			}
			tiup := runTiUP(b, n)
			serial := runTiKVEar(b, n, steps.BatchSerial)
			z := runTiKVEar(b, n, steps.BatchZone)
			zone[n] = z
			for _, r := range []struct {
				name string
				m    measured
			}{{"tiup", tiup}, {"serial", serial}, {"zone", z}} {
				b.Logf("%d stores, %s: wall %s, floor %s (leaders before the run: %s), ticks %d/%d (%.3f); %s", n, r.name, r.m.wall.Round(100*time.Millisecond),
					r.m.floor.Total().Round(100*time.Millisecond), r.m.floorBefore.Total().Round(100*time.Millisecond), r.m.ticks.Run, r.m.ticks.Due, r.m.ticks.Ratio, r.m.note)
			}
			// On a cluster larger than serialRow, the serial rollouts restart its
			// first serialRow stores: serial/TiUP compares the same stores, and
			// the zone rollout (all n stores) is compared with TiUP's row
			// projected to n stores (its refresh of every config once, then
			// n/serialRow times its restarts: every store of TiUP's sequence
			// goes through the same steps).
			label, tiupCell, tiupAll := fmt.Sprint(n), fmt.Sprintf("%.1f s", tiup.wall.Seconds()), tiup
			if r := rowOf(n); r < n {
				label = fmt.Sprintf("%d (serial: first %d)", n, r)
				tiupAll.wall = tiup.refresh + (tiup.wall-tiup.refresh)*time.Duration(n)/time.Duration(r)
				tiupCell = fmt.Sprintf("%.1f s (projected to %d: %.1f s)", tiup.wall.Seconds(), n, tiupAll.wall.Seconds())
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %.1f s | %s | %s | %.1f s | %s | %s | %.1f s | %s | %.3f / %.3f / %.3f |",
				label, tiupCell,
				serial.wall.Seconds(), ratioCell(serial, tiup, "%.2f"), floorCell(serial),
				z.wall.Seconds(), ratioCell(z, tiupAll, "%.2f"), floorCell(z), z.floor.Total().Seconds(), beforeCell(z),
				tiup.ticks.Ratio, serial.ticks.Ratio, z.ticks.Ratio))
			if kept(serial, tiup) {
				b.ReportMetric(serial.wall.Seconds()/tiup.wall.Seconds(), fmt.Sprintf("serial/tiup@%d", n))
			}
			if kept(z, tiupAll) {
				b.ReportMetric(z.wall.Seconds()/tiupAll.wall.Seconds(), fmt.Sprintf("zone/tiup@%d", n))
				b.ReportMetric(z.ratioToFloor(), fmt.Sprintf("zone-wall/floor@%d", n))
			}
			b.ReportMetric(min(tiup.ticks.Ratio, serial.ticks.Ratio, z.ticks.Ratio), fmt.Sprintf("min-tick-ratio@%d", n))
		}
		fmt.Printf("\nRollout, sim ×%d, %d zones, %d leaders per store, %s start per TiKV; sim seconds; %d CPUs, load %s\n",
			benchSpeed, benchZones, benchLeaders, benchRestart, runtime.NumCPU(), sim.LoadAverage())
		fmt.Println("| stores | TiUP wall | serial wall | serial/TiUP | serial wall/floor | zone wall | zone/TiUP | zone wall/floor | zone floor | zone wall/floor, leaders before the run | tick ratio TiUP / serial / zone |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
		for _, l := range lines {
			fmt.Println(l)
		}
		if z9, z100 := zone[9], zone[100]; z9.wall > 0 && z100.wall > 0 {
			fmt.Printf("zone wall at 100 stores / at 9: %s\n", ratioCell(z100, z9, "%.2f"))
			if kept(z100, z9) {
				b.ReportMetric(z100.wall.Seconds()/z9.wall.Seconds(), "zone100/zone9")
			}
		}
	}
}

// kept reports whether the sim kept its clock during every measurement.
func kept(ms ...measured) bool {
	for _, m := range ms {
		if !m.ticks.KeepsClock() {
			return false
		}
	}
	return true
}

// ratioCell is a's wall over b's, or what stands in its place when the sim
// fell behind its clock in either run (then the ratio measures the sim).
func ratioCell(a, b measured, format string) string {
	if !kept(a, b) {
		return fmt.Sprintf("sim behind (ticks %.2f)", min(a.ticks.Ratio, b.ticks.Ratio))
	}
	return fmt.Sprintf(format, a.wall.Seconds()/b.wall.Seconds())
}

// floorCell is m's wall over its physical floor, or the sim's lag.
func floorCell(m measured) string {
	if !kept(m) {
		return fmt.Sprintf("sim behind (ticks %.2f)", m.ticks.Ratio)
	}
	return fmt.Sprintf("%.2f", m.ratioToFloor())
}
