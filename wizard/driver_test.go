package wizard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/localkms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// recordingSink keeps every event.
type recordingSink struct {
	mu     sync.Mutex
	events []steps.Event
}

func (r *recordingSink) Emit(e steps.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recordingSink) all() []steps.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// scriptedDecider answers each decision id prefix with a fixed choice and records what it was asked.
type scriptedDecider struct {
	mu      sync.Mutex
	answers map[string]string // id prefix → choice
	asked   []string
}

func (s *scriptedDecider) Decide(_ context.Context, d steps.Decision) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, d.ID)
	for prefix, choice := range s.answers {
		if strings.HasPrefix(d.ID, prefix) {
			return choice, "test-operator", nil
		}
	}
	return d.Default, "policy", nil
}

// startSim starts a small fast sim for one test.
func startSim(t *testing.T, stores int) *sim.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := sim.Start(ctx, sim.Options{Stores: stores, Zones: 3, Regions: 60, Speed: 100})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// simBase is the connect options of cl, as 'tikv-ear demo' builds them
// (cli.ConnectFlags{Sim: dir}.Options()).
func simBase(t *testing.T, cl *sim.Cluster) steps.ConnectOptions {
	t.Helper()
	env := cl.Env()
	o := steps.ConnectOptions{PD: env.PDURLs, Meta: env.Meta, SSHConfig: env.SSHConfig, KnownHosts: []string{env.KnownHosts},
		Identity: []string{env.Identity}, Sim: env.Dir, Timeout: 10 * time.Second, Concurrency: 20}
	if env.Meta == "" {
		o.Inventory = filepath.Join(env.Dir, "inventory.toml")
	}
	return o
}

// demoConnect is the Connect screen's answers the demo pre-fills for cl.
func demoConnect(cl *sim.Cluster) ui.ConnectInput {
	e := cl.Env()
	return ui.ConnectInput{Environment: steps.EnvStaging, PD: cl.PDURLs(), SSHUser: sim.User, Identity: e.Identity, KnownHosts: e.KnownHosts, SSHConfig: e.SSHConfig}
}

func TestWizardDriverEnablesTheSimAndWritesAVerifiableReport(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	strategy := DemoStrategy()
	strategy.EvictTimeout = steps.D(time.Second)
	d := New(Config{Base: simBase(t, cl), PlanPath: filepath.Join(dir, "plan.toml"),
		ReportDir: filepath.Join(dir, "reports"), Strategy: strategy, Policies: steps.DefaultPolicies()})
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if u, err := d.Journal(ctx); err != nil || u != nil {
		t.Fatalf("journal of a fresh dir: %+v, %v", u, err)
	}
	disc, err := d.Discover(ctx, demoConnect(cl))
	if err != nil {
		t.Fatal(err)
	}
	if len(disc.Stores) != 3 || disc.ClusterID == 0 || len(disc.Blocking()) != 0 {
		t.Fatalf("discovery: %+v", disc)
	}
	for _, s := range disc.Stores {
		if s.State != "Up" || s.Encryption != tikv.MethodPlaintext || s.Zone == "" || s.Version == "" || s.Host == "" {
			t.Errorf("store row %+v", s)
		}
	}
	if disc.ClusterName != sim.ClusterName {
		t.Errorf("cluster name %q, want %q (from the TiUP meta.yaml path)", disc.ClusterName, sim.ClusterName)
	}

	algos, err := d.Algorithms(ctx, disc)
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, a := range algos {
		methods = append(methods, a.Method)
		if len(a.Gates) != 3 || len(a.AESNI) != 3 || a.Compliance == "" || a.Summary == "" {
			t.Errorf("%s: gates %d, AES-NI %d, compliance %q", a.Method, len(a.Gates), len(a.AESNI), a.Compliance)
		}
		for _, f := range a.AESNI {
			if !f.Known {
				t.Errorf("%s: AES-NI of %s unknown: /proc/cpuinfo was not read over SSH", a.Method, f.Host)
			}
		}
		if strings.HasPrefix(a.Method, "aes") && (len(a.Speed.Samples) < 5 || a.Speed.Median() <= 0 || a.Speed.Machine == "") {
			t.Errorf("%s: no throughput measured", a.Method)
		}
		if a.Disabled {
			t.Errorf("%s disabled on TiKV %s: %s", a.Method, sim.DefaultVersion, a.Reason)
		}
	}
	if !slices.Equal(methods, []string{tikv.MethodAES128CTR, tikv.MethodAES192CTR, tikv.MethodAES256CTR, tikv.MethodSM4CTR}) {
		t.Fatalf("methods %v", methods)
	}

	prod, err := d.Backends(ctx, disc, steps.EnvProduction)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range prod {
		if b.Name == "file" && (!b.Disabled || !strings.Contains(b.Reason, "production")) {
			t.Errorf("production offers a file key: %+v", b)
		}
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	file := backends[0]
	if file.Name != "file" || file.Disabled {
		t.Fatalf("staging on the sim should offer the file key first: %+v", file)
	}
	fields := map[string]string{}
	for _, f := range file.Fields {
		fields[f.Key] = f.Value
	}
	if !strings.HasPrefix(fields["key-dir"], cl.Env().Dir) || !strings.HasPrefix(fields["host-key-dir"], cl.Env().Dir) || fields["owner"] == "" {
		t.Fatalf("file fields not pointed at the sim: %v", fields)
	}

	choice := ui.Choices{Connect: demoConnect(cl), Discovery: disc, Method: tikv.MethodAES256CTR, DataKeyRotation: "7d", Backend: "file", BackendFields: fields}
	checks, err := d.Preflight(ctx, choice)
	if err != nil {
		t.Fatal(err)
	}
	if b := steps.Blocking(checks); len(b) > 0 {
		t.Fatalf("preflight blocks: %+v", b)
	}
	prev, err := d.BuildPlan(ctx, choice)
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.Diffs) != 3 || !strings.Contains(prev.Diffs[0].Unified, `+data-encryption-method = "aes256-ctr"`) || len(prev.Batches.Batches) == 0 {
		t.Fatalf("preview: %d diffs, %d batches\n%+v", len(prev.Diffs), len(prev.Batches.Batches), prev.Diffs)
	}
	savedAt := filepath.Join(dir, "saved", "plan.toml")
	if err := d.SavePlan(ctx, prev, savedAt); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(savedAt); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved plan: %v, %v", fi, err)
	}
	if p, err := steps.LoadPlan(savedAt); err != nil || p.Target.Method != tikv.MethodAES256CTR || p.Environment != steps.EnvStaging {
		t.Fatalf("saved plan reads back as %+v, %v", p, err)
	}

	stuck := cl.Nodes()[0]
	if err := cl.Inject(sim.Fault{Kind: sim.FaultEvictionStuck, Node: stuck.Index}); err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	dec := &scriptedDecider{answers: map[string]string{"evict-timeout-": steps.OnEvictSkipEviction}}
	res, err := d.Apply(ctx, prev, sink, dec)
	if err != nil {
		t.Fatalf("apply: %v\nevents: %+v", err, sink.all())
	}
	if !slices.Contains(dec.asked, "evict-timeout-"+strconv.FormatUint(stuck.StoreID, 10)) {
		t.Errorf("the stuck eviction of store %d was not asked: %v", stuck.StoreID, dec.asked)
	}
	kinds := map[steps.EventKind]int{}
	for _, e := range sink.all() {
		kinds[e.Kind]++
	}
	if kinds[steps.RunDone] != 1 || kinds[steps.DecisionMade] == 0 || kinds[steps.StepFailed] != 0 {
		t.Errorf("event kinds %v", kinds)
	}
	jpath := savedAt + ".journal"
	recs, err := steps.ReadJournal(jpath)
	if last, ok := steps.LastRun(recs); err != nil || !ok || !last.Finished {
		t.Fatalf("journal beside the saved plan %s: finished=%v, %v", jpath, last.Finished, err)
	}
	if u, err := d.Journal(ctx); err != nil || u != nil {
		t.Fatalf("a finished run shows as unfinished: %+v, %v", u, err)
	}

	ev, err := d.Verify(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if !e.OK || e.Method != tikv.MethodAES256CTR || e.KeyDict != tikv.MetadataMethodAES256GCM || !e.Initialized || e.MasterKey != "file" || len(e.LogLines) == 0 {
			t.Errorf("store %d evidence: %+v", e.StoreID, e)
		}
		if e.Encrypted+e.Plaintext == 0 {
			t.Errorf("store %d: no data files proved on disk", e.StoreID)
		}
	}

	sched, err := d.ScheduleOptions(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range sched {
		ids = append(ids, s.ID)
		if _, err := os.Stat(s.Artefact); s.Artefact != "" && !os.IsNotExist(err) {
			t.Errorf("%s artefact %s written before the operator chose it (stat: %v)", s.ID, s.Artefact, err)
		}
	}
	if !slices.Equal(ids, []string{"systemd", "cron", "kubernetes", "manual"}) {
		t.Fatalf("schedule options %v", ids)
	}
	// The operator picks cron and shortens the period to 90 days: only the
	// cron file is written, and plan.toml records the runner and the period.
	chosen := sched[1]
	chosen.Period = "90d"
	prev.Schedule = &chosen
	files, err := d.WriteReport(ctx, res, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sched {
		if s.Artefact == "" {
			continue
		}
		b, err := os.ReadFile(s.Artefact)
		switch {
		case s.ID == chosen.ID && (err != nil || !strings.Contains(string(b), "rotate") || !strings.Contains(string(b), "--yes")):
			t.Errorf("the chosen %s artefact %s: %v\n%s", s.ID, s.Artefact, err, b)
		case s.ID != chosen.ID && !os.IsNotExist(err):
			t.Errorf("%s artefact %s written though %s was chosen", s.ID, s.Artefact, chosen.ID)
		}
	}
	saved, err := steps.LoadPlan(d.planPath()) // where the run saved it
	if err != nil {
		t.Fatal(err)
	}
	if saved.Schedule.Runner != "cron" || saved.Schedule.MasterKeyRotation != "90d" {
		t.Errorf("plan.toml [schedule] = %+v; want runner cron, master-key-rotation 90d", saved.Schedule)
	}
	pub := filepath.Join(filepath.Dir(files.JSON), "pub.pem")
	vr, err := report.Verify(files.JSON, report.VerifyOptions{KeyPath: pub, BundlePath: files.Bundle})
	if err != nil {
		t.Fatalf("report.Verify: %v", err)
	}
	if vr.Kind != report.KindApply || !strings.Contains(files.VerifyCommand, files.JSON) {
		t.Errorf("verified %+v, command %q", vr, files.VerifyCommand)
	}
	var rep struct {
		Outcome  string `json:"outcome"`
		Schedule struct {
			Mechanism string `json:"mechanism"`
		} `json:"schedule"`
	}
	b, _ := os.ReadFile(files.JSON)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Schedule.Mechanism != "cron" {
		t.Errorf("report schedule mechanism %q, want cron\n%s", rep.Schedule.Mechanism, b)
	}
}

// modelHarness drives a ui.Model as bubbletea would, but synchronously:
// commands run on goroutines, their messages return on one channel, and
// Update is only called from the test goroutine.
type modelHarness struct {
	t    *testing.T
	m    *ui.Model
	msgs chan tea.Msg
}

func newModelHarness(t *testing.T, d ui.Driver, opts ui.Options) *modelHarness {
	h := &modelHarness{t: t, msgs: make(chan tea.Msg, 4096)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.m = ui.New(ctx, d, opts, ui.NewDecider(func(msg tea.Msg) { h.msgs <- msg }))
	h.update(tea.WindowSizeMsg{Width: 220, Height: 40}) // wide: temp paths are long
	h.run(h.m.Init())
	return h
}

func (h *modelHarness) run(cmd tea.Cmd) {
	if cmd != nil {
		go func() { h.deliver(cmd()) }()
	}
}

func (h *modelHarness) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil, spinner.TickMsg: // animation is never fed back
		return
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
		return
	}
	// tea.Sequence's message is an unexported []tea.Cmd: run its commands in order.
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := range v.Len() {
			if c, _ := v.Index(i).Interface().(tea.Cmd); c != nil {
				h.deliver(c())
			}
		}
		return
	}
	h.msgs <- msg
}

func (h *modelHarness) update(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

func (h *modelHarness) view() string { return ansi.Strip(h.m.View().Content) }

// until feeds messages until ok holds; the deadline only guards against a hang.
func (h *modelHarness) until(what string, ok func() bool) {
	h.t.Helper()
	deadline := time.After(90 * time.Second)
	for !ok() {
		select {
		case msg := <-h.msgs:
			h.update(msg)
		case <-deadline:
			h.t.Fatalf("waiting for %s: on %s (busy %q, err %v)\n%s", what, h.m.Screen(), h.m.Busy(), h.m.Err(), h.view())
		}
	}
}

func (h *modelHarness) idle(s ui.Screen) {
	h.t.Helper()
	h.until("screen "+s.String(), func() bool { return h.m.Screen() == s && h.m.Busy() == "" })
}

func (h *modelHarness) press(keys ...string) {
	for _, k := range keys {
		if k == "enter" {
			h.update(tea.KeyPressMsg{Code: tea.KeyEnter})
			continue
		}
		h.update(tea.KeyPressMsg{Code: []rune(k)[0], Text: k})
	}
}

// submitField waits for the form field titled title to have the focus and presses enter.
func (h *modelHarness) submitField(title string) {
	h.t.Helper()
	h.until("focus on "+title, func() bool { return strings.Contains(h.view(), "┃ "+title) })
	h.press("enter")
}

func (h *modelHarness) contains(wants ...string) {
	h.t.Helper()
	v := h.view()
	for _, w := range wants {
		if !strings.Contains(v, w) {
			h.t.Errorf("%s view lacks %q:\n%s", h.m.Screen(), w, v)
		}
	}
}

func TestWizardModelWalksTheSimFromConnectToReport(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	planPath := filepath.Join(dir, "plan.toml")
	d := New(Config{Base: simBase(t, cl), PlanPath: planPath,
		ReportDir: filepath.Join(dir, "reports"), Strategy: DemoStrategy(), Policies: steps.DefaultPolicies()})
	t.Cleanup(d.Close)
	h := newModelHarness(t, d, ui.Options{Prefill: demoConnect(cl), PlanPath: planPath})

	h.idle(ui.ScreenConnect)
	h.contains("3 stores", "Up", "plaintext", "all 3 stores are Up", "no evict-leader scheduler present")
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	h.contains("aes256-ctr", "(recommended)", "3 of 3 stores run a TiKV version that has it", "samples of 4 MiB", "not on the TiKV hosts")
	h.press("enter")
	h.idle(ui.ScreenBackend)
	h.contains("file", "Key file on every host", "staging")
	h.press("enter") // file: its fields, pre-filled for the sim
	h.submitField("Key directory here")
	h.submitField("Key directory on the hosts")
	h.submitField("Key file owner")
	h.until("preflight", func() bool { return strings.Contains(h.view(), "Preflight") && h.m.Busy() == "" })
	h.contains("0 fail")
	h.press("enter")
	h.idle(ui.ScreenPlan)
	h.contains(`+data-encryption-method = "aes256-ctr"`)
	h.press("enter", "G", "y")
	if h.m.Screen() != ui.ScreenDashboard {
		t.Fatalf("y did not start the rollout: %s\n%s", h.m.Screen(), h.view())
	}
	h.until("rollout end", func() bool { r, _ := h.m.Result(); return r != nil })
	if _, err := h.m.Result(); err != nil {
		t.Fatalf("rollout: %v\n%s", err, h.view())
	}
	h.press("enter")
	h.idle(ui.ScreenVerify)
	h.contains("3 of 3 stores verified", "aes256-gcm")
	h.press("enter")
	h.idle(ui.ScreenSchedule)
	h.contains("systemd timer on this machine", "tikv-ear-rotate.timer")
	h.press("enter")
	h.idle(ui.ScreenReport)
	h.contains("Encryption at rest is on; 3 of 3 stores verified", "report.json")
	files := h.m.Report()
	if files == nil {
		t.Fatal("no report files")
	}
	if _, err := report.Verify(files.JSON, report.VerifyOptions{KeyPath: filepath.Join(filepath.Dir(files.JSON), "pub.pem"), BundlePath: files.Bundle}); err != nil {
		t.Fatalf("report.Verify: %v", err)
	}
	if _, err := os.Stat(planPath + ".journal"); err != nil {
		t.Fatalf("no journal beside the plan: %v", err)
	}
	if err := h.m.Outcome(); err != nil {
		t.Fatalf("outcome %v", err)
	}
}

func TestWizardDriverFindsAndCleansUpAnUnfinishedRun(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	planPath := filepath.Join(dir, "plan.toml")
	d := New(Config{Base: simBase(t, cl), PlanPath: planPath,
		ReportDir: filepath.Join(dir, "reports"), Strategy: DemoStrategy(), Policies: steps.DefaultPolicies()})
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := demoConnect(cl)
	disc, err := d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range backends[0].Fields {
		fields[f.Key] = f.Value
	}
	prev, err := d.BuildPlan(ctx, ui.Choices{Connect: in, Discovery: disc, Method: tikv.MethodAES128CTR, DataKeyRotation: "7d", Backend: backends[0].Name, BackendFields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SavePlan(ctx, prev, planPath); err != nil {
		t.Fatal(err)
	}
	// A run that died while store 2 was under its evict-leader scheduler.
	victim := disc.Stores[1].ID
	j, err := steps.OpenJournal(planPath + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []steps.Record{
		{Run: "apply-crashed", Kind: steps.KindApply, Step: steps.StepRun, State: steps.StateStarted},
		{Run: "apply-crashed", Kind: steps.KindApply, Step: steps.StepEvict, StoreID: victim, Batch: 1, State: steps.StateStarted},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	s, err := d.session(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	pdc := steps.PDClient{C: s.PD}
	if err := pdc.AddEvictLeader(ctx, victim); err != nil {
		t.Fatal(err)
	}

	u, err := d.Journal(ctx)
	if err != nil || u == nil {
		t.Fatalf("unfinished run not found: %v", err)
	}
	if u.Run != "apply-crashed" || !slices.Equal(u.Evicted, []uint64{victim}) || u.Total != 3 || u.Preview.Plan == nil {
		t.Fatalf("unfinished %+v", u)
	}
	disc, err = d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var blocking []string
	for _, c := range disc.Blocking() {
		blocking = append(blocking, c.ID)
	}
	if !slices.Equal(blocking, []string{"no-evict-scheduler", "journal"}) {
		t.Fatalf("blocking findings %v, want the scheduler and the journal", blocking)
	}

	if err := d.AbortUnfinished(ctx, *u); err != nil {
		t.Fatal(err)
	}
	if ev, err := pdc.EvictLeaderStores(ctx); err != nil || len(ev) != 0 {
		t.Fatalf("schedulers after the abort: %v, %v", ev, err)
	}
	if u, err := d.Journal(ctx); err != nil || u != nil {
		t.Fatalf("the run is still unfinished after the abort: %+v, %v", u, err)
	}
	if err := d.AbortUnfinished(ctx, ui.Unfinished{Run: "apply-crashed", Preview: prev}); err == nil {
		t.Fatal("a second abort of a closed run succeeded")
	}
	disc, err = d.Discover(ctx, in)
	if err != nil || len(disc.Blocking()) != 0 {
		t.Fatalf("after the abort: blocking %+v, %v", disc.Blocking(), err)
	}
}

// localKMSBin finds local-kms as the Makefile installs it; the test fails without it.
func localKMSBin(t *testing.T) string {
	t.Helper()
	p, err := localkms.Binary()
	if err != nil {
		t.Fatalf("%v (make tools)", err)
	}
	return p
}

func TestWizardDriverEnablesTheSimWithTheDemosLocalKMS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lk, err := localkms.Start(ctx, localKMSBin(t), localkms.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Stop)
	cl := startSim(t, 3)
	dir := t.TempDir()
	aws := &awskms.Config{KeyID: lk.Aliases[0], Region: lk.Region, Endpoint: lk.Endpoint, CredentialsFile: lk.CredentialsFile}
	d := New(Config{Base: simBase(t, cl), PlanPath: filepath.Join(dir, "plan.toml"),
		ReportDir: filepath.Join(dir, "reports"), Strategy: DemoStrategy(), Policies: steps.DefaultPolicies(), AWS: aws})
	t.Cleanup(d.Close)
	in := demoConnect(cl)
	disc, err := d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	if backends[0].Name != "aws" || backends[0].Disabled {
		t.Fatalf("with local-kms the AWS backend comes first: %+v", backends[0])
	}
	fields := map[string]string{}
	for _, f := range backends[0].Fields {
		fields[f.Key] = f.Value
	}
	if fields["key-id"] != lk.Aliases[0] || fields["endpoint"] != lk.Endpoint || fields["region"] != lk.Region {
		t.Fatalf("AWS fields not pre-filled from local-kms: %v", fields)
	}
	prev, err := d.BuildPlan(ctx, ui.Choices{Connect: in, Discovery: disc, Method: tikv.MethodAES256CTR, DataKeyRotation: "7d", Backend: "aws", BackendFields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prev.Diffs[0].Unified, `+type = "kms"`) || !strings.Contains(prev.Diffs[0].Unified, lk.Endpoint) {
		t.Fatalf("diff does not name the KMS key and endpoint:\n%s", prev.Diffs[0].Unified)
	}
	if _, err := d.Apply(ctx, prev, &recordingSink{}, steps.PolicyDecider{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ev, err := d.Verify(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if !e.OK || e.MasterKey != "kms (aws)" || e.KeyDict != tikv.MetadataMethodAES256GCM {
			t.Errorf("store %d evidence: %+v", e.StoreID, e)
		}
	}
	sched, err := d.ScheduleOptions(ctx, prev)
	if err != nil || len(sched) == 0 || sched[0].ID != "aws-auto" || !sched[0].KMSNative {
		t.Fatalf("AWS offers no KMS-native rotation first: %+v, %v", sched, err)
	}
}

func TestEvidenceNeverShowsUnreadableEvidenceAsFine(t *testing.T) {
	v := steps.StoreVerification{StoreID: 4, Address: "10.0.0.4:20160", Problems: []string{"key.dict is missing"},
		Unknowns: []string{"the data files on disk were not checked: unreachable"}}
	e := evidence(v, nil)
	if e.OK || len(e.Problems) != 2 || !strings.HasPrefix(e.Problems[1], "unknown: ") {
		t.Fatalf("evidence of a failing, partly unreadable store: %+v", e)
	}
}

// cancelOnEvent cancels a run when a store finishes a step: the operator's
// abort at a known point of the rollout.
type cancelOnEvent struct {
	recordingSink
	step   string
	store  uint64
	cancel context.CancelFunc
}

func (c *cancelOnEvent) Emit(e steps.Event) {
	c.recordingSink.Emit(e)
	if e.Kind == steps.StepDone && e.Step == c.step && e.StoreID == c.store {
		c.cancel()
	}
}

// TestWizardAfterAnAbortMidRolloutVerifiesAsTheCommandDoes aborts a rollout
// right after the canary restarted (issue 15): the Verification screen's
// per-store verdicts are the ones 'tikv-ear verify --plan' gives (the same
// engine code, evidence read now), the run's error says which store runs the
// new config unverified with the exact resume and abort commands, and the
// resume command's run finishes.
func TestWizardAfterAnAbortMidRolloutVerifiesAsTheCommandDoes(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	planPath := filepath.Join(dir, "plan.toml")
	d := New(Config{Base: simBase(t, cl), PlanPath: planPath,
		ReportDir: filepath.Join(dir, "reports"), Strategy: DemoStrategy(), Policies: steps.DefaultPolicies()})
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := demoConnect(cl)
	disc, err := d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range backends[0].Fields {
		fields[f.Key] = f.Value
	}
	prev, err := d.BuildPlan(ctx, ui.Choices{Connect: in, Discovery: disc, Method: tikv.MethodAES256CTR, DataKeyRotation: "7d", Backend: "file", BackendFields: fields})
	if err != nil {
		t.Fatal(err)
	}
	canary := prev.Batches.Batches[0].Stores[0]
	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	_, runErr := d.Apply(runCtx, prev, &cancelOnEvent{step: steps.StepRestart, store: canary, cancel: abort}, steps.PolicyDecider{})
	var se *steps.Error
	if !errors.As(runErr, &se) || !errors.Is(runErr, context.Canceled) {
		t.Fatalf("the aborted run's error: %v; want the engine's stopped-run error", runErr)
	}
	resume := "tikv-ear apply " + planPath + " --resume"
	if strings.Contains(se.Msg, "context canceled") || !strings.Contains(se.Msg, fmt.Sprintf("store %d has the new config", canary)) ||
		!slices.ContainsFunc(se.Hints, func(h string) bool { return strings.HasSuffix(h, resume) }) ||
		!slices.ContainsFunc(se.Hints, func(h string) bool { return strings.HasSuffix(h, "tikv-ear apply "+planPath+" --abort") }) {
		t.Fatalf("the stopped run says %q with hints %q; want store %d named and %q", se.Msg, se.Hints, canary, resume)
	}

	got, err := d.Verify(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.session(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := steps.VerifyCluster(ctx, c, tikv.MethodAES256CTR) // what 'tikv-ear verify --plan' runs
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want.Stores) {
		t.Fatalf("the screen shows %d stores, verify %d", len(got), len(want.Stores))
	}
	for i, w := range want.Stores {
		g := got[i]
		if g.StoreID != w.StoreID || g.OK != w.OK || g.Method != w.Method || g.KeyDict != w.KeyDict {
			t.Errorf("store %d: the screen says ok=%v method=%q key.dict=%q, verify says ok=%v method=%q key.dict=%q (%s)",
				w.StoreID, g.OK, g.Method, g.KeyDict, w.OK, w.Method, w.KeyDict, w.Verdict.Reason)
		}
	}

	// The resume the error names goes on and finishes.
	if _, err := d.Apply(ctx, prev, &recordingSink{}, steps.PolicyDecider{}); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	after, err := steps.VerifyCluster(ctx, c, tikv.MethodAES256CTR)
	if err != nil || !after.OK {
		t.Fatalf("after the resume: %+v, %v", after.Verdict, err)
	}
}

// enableSim enables aes256-ctr with a file key on cl through the wizard's
// driver and returns the plan path it saved.
func enableSim(t *testing.T, cl *sim.Cluster, dir string) string {
	t.Helper()
	planPath := filepath.Join(dir, "plan.toml")
	d := New(Config{Base: simBase(t, cl), PlanPath: planPath,
		ReportDir: filepath.Join(dir, "reports"), Strategy: DemoStrategy(), Policies: steps.DefaultPolicies()})
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	disc, err := d.Discover(ctx, demoConnect(cl))
	if err != nil {
		t.Fatal(err)
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range backends[0].Fields {
		fields[f.Key] = f.Value
	}
	prev, err := d.BuildPlan(ctx, ui.Choices{Connect: demoConnect(cl), Discovery: disc, Method: tikv.MethodAES256CTR, DataKeyRotation: "7d", Backend: "file", BackendFields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(ctx, prev, &recordingSink{}, steps.PolicyDecider{}); err != nil {
		t.Fatalf("enabling: %v", err)
	}
	return planPath
}

func TestWizardDriverRotatesTheMasterKeyAndRevokesTheOld(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	planPath := enableSim(t, cl, dir)
	before, err := steps.LoadPlan(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if before.Target.MasterKey.Generation != 1 || before.Target.PreviousMasterKey != nil {
		t.Fatalf("enabled plan names %+v, previous %+v", before.Target.MasterKey, before.Target.PreviousMasterKey)
	}

	// As runRotateWizard configures it for 'tikv-ear rotate plan.toml --retire-old'.
	d := New(Config{Base: steps.PlanConnect(before), PlanPath: planPath, ReportDir: before.Report.Dir,
		Strategy: before.Strategy, Policies: before.Policies, Retire: true})
	t.Cleanup(d.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := ui.ConnectInput{Environment: before.Environment, PD: before.Cluster.PD, SSHUser: before.Cluster.SSHUser,
		Identity: before.Cluster.Identity, KnownHosts: before.Cluster.KnownHosts, SSHConfig: before.Cluster.SSHConfig}
	disc, err := d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range disc.Stores {
		if s.Encryption != tikv.MethodAES256CTR || s.MasterKey != "file" {
			t.Errorf("discovered store %d runs %s (%s), want aes256-ctr (file)", s.ID, s.Encryption, s.MasterKey)
		}
	}

	choice := ui.Choices{Connect: in, Discovery: disc, Rotate: true}
	prev, err := d.BuildPlan(ctx, choice)
	if err != nil {
		t.Fatal(err)
	}
	r := prev.Rotation
	if r == nil || r.Backend != "file" || !strings.HasPrefix(r.Current, "generation 1 ") || r.Next != "generation 2 (created when you rotate)" || !r.Revoke || r.Continuing {
		t.Fatalf("rotation preview %+v", r)
	}
	steps4 := strings.Join(r.Steps, "\n")
	for _, want := range []string{"pass 1", tikvlog.MsgPersistedReplaceMasterKey.Text, "pass 2: previous-master-key removed", "revoke the old generation"} {
		if !strings.Contains(steps4, want) {
			t.Errorf("preview steps lack %q:\n%s", want, steps4)
		}
	}
	if len(prev.Diffs) != 0 || len(prev.Checks) == 0 || len(steps.Blocking(prev.Checks)) != 0 {
		t.Fatalf("preview: %d diffs, checks %+v", len(prev.Diffs), prev.Checks)
	}
	if p, _ := steps.LoadPlan(planPath); p.Target.MasterKey.Generation != 1 || p.Target.PreviousMasterKey != nil {
		t.Fatalf("the preview changed the plan: %+v", p.Target)
	}

	sink := &recordingSink{}
	dec := &scriptedDecider{answers: map[string]string{"retire-old": "revoke"}}
	res, err := d.Apply(ctx, prev, sink, dec)
	if err != nil {
		t.Fatalf("rotate: %v\nevents: %+v", err, sink.all())
	}
	after, err := steps.LoadPlan(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if after.Target.MasterKey.Generation != 2 || after.Target.PreviousMasterKey != nil {
		t.Fatalf("rotated plan names %+v, previous %+v", after.Target.MasterKey, after.Target.PreviousMasterKey)
	}
	if !slices.Equal(dec.asked, []string{"retire-old"}) {
		t.Errorf("decisions asked %v, want only retire-old", dec.asked)
	}
	secondPass, retired, asked := 0, false, false
	for _, e := range sink.all() {
		if e.Kind == steps.DecisionAsk && e.Decision != nil && e.Decision.ID == steps.DecisionRetireOld {
			// Keeping is the default; revoking is typed, shown with what it destroys.
			asked = true
			dd, cons := e.Decision, strings.Join(e.Decision.Consequences, "\n")
			if dd.Default != steps.ChoiceKeep || dd.Typed != steps.ChoiceRevoke || dd.Options[0] != steps.ChoiceKeep {
				t.Errorf("retire-old decision: default %q, typed %q, options %v; want keep, revoke typed, keep first", dd.Default, dd.Typed, dd.Options)
			}
			for _, want := range []string{"generation 1", "stores 1,2,3", "key.dict taken before this rotation", "cannot be undone"} {
				if !strings.Contains(cons, want) {
					t.Errorf("retire-old consequences lack %q:\n%s", want, cons)
				}
			}
		}
		if e.Step == steps.StepVerify && e.Kind == steps.StepDone && e.StoreID != 0 && (e.Metrics == nil || !e.Metrics.Initialized) {
			// The dashboard's metrics pane shows this sample, read after the restart.
			t.Errorf("store %d verified without its post-restart metrics (initialized): %+v", e.StoreID, e.Metrics)
		}
		switch {
		case e.Step == "second-pass" && e.Kind == steps.StepDone && e.StoreID != 0:
			secondPass++
		case e.Step == steps.StepRetire && e.Kind == steps.StepDone && strings.Contains(e.Message, "old generation 1 retired"):
			retired = true
		case e.Kind == steps.StepFailed:
			t.Errorf("failed step: %+v", e)
		}
	}
	if !asked {
		t.Error("no retire-old decision was asked")
	}
	if secondPass != 3 || !retired {
		t.Errorf("second pass on %d stores (want 3), retired %v; events %+v", secondPass, retired, sink.all())
	}
	ev, err := d.Verify(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if !e.OK {
			t.Errorf("store %d after the rotation: %+v", e.StoreID, e.Problems)
		}
	}
	files, err := d.WriteReport(ctx, res, prev)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := report.Verify(files.JSON, report.VerifyOptions{KeyPath: filepath.Join(filepath.Dir(files.JSON), "pub.pem"), BundlePath: files.Bundle})
	if err != nil {
		t.Fatalf("report.Verify: %v", err)
	}
	if vr.Kind != report.KindRotate {
		t.Errorf("report kind %q, want %q", vr.Kind, report.KindRotate)
	}
	counts, err := d.LeaderCounts(ctx)
	if err != nil || len(counts) != 3 {
		t.Fatalf("leader counts after the run: %v, %v", counts, err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		t.Errorf("no store holds a leader after the rotation: %v", counts)
	}
}
