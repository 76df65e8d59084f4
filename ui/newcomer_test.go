package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/steps"
)

// These tests pin what a newcomer sees on an 80-column terminal: nothing a
// person must read or copy is cut with "…".

// screenAt draws m at w×h and fails on any line wider than w.
func screenAt(t *testing.T, m *Model, w, h int) string {
	t.Helper()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	v := m.View().Content
	for i, l := range strings.Split(v, "\n") {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d wide at %dx%d: %q", i, n, w, h, ansi.Strip(l))
		}
	}
	return ansi.Strip(v)
}

func newTestModel(d Driver, opts Options) *Model {
	m := New(context.Background(), d, opts, nil)
	m.busy = ""
	return m
}

// unwrapped joins a view's lines with their indentation removed, so a
// wrapped text can be searched whole.
func unwrapped(v string) string {
	var parts []string
	for _, l := range strings.Split(v, "\n") {
		parts = append(parts, strings.TrimSpace(l))
	}
	return strings.Join(parts, "")
}

func TestWrapNeverCutsAndKeepsHyphenatedKeysWhole(t *testing.T) {
	s := "during   master-key = generation 2, previous-master-key = generation 1 (/tmp/tikv-ear-sim-1234/operator-keys/master-g1.key)"
	for _, w := range []int{20, 40, 80} {
		out := wrap(s, w)
		for _, l := range strings.Split(out, "\n") {
			if ansi.StringWidth(l) > w {
				t.Errorf("w=%d: line %q is wider", w, l)
			}
			if strings.HasSuffix(l, "previous-") || strings.HasSuffix(l, "master-") {
				t.Errorf("w=%d: broke a TiKV key at its hyphen: %q", w, l)
			}
		}
		if strings.Contains(out, "…") || strings.ReplaceAll(strings.ReplaceAll(out, "\n", " "), "  ", " ") == "" {
			t.Errorf("w=%d: cut: %q", w, out)
		}
		if got := strings.ReplaceAll(out, "\n", ""); !strings.Contains(got, "/tmp/tikv-ear-sim-1234/operator-keys/master-g1.key") && w >= 40 {
			t.Errorf("w=%d: the path did not survive whole across lines:\n%s", w, out)
		}
	}
	if got := wrap("a/very/long/path/that/is/longer/than/the/line", 12); strings.Contains(got, "…") || strings.ReplaceAll(got, "\n", "") != "a/very/long/path/that/is/longer/than/the/line" {
		t.Errorf("a long path wraps after its slashes without loss, got %q", got)
	}
}

func TestReportScreenShowsPathsAndTheVerifyCommandWhole(t *testing.T) {
	dir := "/tmp/tikv-ear-demo-3141592653/reports/apply-20261127T142426Z-7f3a"
	m := newTestModel(nil, Options{})
	m.applying, m.applyDone, m.screen = true, true, ScreenReport
	m.report = &ReportFiles{JSON: dir + "/report.json", HTML: dir + "/report.html", Bundle: dir + "/report.dsse.json",
		VerifyCommand: "tikv-ear report verify " + dir + "/report.json"}
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		v := screenAt(t, m, size[0], size[1])
		if strings.Contains(v, "…") {
			t.Errorf("%dx%d: something is cut:\n%s", size[0], size[1], v)
		}
		for _, want := range []string{"in  " + dir + "/", "    report.json", "    report.html", "    report.dsse.json",
			"  cd " + dir + "\n  tikv-ear report verify report.json"} {
			if !strings.Contains(v, want) {
				t.Errorf("%dx%d: report lacks %q:\n%s", size[0], size[1], want, v)
			}
		}
	}
	// A directory wider than the terminal still shows whole, wrapped, with no "…".
	long := "/tmp/" + strings.Repeat("very-long-directory-name/", 4) + "reports"
	m.report = &ReportFiles{JSON: long + "/report.json", VerifyCommand: "tikv-ear report verify " + long + "/report.json"}
	v := screenAt(t, m, 80, 24)
	if strings.Contains(v, "…") || !strings.Contains(unwrapped(v), "cd "+long) || !strings.Contains(v, "tikv-ear report verify report.json") {
		t.Errorf("a long report directory is cut or lost:\n%s", v)
	}
	if got := breakCommand("tikv-ear report verify --key /a/pub.pem --bundle /a/report.dsse.json /a/report.json", 40); !strings.Contains(got, " \\\n    ") {
		t.Errorf("a long command breaks with shell continuations, got\n%s", got)
	}
}

// dashPreview is a 6-store plan on 127.0.0.1 ports, as the demo's sim.
func dashPreview() PlanPreview {
	p := &steps.Plan{}
	var b steps.BatchPlan
	for i := 1; i <= 6; i++ {
		id := uint64(i)
		p.Nodes = append(p.Nodes, steps.NodePlan{StoreID: id, Address: fmt.Sprintf("127.0.0.1:%d", 41430+i), Zone: fmt.Sprintf("z%d", (i-1)%3+1)})
		b.Batches = append(b.Batches, steps.Batch{Index: i, Stores: []uint64{id}})
	}
	return PlanPreview{Plan: p, Batches: b}
}

func TestDashboardShowsPortsWhenNarrowAndFullAddressesWhenWide(t *testing.T) {
	var d dashboard
	d.init(dashPreview())
	st := NewStyles(true)
	narrow := ansi.Strip(d.render(st, 80, 20, dashView{}))
	if strings.Contains(narrow, "127.0…") || strings.Contains(narrow, "  127.0.0.1:41431 ") {
		t.Errorf("80 columns show a cut address:\n%s", narrow)
	}
	if !strings.Contains(narrow, "PORT") || !strings.Contains(narrow, "41431") {
		t.Errorf("80 columns lack the port column:\n%s", narrow)
	}
	wide := ansi.Strip(d.render(st, 200, 40, dashView{}))
	if !strings.Contains(wide, "ADDRESS") || !strings.Contains(wide, "127.0.0.1:41431") {
		t.Errorf("200 columns lack the full address:\n%s", wide)
	}
	if c := dashCols(60); c.addr != 0 {
		t.Errorf("at 60 columns the address column should go, got %+v", c)
	}
}

func TestLeadersReturnInsteadOfAStaleZero(t *testing.T) {
	var d dashboard
	d.init(dashPreview())
	st := NewStyles(true)
	cell := func() string { return ansi.Strip(leaders(st, d.byID[1])) }
	ev := func(kind steps.EventKind, step string) steps.Event {
		return steps.Event{Kind: kind, Step: step, StoreID: 1, Batch: 1, Time: time.Unix(100, 0)}
	}
	sample := ev(steps.MetricSample, steps.StepEvict)
	sample.Metrics, sample.Total = &steps.Sample{Leaders: 40}, 100
	d.apply(sample)
	if got := cell(); got != "↓40/100" {
		t.Fatalf("draining cell %q", got)
	}
	sample.Metrics = &steps.Sample{Leaders: 0}
	d.apply(sample)
	d.apply(ev(steps.StepDone, steps.StepEvict))
	d.apply(ev(steps.StepDone, steps.StepReady))
	d.apply(ev(steps.StepDone, steps.StepVerify))
	d.apply(ev(steps.StepDone, steps.StepRelease))
	if got := cell(); got != "↑ returning" {
		t.Fatalf("after the release with no fresh reading the cell is %q, want ↑ returning (not the stale 0)", got)
	}
	d.leaderCounts(map[uint64]int{1: 37, 2: 120})
	if got := cell(); got != "↑37/100" {
		t.Fatalf("a fresh reading during settle shows %q", got)
	}
	d.apply(steps.Event{Kind: steps.StepDone, Step: steps.StepSettle, Batch: 1, Time: time.Unix(101, 0)})
	if got := cell(); got != "37" {
		t.Fatalf("after settle the cell is %q, want the fresh 37", got)
	}
	if got := ansi.Strip(leaders(st, d.byID[2])); got != "120" {
		t.Errorf("a waiting store's fresh count shows %q", got)
	}

	// Without any fresh reading, a settled store says its leaders are back.
	var d2 dashboard
	d2.init(dashPreview())
	sample.Metrics = &steps.Sample{Leaders: 0}
	d2.apply(sample)
	d2.apply(ev(steps.StepDone, steps.StepRelease))
	d2.apply(steps.Event{Kind: steps.StepDone, Step: steps.StepSettle, Batch: 1})
	if got := ansi.Strip(leaders(st, d2.byID[1])); got != "✓ back" {
		t.Errorf("settled without a reading: %q, want ✓ back", got)
	}
}

// countingDriver is a Driver (nil: never called here) that counts leaders.
type countingDriver struct {
	Driver
	counts map[uint64]int
	err    error
}

func (c countingDriver) LeaderCounts(context.Context) (map[uint64]int, error) { return c.counts, c.err }

func TestLeaderPollRunsOnlyDuringTheRollout(t *testing.T) {
	m := newTestModel(countingDriver{counts: map[uint64]int{1: 12}}, Options{LeaderPoll: time.Millisecond})
	m.dash.init(dashPreview())
	m.applying, m.pollGen = true, 1
	msg := m.pollLeaders()()
	lm, ok := msg.(leadersMsg)
	if !ok || lm.counts[1] != 12 || lm.gen != 1 {
		t.Fatalf("poll answered %#v", msg)
	}
	if next := m.leadersRead(lm); next == nil {
		t.Fatal("no next poll scheduled while the rollout runs")
	}
	if got := m.dash.byID[1].Leaders; got != 12 || !m.dash.byID[1].HasLeaders {
		t.Fatalf("the reading was not folded in: %d", got)
	}
	if cmd := m.leadersRead(leadersMsg{gen: 0, counts: map[uint64]int{1: 99}}); cmd != nil || m.dash.byID[1].Leaders != 12 {
		t.Error("a reading from an earlier rollout was used")
	}
	if cmd := m.leadersRead(leadersMsg{gen: 1, err: errors.New("store 1 restarting")}); cmd == nil {
		t.Error("a failed read stopped the poll; it should retry")
	}
	if cmd := m.leadersRead(leadersMsg{gen: 1, err: fmt.Errorf("no: %w", errors.ErrUnsupported)}); cmd != nil {
		t.Error("a driver that cannot count is polled again")
	}
	m.applyDone = true
	if cmd := m.leadersRead(lm); cmd != nil {
		t.Error("polling goes on after the rollout ended")
	}
	if newTestModel(nil, Options{}).pollLeaders() != nil {
		t.Error("a driver without LeaderCounts is polled")
	}
}

func TestStorePaneShowsItsStepsAndHighlightsEncryptionLogLines(t *testing.T) {
	var d dashboard
	d.init(dashPreview())
	st := NewStyles(true)
	at := time.Date(2026, 11, 27, 14, 24, 20, 0, time.UTC)
	d.apply(steps.Event{Time: at, Kind: steps.StepStarted, Step: steps.StepEvict, StoreID: 2, Batch: 2, Message: "moving 100 leaders away"})
	d.apply(steps.Event{Time: at, Kind: steps.StepDone, Step: steps.StepSwap, StoreID: 2, Batch: 2, Message: "config in place"})
	pane := ansi.Strip(d.logPane(st, 80, 8))
	for _, want := range []string{"store 2 127.0.0.1:41432 · steps", "14:24:20 ▸ evict moving 100 leaders away", "14:24:20 ✓ swap config in place"} {
		if !strings.Contains(pane, want) {
			t.Errorf("store pane lacks %q:\n%s", want, pane)
		}
	}
	line := fmt.Sprintf("[%s] [INFO] [mod.rs:496] [%q]", at.Format(tikvlog.TimeLayout), tikvlog.MsgBeingEnabled.Format("Aes256Ctr"))
	for _, l := range []string{line, fmt.Sprintf("[%s] [INFO] [server.rs:1] [\"Welcome to TiKV\"]", at.Format(tikvlog.TimeLayout))} {
		e := steps.NodeLogEvent(2, l) // classified by the engine, as the runner's log events are
		e.Time = at
		d.apply(e)
	}
	pane = d.logPane(st, 80, 8)
	plain := ansi.Strip(pane)
	if !strings.Contains(plain, "store 2 127.0.0.1:41432 · steps and TiKV log") || !strings.Contains(plain, "INFO encryption is being enabled. method = Aes256Ctr") {
		t.Errorf("log lines are not in the store pane:\n%s", plain)
	}
	enc := st.LogEnc.Render(ansi.Truncate("14:24:20 INFO "+tikvlog.MsgBeingEnabled.Format("Aes256Ctr"), 80, "…"))
	if !strings.Contains(pane, enc) {
		t.Errorf("the encryption line is not highlighted:\n%q", pane)
	}
	if strings.Contains(pane, st.LogEnc.Render(ansi.Truncate("14:24:20 INFO Welcome to TiKV", 80, "…"))) {
		t.Error("a plain log line is highlighted as an encryption line")
	}
	if p := ansi.Strip(d.logPane(st, 80, 8)); strings.Contains(p, "store 1 ") && !strings.Contains(p, "store 2") {
		t.Errorf("the pane does not follow the store being worked on:\n%s", p)
	}
}

func TestPreflightGroupsPerStoreRepeatsAndKeepsFailuresInView(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.screen, m.checked = ScreenBackend, true
	m.backends = []BackendOption{{Name: "aws", Title: "AWS KMS"}}
	for i := 1; i <= 6; i++ {
		m.checks = append(m.checks, steps.Check{ID: "tiup-managed", Status: steps.Warn, StoreID: uint64(i),
			Message: fmt.Sprintf("store %d: /tmp/tikv-ear-sim/host-%d/home/tidb/deploy/tikv/conf/tikv.toml is generated by TiUP", i, i), Fix: "tikv-ear also writes meta.yaml"})
		m.checks = append(m.checks, steps.Check{ID: "port-free", Status: steps.Pass, StoreID: uint64(i), Message: "status port answers"})
	}
	for i := 0; i < 20; i++ {
		m.checks = append(m.checks, steps.Check{ID: fmt.Sprintf("check-%02d", i), Status: steps.Pass, Message: "fine"})
	}
	m.checks = append(m.checks, steps.Check{ID: "key-access", Status: steps.Fail, Message: "kms:Decrypt denied", Fix: "grant kms:Decrypt to the TiKV role"})
	v := screenAt(t, m, 80, 24)
	for _, want := range []string{"✗ key-access kms:Decrypt denied → grant kms:Decrypt to the TiKV role", "! tiup-managed stores 1,2,3,4,5,6:", "✓ port-free stores 1,2,3,4,5,6: status port answers", "more below (pgdn/space)"} {
		if !strings.Contains(unwrapped(v), strings.ReplaceAll(want, " ", "")) && !strings.Contains(v, want) {
			t.Errorf("preflight lacks %q:\n%s", want, v)
		}
	}
	if strings.Count(v, "tiup-managed") != 1 {
		t.Errorf("per-store repeats are not grouped:\n%s", v)
	}
	if strings.Index(v, "key-access") > strings.Index(v, "tiup-managed") {
		t.Errorf("the blocking check is not first:\n%s", v)
	}
}

func TestAESNIShowsOnlyForAESMethods(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.screen = ScreenAlgorithm
	flags := []HostFlag{{Host: "h1", Value: true, Known: true}}
	m.algos = []AlgorithmOption{{Method: tikv.MethodAES256CTR, AESNI: flags}, {Method: tikv.MethodSM4CTR, AESNI: flags}}
	if v := screenAt(t, m, 80, 24); !strings.Contains(v, "AES-NI      1 of 1 host(s) have it") {
		t.Errorf("aes256-ctr lacks its AES-NI line:\n%s", v)
	}
	m.algoIdx = 1
	if v := screenAt(t, m, 80, 24); strings.Contains(v, "AES-NI") {
		t.Errorf("sm4-ctr shows an AES-NI line:\n%s", v)
	}
}

func TestBannerAndConnectLineKeepTheirWordsAt80Columns(t *testing.T) {
	m := newTestModel(nil, Options{Prefill: ConnectInput{Environment: steps.EnvStaging,
		PD: []string{"http://127.0.0.1:44535", "http://127.0.0.1:33889", "http://127.0.0.1:42393"}}})
	m.screen = ScreenConnect
	v := screenAt(t, m, 80, 24)
	for _, want := range []string{"○ Read-only so far: nothing on the hosts changes until you apply.", "Cluster http://127.0.0.1:44535 (+2 more PD)  · staging"} {
		if !strings.Contains(v, want) {
			t.Errorf("80 columns lack %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "…") {
		t.Errorf("80 columns cut a word:\n%s", v)
	}
	if w := screenAt(t, m, 200, 50); !strings.Contains(w, "http://127.0.0.1:44535, http://127.0.0.1:33889, http://127.0.0.1:42393  · staging") {
		t.Errorf("200 columns should list every PD:\n%s", w)
	}
	m.opts.Incident = true
	m.applying = true
	if v := screenAt(t, m, 80, 24); !strings.Contains(v, "INCIDENT · the current master key is treated as compromised") || !strings.Contains(v, "● Rollout in progress: TiKV configs and processes are changing.") {
		t.Errorf("incident and live banners lose words at 80 columns:\n%s", v)
	}
}

func TestAbortSaysTheOperatorAbortedAndSchedulersWereRemoved(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.dash.init(dashPreview())
	m.screen, m.applying = ScreenDashboard, true
	m.applied(resultMsg{op: opApply, err: fmt.Errorf("apply: %w", context.Canceled)})
	v := screenAt(t, m, 80, 24)
	if !strings.Contains(v, "✗ aborted by the operator; evict-leader schedulers removed") || strings.Contains(v, "context canceled") {
		t.Errorf("the abort reads as an error:\n%s", v)
	}
	m.screen = ScreenReport
	if v := screenAt(t, m, 80, 24); !strings.Contains(v, "aborted by the operator") || strings.Contains(v, "context canceled") {
		t.Errorf("the report screen shows the raw cancellation:\n%s", v)
	}
	if got := stoppedText(errors.New("store 1 rolled back")); got != "run stopped: store 1 rolled back" {
		t.Errorf("a real failure reads %q", got)
	}
}

func TestScheduleOptionsSayWhatTheyAreAndWrapNotes(t *testing.T) {
	m := newTestModel(nil, Options{})
	m.screen, m.applying, m.applyDone = ScreenSchedule, true, true
	note := "copy the .service and .timer to /etc/systemd/system first; runs tikv-ear rotate with --yes --output json every period"
	m.sched = []ScheduleOption{
		{ID: "aws-auto", Title: "AWS KMS automatic key rotation", Period: "365d", KMSNative: true},
		{ID: "systemd", Title: "systemd timer on this machine", Period: "365d", Artefact: "/tmp/tikv-ear-demo-3141592653/tikv-ear-schedule/tikv-ear-rotate.timer", Install: "systemctl enable --now tikv-ear-rotate.timer", Notes: note},
		{ID: "cron", Title: "cron on this machine", Period: "365d", Artefact: "/tmp/x.cron"},
		{ID: "kubernetes", Title: "Kubernetes CronJob", Period: "365d", Artefact: "/tmp/x.yaml"},
		{ID: "manual", Title: "no schedule: I rotate by hand", Period: "365d"},
	}
	m.schedIdx = 1
	v := screenAt(t, m, 80, 24)
	for _, want := range []string{"· every 365d · built into the key service", "systemd timer on this machine · every 365d\n", "· every 365d · cron line", "Kubernetes CronJob · every 365d\n", "· every 365d · manual",
		"/tmp/tikv-ear-demo-3141592653/tikv-ear-schedule/tikv-ear-rotate.timer", "install  systemctl enable --now tikv-ear-rotate.timer"} {
		if !strings.Contains(unwrapped(v), strings.ReplaceAll(want, " ", "")) && !strings.Contains(v, want) {
			t.Errorf("schedule lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "artefact") || strings.Contains(v, "…") {
		t.Errorf("schedule says artefact or cuts text:\n%s", v)
	}
	if !strings.Contains(strings.Join(strings.Fields(v), " "), strings.Join(strings.Fields("note "+note), " ")) {
		t.Errorf("the note is not whole:\n%s", v)
	}
}

func TestRotationPreviewRefusesToStartOnABlockingCheck(t *testing.T) {
	m := newTestModel(nil, Options{Rotate: true})
	m.screen = ScreenPlan
	m.preview = &PlanPreview{Plan: &steps.Plan{}, Rotation: &RotationPreview{Backend: "aws", Current: "key A", Next: "a new aws key"},
		Checks: []steps.Check{{ID: "previous-master-key", Status: steps.Fail, Message: "store 3 already has a previous-master-key"}}}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.confirmApply || m.err == nil || !strings.Contains(m.err.Error(), "preflight failed 1 check(s)") {
		t.Fatalf("a blocked rotation asks to start: confirm %v, err %v", m.confirmApply, m.err)
	}
	v := screenAt(t, m, 80, 24)
	for _, want := range []string{"now      master-key = key A", "during   master-key = a new aws key, previous-master-key = key A", "✗ previous-master-key store 3 already has"} {
		if !strings.Contains(v, want) {
			t.Errorf("rotation preview lacks %q:\n%s", want, v)
		}
	}
}
