// Package uitest is a scripted ui.Driver for tests of the wizard and of the
// code that embeds it. It touches nothing: every answer is data set on Fake,
// and Apply replays a fixed event script.
package uitest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// Base is the time of the first scripted event.
func Base() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }

// Fake is a ui.Driver that answers from its fields and records what it was asked.
type Fake struct {
	Disc        ui.Discovery
	DiscoverErr error
	Algos       []ui.AlgorithmOption
	BackendOpts []ui.BackendOption
	Checks      []steps.Check
	// PreflightFor, when set, answers Preflight instead of Checks (per backend).
	PreflightFor func(ui.Choices) ([]steps.Check, error)
	Preview      ui.PlanPreview
	// Events are emitted by Apply in order.
	Events []steps.Event
	// Ask, when set, is asked of the decider after Events[AskAfter] is emitted.
	Ask      *steps.Decision
	AskAfter int
	ApplyErr error
	// Hold, when set, makes Apply wait for it (or ctx) after emitting every event.
	Hold      chan struct{}
	Evidence  []ui.StoreEvidence
	Schedules []ui.ScheduleOption
	Files     ui.ReportFiles
	Open      *ui.Unfinished
	// Rotation is what BuildPlan previews for a rotation (Choices.Rotate):
	// it returns Preview without diffs and with this set.
	Rotation *ui.RotationPreview
	// AuditRes answers Audit (the audit journey).
	AuditRes ui.AuditResult
	// Leaders, when set, answers LeaderCounts; when nil LeaderCounts
	// returns errors.ErrUnsupported, as a driver that cannot count does.
	Leaders func() map[uint64]int

	mu      sync.Mutex
	calls   []string
	saved   []string
	decided []string
	choices ui.Choices
	sched   *ui.ScheduleOption
}

// New returns a fake cluster of n stores over three zones, with a plan in
// serial batches (canary first) and an event script that enables aes256-ctr.
func New(n int) *Fake {
	f := &Fake{}
	zones := []string{"zone-a", "zone-b", "zone-c"}
	plan := &steps.Plan{Schema: steps.PlanSchema, Environment: steps.EnvProduction,
		Cluster:  steps.ClusterSection{PD: []string{"http://127.0.0.1:2379"}},
		Target:   steps.Target{Method: tikv.MethodAES256CTR, DataKeyRotationPeriod: tikv.DefaultDataKeyRotationPeriod, Key: kms.Spec{Backend: "aws"}},
		Strategy: steps.DefaultStrategy(), Policies: steps.DefaultPolicies(),
	}
	for i := 1; i <= n; i++ {
		id := uint64(i)
		host := fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
		zone := zones[(i-1)%3]
		f.Disc.Stores = append(f.Disc.Stores, ui.StoreRow{ID: id, Address: host + ":20160", Host: host, Zone: zone, Version: "v8.5.1", State: "Up", Leaders: 40 + i%7, Regions: 120, Encryption: tikv.MethodPlaintext})
		plan.Nodes = append(plan.Nodes, steps.NodePlan{StoreID: id, Address: host + ":20160", StatusAddress: host + ":20180", Zone: zone, Version: "v8.5.1", Host: host,
			ConfigPath: "/tidb-deploy/tikv-20160/conf/tikv.toml", DataDir: "/tidb-data/tikv-20160", LogFile: "/tidb-deploy/tikv-20160/log/tikv.log", Service: "tikv-20160.service", Port: 20160})
		f.Preview.Diffs = append(f.Preview.Diffs, ui.NodeDiff{StoreID: id, Host: host, Path: "/tidb-deploy/tikv-20160/conf/tikv.toml", Unified: diffText(i)})
		f.Evidence = append(f.Evidence, ui.StoreEvidence{StoreID: id, Address: host + ":20160", Method: tikv.MethodAES256CTR, MasterKey: "kms (aws)", KeyDict: tikv.MetadataMethodAES256GCM,
			Initialized: true, FileNum: 30, DataKeys: 1, Encrypted: 20 + i%5, Plaintext: 10, OK: true,
			LogLines: []string{tikvlog.MsgBeingEnabled.Format("Aes256Ctr")}})
	}
	f.Disc.ClusterID, f.Disc.ClusterName, f.Disc.PD = 7312345678901234567, "prod-east", plan.Cluster.PD
	f.Disc.Findings = []steps.Check{{ID: "stores-up", Status: steps.Pass, Message: fmt.Sprintf("all %d stores are Up", n)}}
	f.Preview.Plan = plan
	f.Preview.Batches = steps.PlanBatches(plan.Nodes, nil, 1, steps.BatchSerial)
	f.Events = Script(f.Preview)
	f.Algos = []ui.AlgorithmOption{
		{Method: tikv.MethodAES128CTR, Summary: "AES with a 128-bit key", Speed: speed(3900, 3700, 4000), Compliance: "NIST SP 800-38A mode"},
		{Method: tikv.MethodAES192CTR, Summary: "AES with a 192-bit key", Speed: speed(3400, 3300, 3500)},
		{Method: tikv.MethodAES256CTR, Summary: "AES with a 256-bit key", Speed: speed(3100, 2950, 3200), Recommended: true, Compliance: "NIST SP 800-38A mode"},
		{Method: tikv.MethodSM4CTR, Summary: "Chinese national standard cipher", Disabled: true, Reason: "needs TiKV built with static OpenSSL"},
	}
	for i := range f.Algos {
		for _, s := range f.Disc.Stores {
			f.Algos[i].Gates = append(f.Algos[i].Gates, ui.Gate{StoreID: s.ID, OK: true})
			f.Algos[i].AESNI = append(f.Algos[i].AESNI, ui.HostFlag{Host: s.Host, Value: true, Known: true})
		}
	}
	f.BackendOpts = []ui.BackendOption{
		{Name: "aws", Title: "AWS KMS", Summary: "TiKV calls KMS at start", Fields: []ui.BackendField{
			{Key: "key-id", Label: "Key ID", Value: "alias/tikv", Required: true, Pattern: `^(alias/|arn:|[0-9a-f-]{36}$)`, PatternHelp: "use alias/..., an ARN or a key UUID"},
			{Key: "region", Label: "Region", Value: "us-east-1", Required: true}}},
		{Name: "gcp", Title: "Google Cloud KMS", Fields: []ui.BackendField{{Key: "key-id", Label: "Key name", Required: true}}},
		{Name: "azure", Title: "Azure Key Vault", Fields: []ui.BackendField{{Key: "key-id", Label: "Key name", Required: true}}},
		{Name: "vault", Title: "HashiCorp Vault (transit-wrapped file key)", Fields: []ui.BackendField{{Key: "vault-addr", Label: "Vault address", Required: true}}},
		{Name: "file", Title: "Key file on every host", Disabled: true, Reason: "refused for production: the key would rest on the TiKV hosts with no custodian"},
	}
	f.Checks = []steps.Check{
		{ID: "tiup-managed", Status: steps.Warn, StoreID: 1, Message: "tikv.toml is generated by TiUP", Fix: "tikv-ear also writes meta.yaml"},
		{ID: "stores-up", Status: steps.Pass, Message: fmt.Sprintf("all %d stores are Up", n)},
		{ID: "region-health", Status: steps.Pass, Message: "no missing, pending, down or offline peers"},
	}
	f.Schedules = []ui.ScheduleOption{
		{ID: "aws-auto", Title: "AWS KMS automatic key rotation", Period: "365d", KMSNative: true, Install: "aws kms enable-key-rotation --key-id alias/tikv"},
		{ID: "systemd", Title: "systemd timer on this machine", Period: "365d", Artefact: "./tikv-ear-rotate.timer", Install: "systemctl enable --now tikv-ear-rotate.timer"},
	}
	f.Rotation = &ui.RotationPreview{Backend: "aws", Current: "generation 1 (alias/tikv)", Next: "generation 2 (created when you rotate)",
		Steps: []string{"create generation 2 in aws", "pass 1: rolling restart; each store re-encrypts key.dict with generation 2",
			"pass 2: previous-master-key removed from every tikv.toml, no restart"}}
	f.Files = ui.ReportFiles{JSON: "reports/report.json", HTML: "reports/report.html", Bundle: "reports/report.dsse.json", VerifyCommand: "tikv-ear verify-report reports/report.dsse.json"}
	return f
}

func diffText(i int) string {
	return fmt.Sprintf(`--- a/tidb-deploy/tikv-20160/conf/tikv.toml
+++ b/tidb-deploy/tikv-20160/conf/tikv.toml
@@ -12,3 +12,10 @@
 [storage]
 data-dir = "/tidb-data/tikv-20160"
+
+[security.encryption]
+data-encryption-method = "aes256-ctr"
+data-key-rotation-period = "7d"
+[security.encryption.master-key]
+type = "kms"
+key-id = "alias/tikv"
+region = "us-east-1"
 # store %d
`, i)
}

// speed is a steady set of throughput samples (MB/s).
func speed(samples ...float64) ui.Throughput {
	return ui.Throughput{Samples: samples, Bytes: 4 << 20, Machine: "fake CPU, 2 cores, amd64"}
}

// LogLine renders a message as a TiKV unified-format log line.
func LogLine(t time.Time, level, msg string) string {
	return fmt.Sprintf("[%s] [%s] [mod.rs:496] [%q]", t.Format(tikvlog.TimeLayout), level, msg)
}

// Script is the event stream of a clean run over the preview's batches.
func Script(p ui.PlanPreview) []steps.Event {
	var out []steps.Event
	t := Base()
	add := func(e steps.Event) {
		t = t.Add(time.Second)
		e.Time = t
		out = append(out, e)
	}
	add(steps.Event{Kind: steps.StepStarted, Step: steps.StepStage, Message: "staging"})
	add(steps.Event{Kind: steps.StepDone, Step: steps.StepStage, Message: fmt.Sprintf("%d stores staged", len(p.Plan.Nodes))})
	for _, b := range p.Batches.Batches {
		add(steps.Event{Kind: steps.Info, Step: steps.StepRun, Batch: b.Index, Message: fmt.Sprintf("batch %d", b.Index)})
		for _, id := range b.Stores {
			n, _ := p.Plan.Node(id)
			ev := func(kind steps.EventKind, step, msg string) steps.Event {
				return steps.Event{Kind: kind, Step: step, StoreID: id, Store: n.Address, Batch: b.Index, Message: msg}
			}
			logEv := func(line string) steps.Event { // classified by the engine, as the runner's log events are
				e := steps.NodeLogEvent(id, line)
				e.Store, e.Batch = n.Address, b.Index
				return e
			}
			add(ev(steps.StepStarted, steps.StepEvict, "moving 42 leaders away"))
			s := steps.Sample{Leaders: 20, Regions: 120}
			e := ev(steps.MetricSample, steps.StepEvict, "")
			e.Metrics, e.Done, e.Total = &s, 22, 42
			add(e)
			add(ev(steps.StepDone, steps.StepEvict, "42 leaders moved"))
			add(ev(steps.StepStarted, steps.StepSwap, n.ConfigPath))
			add(ev(steps.StepDone, steps.StepSwap, "config in place"))
			add(ev(steps.StepStarted, steps.StepRestart, n.Service))
			add(ev(steps.StepDone, steps.StepRestart, ""))
			add(logEv(LogLine(t, "INFO", "Welcome to TiKV")))
			add(logEv(LogLine(t, "INFO", tikvlog.MsgNoDicts.Text)))
			add(logEv(LogLine(t, "INFO", tikvlog.MsgBeingEnabled.Format("Aes256Ctr"))))
			add(ev(steps.StepDone, steps.StepReady, "port listening, PD Up, status port answering"))
			// As the runner emits it: the verify step's done event carries the metrics read after the restart.
			vs := steps.Sample{Leaders: 0, Regions: 120, Initialized: true, FileNum: 31, DataKeys: 1}
			e = ev(steps.StepDone, steps.StepVerify, "method aes256-ctr; key.dict aes256-gcm; encryption initialized")
			e.Metrics = &vs
			add(e)
			add(ev(steps.StepDone, steps.StepRelease, "evict-leader scheduler removed"))
		}
		add(steps.Event{Kind: steps.StepDone, Step: steps.StepSettle, Batch: b.Index, Message: "leaders back, regions healthy"})
	}
	add(steps.Event{Kind: steps.StepDone, Step: steps.StepFinalize})
	add(steps.Event{Kind: steps.RunDone, Step: steps.StepRun, Message: "run finished: every store verified"})
	return out
}

func (f *Fake) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

// Calls returns the driver methods called, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Saved returns the paths SavePlan was given.
func (f *Fake) Saved() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.saved...)
}

// Decided returns the operator's answers, "choice by who".
func (f *Fake) Decided() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.decided...)
}

// LastChoices returns the choices given to the last Preflight or BuildPlan.
func (f *Fake) LastChoices() ui.Choices {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.choices
}

// ReportSchedule returns the schedule WriteReport was given.
func (f *Fake) ReportSchedule() *ui.ScheduleOption {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sched
}

// Discover implements ui.Driver.
func (f *Fake) Discover(_ context.Context, _ ui.ConnectInput) (ui.Discovery, error) {
	f.record("Discover")
	return f.Disc, f.DiscoverErr
}

// Algorithms implements ui.Driver.
func (f *Fake) Algorithms(context.Context, ui.Discovery) ([]ui.AlgorithmOption, error) {
	f.record("Algorithms")
	return f.Algos, nil
}

// Backends implements ui.Driver.
func (f *Fake) Backends(context.Context, ui.Discovery, string) ([]ui.BackendOption, error) {
	f.record("Backends")
	return f.BackendOpts, nil
}

// Preflight implements ui.Driver.
func (f *Fake) Preflight(_ context.Context, c ui.Choices) ([]steps.Check, error) {
	f.record("Preflight")
	f.mu.Lock()
	f.choices = c
	f.mu.Unlock()
	if f.PreflightFor != nil {
		return f.PreflightFor(c)
	}
	return f.Checks, nil
}

// BuildPlan implements ui.Driver.
func (f *Fake) BuildPlan(_ context.Context, c ui.Choices) (ui.PlanPreview, error) {
	f.record("BuildPlan")
	f.mu.Lock()
	f.choices = c
	f.mu.Unlock()
	if c.Rotate && f.Rotation != nil {
		p := f.Preview
		p.Diffs, p.Rotation, p.Checks = nil, f.Rotation, f.Checks
		return p, nil
	}
	return f.Preview, nil
}

// LeaderCounts implements ui.LeaderCounter with f.Leaders.
func (f *Fake) LeaderCounts(context.Context) (map[uint64]int, error) {
	if f.Leaders == nil {
		return nil, fmt.Errorf("the fake counts no leaders: %w", errors.ErrUnsupported)
	}
	return f.Leaders(), nil
}

// SavePlan implements ui.Driver.
func (f *Fake) SavePlan(_ context.Context, _ ui.PlanPreview, path string) error {
	f.record("SavePlan")
	f.mu.Lock()
	f.saved = append(f.saved, path)
	f.mu.Unlock()
	return nil
}

// Apply implements ui.Driver: it replays Events, asks Ask, then returns.
func (f *Fake) Apply(ctx context.Context, p ui.PlanPreview, sink steps.Sink, dec steps.Decider) (*steps.Result, error) {
	f.record("Apply")
	res := &steps.Result{Run: "apply-1", Kind: steps.KindApply, Started: Base(), Batches: p.Batches}
	for i, e := range f.Events {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("apply: %w", err)
		}
		sink.Emit(e)
		res.Timeline = append(res.Timeline, e) // as the engine keeps its run's events
		if f.Ask != nil && i == f.AskAfter {
			d := *f.Ask
			sink.Emit(steps.Event{Time: e.Time, Kind: steps.DecisionAsk, Step: steps.StepEvict, StoreID: e.StoreID, Decision: &d})
			choice, by, err := dec.Decide(ctx, d)
			if err != nil {
				return res, fmt.Errorf("apply: %w", err)
			}
			f.mu.Lock()
			f.decided = append(f.decided, choice+" by "+by)
			f.mu.Unlock()
			d.Chosen, d.By = choice, by
			made := steps.Event{Time: e.Time, Kind: steps.DecisionMade, Step: steps.StepEvict, StoreID: e.StoreID, Decision: &d}
			sink.Emit(made)
			res.Timeline = append(res.Timeline, made)
		}
	}
	if f.Hold != nil {
		select {
		case <-f.Hold:
		case <-ctx.Done():
			return res, fmt.Errorf("apply: %w", ctx.Err())
		}
	}
	res.Finished = Base().Add(time.Hour)
	return res, f.ApplyErr
}

// Verify implements ui.Driver.
func (f *Fake) Verify(context.Context, ui.PlanPreview) ([]ui.StoreEvidence, error) {
	f.record("Verify")
	return f.Evidence, nil
}

// ScheduleOptions implements ui.Driver.
func (f *Fake) ScheduleOptions(context.Context, ui.PlanPreview) ([]ui.ScheduleOption, error) {
	f.record("ScheduleOptions")
	return f.Schedules, nil
}

// WriteReport implements ui.Driver.
func (f *Fake) WriteReport(_ context.Context, _ *steps.Result, p ui.PlanPreview) (ui.ReportFiles, error) {
	f.record("WriteReport")
	f.mu.Lock()
	f.sched = p.Schedule
	f.mu.Unlock()
	return f.Files, nil
}

// Journal implements ui.Driver.
func (f *Fake) Journal(context.Context) (*ui.Unfinished, error) {
	f.record("Journal")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Open, nil
}

// SetOpen changes what Journal answers from now on, as another process that
// resumed, aborted or interrupted a run would.
func (f *Fake) SetOpen(u *ui.Unfinished) {
	f.mu.Lock()
	f.Open = u
	f.mu.Unlock()
}

// Audit implements ui.Auditor.
func (f *Fake) Audit(context.Context, ui.ConnectInput) (ui.AuditResult, error) {
	f.record("Audit")
	return f.AuditRes, nil
}

// AbortUnfinished implements ui.Driver.
func (f *Fake) AbortUnfinished(context.Context, ui.Unfinished) error {
	f.record("AbortUnfinished")
	return nil
}
