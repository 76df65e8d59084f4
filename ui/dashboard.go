package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/steps"
)

// Caps keep memory flat on long runs with chatty logs.
const (
	logCap      = 400 // log lines kept per store
	timelineCap = 300 // timeline events kept
)

// storeState is one dashboard row.
type storeState struct {
	ID            uint64
	Address, Zone string
	Batch         int
	Step          string
	Kind          steps.EventKind
	Leaders       int
	LeadersBefore int
	HasLeaders    bool
	Draining      bool
	Settled       bool
	Restart       string
	Verify        string // "", "verified", "already", "failed", "rolled back"
	Failed        string
	Sample        *steps.Sample
	counted       bool
}

// logLine is one tail line with its highlight.
type logLine struct {
	text  string
	enc   bool // a catalogue (encryption) message
	fatal bool
}

// dashboard is the rollout view: it folds events into rows, logs and a timeline.
type dashboard struct {
	rotate, incident bool

	stores   []*storeState
	byID     map[uint64]*storeState
	batches  int
	batch    int
	current  uint64
	selected int
	follow   bool
	logs     map[uint64][]logLine
	timeline []steps.Event
	first    time.Time
	last     time.Time
	done     int
	failed   int
	stage    string
	progress string
	seen     int

	decision    *DecisionMsg
	decisionIdx int
	paused      bool
	aborting    bool
	details     bool
	finished    bool
	endMsg      string
	endErr      string
}

// init lays out the rows in batch order.
func (d *dashboard) init(p PlanPreview) {
	rotate, incident := d.rotate, d.incident
	*d = dashboard{rotate: rotate, incident: incident, byID: map[uint64]*storeState{}, logs: map[uint64][]logLine{}, follow: true}
	batchOf := map[uint64]int{}
	for _, b := range p.Batches.Batches {
		for _, id := range b.Stores {
			batchOf[id] = b.Index
		}
	}
	d.batches = len(p.Batches.Batches)
	add := func(id uint64, addr, zone string) {
		if _, ok := d.byID[id]; ok {
			return
		}
		s := &storeState{ID: id, Address: addr, Zone: zone, Batch: batchOf[id]}
		d.stores = append(d.stores, s)
		d.byID[id] = s
	}
	if p.Plan != nil {
		for _, b := range p.Batches.Batches {
			for _, id := range b.Stores {
				n, _ := p.Plan.Node(id)
				add(id, n.Address, n.Zone)
			}
		}
		for _, n := range p.Plan.Nodes {
			add(n.StoreID, n.Address, n.Zone)
		}
	}
}

// ask shows a decision inline, with the engine's default preselected.
func (d *dashboard) ask(msg DecisionMsg) {
	d.decision = &msg
	d.decisionIdx = 0
	for i, o := range msg.Decision.Options {
		if o == msg.Decision.Default {
			d.decisionIdx = i
		}
	}
}

func (d *dashboard) row(id uint64, addr string) *storeState {
	if s, ok := d.byID[id]; ok {
		return s
	}
	if d.byID == nil {
		d.byID, d.logs = map[uint64]*storeState{}, map[uint64][]logLine{}
	}
	s := &storeState{ID: id, Address: addr}
	d.stores = append(d.stores, s)
	d.byID[id] = s
	return s
}

// apply folds one event into the view.
func (d *dashboard) apply(e steps.Event) {
	d.seen++
	if !e.Time.IsZero() {
		if d.first.IsZero() {
			d.first = e.Time
		}
		d.last = e.Time
	}
	if e.Batch > 0 {
		d.batch = e.Batch
	}
	switch e.Kind {
	case steps.NodeLog, steps.MetricSample, steps.StepProgress:
	default:
		d.timeline = append(d.timeline, e)
		if len(d.timeline) > timelineCap {
			d.timeline = d.timeline[len(d.timeline)-timelineCap:]
		}
	}
	if e.Kind == steps.NodeLog {
		id := e.StoreID
		if id == 0 {
			id = d.current
		}
		l := d.logs[id]
		l = append(l, classify(e.Message))
		if len(l) > logCap {
			l = l[len(l)-logCap:]
		}
		d.logs[id] = l
		return
	}
	if e.Kind == steps.RunDone {
		d.finished, d.endMsg, d.endErr = true, e.Message, e.Error
		return
	}
	if e.Kind == steps.DecisionMade && d.decision != nil && e.Decision != nil && e.Decision.ID == d.decision.Decision.ID {
		d.decision = nil
	}
	if e.StoreID == 0 {
		d.batchEvent(e)
		return
	}
	s := d.row(e.StoreID, e.Store)
	if e.Batch > 0 {
		s.Batch = e.Batch
	}
	d.current = e.StoreID
	if e.Metrics != nil {
		m := *e.Metrics
		s.Sample, s.Leaders, s.HasLeaders = &m, m.Leaders, true
		if e.Step == steps.StepEvict && e.Total > 0 {
			s.LeadersBefore, s.Draining = e.Total, true
		}
	}
	if e.Kind == steps.MetricSample || e.Kind == steps.StepProgress {
		if e.Kind == steps.StepProgress && e.Total > 0 {
			d.stage, d.progress = e.Step, fmt.Sprintf("%d/%d", e.Done, e.Total)
		}
		return
	}
	if e.Kind == steps.Info || e.Kind == steps.Warning || e.Kind == steps.DecisionAsk || e.Kind == steps.DecisionMade {
		return
	}
	s.Step, s.Kind = e.Step, e.Kind
	switch {
	case e.Kind == steps.StepFailed:
		s.Failed = e.Error
		if e.Step == steps.StepVerify {
			s.Verify = "failed"
		}
		if e.Step == steps.StepRestart {
			s.Restart = "failed"
		}
		if !s.counted {
			s.counted = true
			d.failed++
		}
	case e.Step == steps.StepEvict && e.Kind == steps.StepDone:
		s.Draining = false
	case e.Step == steps.StepEvict && e.Kind == steps.StepSkipped:
		s.Draining = false
	case e.Step == steps.StepRestart && e.Kind == steps.StepStarted:
		s.Restart = "restarting"
	case e.Step == steps.StepRestart && e.Kind == steps.StepDone:
		s.Restart = "restarted"
	case e.Step == steps.StepRestart && e.Kind == steps.StepSkipped:
		s.Restart, s.Verify, s.Settled = "not needed", "already", true
		d.count(s)
	case e.Step == steps.StepReady && e.Kind == steps.StepDone:
		s.Restart = "up"
	case e.Step == steps.StepVerify && e.Kind == steps.StepDone:
		s.Verify = "verified"
		d.count(s)
	case e.Step == steps.StepRollback && e.Kind == steps.StepDone:
		s.Verify = "rolled back"
	}
}

func (d *dashboard) count(s *storeState) {
	if !s.counted {
		s.counted = true
		d.done++
	}
}

// batchEvent handles run-wide and batch-wide events.
func (d *dashboard) batchEvent(e steps.Event) {
	switch e.Kind {
	case steps.StepStarted, steps.StepDone, steps.StepFailed:
		d.stage, d.progress = e.Step, ""
		if e.Kind == steps.StepDone {
			d.progress = "done"
		}
	}
	if e.Step == steps.StepSettle && e.Kind == steps.StepDone {
		for _, s := range d.stores {
			if s.Batch == e.Batch {
				s.Settled = true
			}
		}
	}
}

// classify marks encryption and fatal lines of a TiKV log tail.
func classify(line string) logLine {
	l := logLine{text: line}
	msg := line
	level := ""
	if pl, err := tikv.ParseLogLine(line); err == nil {
		msg, level = pl.Message, pl.Level
		l.text = pl.Time.Format("15:04:05") + " " + pl.Level + " " + pl.Message
	}
	if m, ok := tikv.Lookup(msg); ok {
		l.enc = true
		level = m.Level
	}
	l.fatal = level == "FATAL"
	return l
}

// focus is the store whose log and metrics show.
func (d *dashboard) focus() *storeState {
	if !d.follow && d.selected < len(d.stores) {
		return d.stores[d.selected]
	}
	if s, ok := d.byID[d.current]; ok {
		return s
	}
	if len(d.stores) > 0 {
		return d.stores[0]
	}
	return nil
}

// eta estimates the time left from the pace so far (event times, not the wall clock).
func (d *dashboard) eta() string {
	left := len(d.stores) - d.done - d.failed
	if d.done == 0 || d.finished || left <= 0 || !d.last.After(d.first) {
		return "—"
	}
	per := d.last.Sub(d.first) / time.Duration(d.done)
	return (per * time.Duration(left)).Round(time.Second).String()
}

// dashView is the model state the dashboard draws but does not own.
type dashView struct {
	confirmAbort bool
	applyDone    bool
	applyErr     error
	note         string
}

func (m *Model) dashState() dashView {
	return dashView{confirmAbort: m.confirmAbort, applyDone: m.applyDone, applyErr: m.applyErr, note: m.status()}
}

// render draws the dashboard into w×h.
func (d *dashboard) render(st Styles, w, h int, v dashView) string {
	var top []string
	total := len(d.stores)
	pct := 0.0
	if total > 0 {
		pct = float64(d.done) / float64(total)
	}
	barW := min(30, max(10, w/4))
	summary := fmt.Sprintf(" %d/%d stores", d.done, total)
	if d.failed > 0 {
		summary += st.Fail.Render(fmt.Sprintf(" · %d failed", d.failed))
	}
	summary += fmt.Sprintf(" · batch %d/%d · ETA %s", d.batch, d.batches, d.eta())
	if d.stage != "" {
		summary += st.Subtle.Render(" · " + strings.TrimSpace(d.stage+" "+d.progress))
	}
	top = append(top, bar(st, pct, barW)+summary)
	switch {
	case d.aborting && !v.applyDone:
		top = append(top, st.Warn.Render("aborting: the engine stops at its next check and removes its evict-leader schedulers…"))
	case v.confirmAbort:
		top = append(top, st.Decision.Render("Abort the rollout? The engine stops at a safe point and cleans up; stores already done stay done. y abort · n keep going"))
	case d.finished || v.applyDone:
		if v.applyErr != nil || d.endErr != "" {
			msg := d.endMsg
			if v.applyErr != nil {
				msg = "run stopped: " + v.applyErr.Error()
			}
			top = append(top, st.Fail.Render(IconFail+" "+msg))
		} else {
			top = append(top, st.Pass.Render(IconPass+" "+cmp.Or(d.endMsg, "the rollout returned")))
		}
	case d.paused:
		top = append(top, st.Warn.Render("paused: the engine holds before its next step (running steps finish). p resumes"))
	}
	if v.note != "" {
		top = append(top, v.note)
	}
	if d.decision != nil {
		top = append(top, d.decisionBox(st, w))
	}
	head := strings.Join(top, "\n")
	rest := h - lipHeight(head)
	if rest < 3 {
		return head
	}
	tableH := min(len(d.stores)+1, max(4, rest/2))
	if d.details {
		tableH = min(tableH, max(4, rest/3))
	}
	table := d.table(st, w, tableH)
	bottomH := rest - tableH
	var bottom string
	switch {
	case bottomH < 2:
	case d.details:
		bottom = d.detailsPane(st, w, bottomH)
	case w >= 120:
		lw := w * 3 / 5
		left := d.logPane(st, lw-1, bottomH)
		right := d.metricsPane(st, w-lw-1, 6) + "\n" + d.timelinePane(st, w-lw-1, bottomH-7)
		bottom = joinColumns(fit(left, lw-1, bottomH), fit(right, w-lw-1, bottomH), lw-1, bottomH)
	default:
		tl := min(4, bottomH/3)
		bottom = d.logPane(st, w, bottomH-tl) + "\n" + d.timelinePane(st, w, tl)
	}
	return head + "\n" + table + "\n" + bottom
}

func (d *dashboard) decisionBox(st Styles, w int) string {
	dec := d.decision.Decision
	var opts []string
	for i, o := range dec.Options {
		label := fmt.Sprintf("%d %s", i+1, o)
		if o == dec.Default {
			label += " (plan default)"
		}
		if i == d.decisionIdx {
			label = st.Selected.Render("[" + label + "]")
		} else {
			label = " " + label + " "
		}
		opts = append(opts, label)
	}
	body := st.Bold.Render("Decision: ") + dec.Question + "\n" + strings.Join(opts, "  ") + st.Subtle.Render("   ←/→ choose · enter confirm")
	return st.Decision.Width(min(w, 120)).Render(body)
}

// table draws the store rows, scrolled to keep the focus row visible.
func (d *dashboard) table(st Styles, w, h int) string {
	addrW := max(6, min(24, w-76))
	head := fmt.Sprintf("  %-5s %-*s %-8s %3s %-18s %-10s %-10s %-11s", "ID", addrW, "ADDRESS", "ZONE", "B", "PHASE", "LEADERS", "RESTART", "VERIFY")
	lines := []string{st.Header.Render(ansi.Truncate(head, w, "…"))}
	rows := h - 1
	if rows <= 0 || len(d.stores) == 0 {
		return strings.Join(lines, "\n")
	}
	focusIdx := d.selected
	if d.follow {
		for i, s := range d.stores {
			if s.ID == d.current {
				focusIdx = i
			}
		}
	}
	start := min(max(0, focusIdx-rows/2), max(0, len(d.stores)-rows))
	for i := start; i < min(len(d.stores), start+rows); i++ {
		s := d.stores[i]
		cur := "  "
		if i == focusIdx {
			cur = st.Selected.Render(IconCursor + " ")
		}
		line := cur + fmt.Sprintf("%-5d %-*s %-8s %3d ", s.ID, addrW, ansi.Truncate(s.Address, addrW, "…"), ansi.Truncate(s.Zone, 8, "…"), s.Batch) +
			padRight(d.phase(st, s), 18) + " " + padRight(leaders(st, s), 10) + " " + padRight(s.Restart, 10) + " " + verifyCell(st, s.Verify)
		lines = append(lines, ansi.Truncate(line, w, "…"))
	}
	return strings.Join(lines, "\n")
}

func (d *dashboard) phase(st Styles, s *storeState) string {
	switch {
	case s.Failed != "":
		return st.Fail.Render(IconFail + " " + s.Step)
	case s.Verify == "verified":
		return st.Pass.Render(IconPass + " verified")
	case s.Verify == "already":
		return st.Pass.Render(IconPass + " on target")
	case s.Step == "":
		return st.Subtle.Render(IconPending + " waiting")
	case s.Kind == steps.StepStarted:
		return st.Selected.Render(IconActive + " " + s.Step)
	case s.Kind == steps.StepSkipped:
		return st.Subtle.Render("– " + s.Step)
	}
	return IconPass + " " + s.Step
}

func leaders(st Styles, s *storeState) string {
	switch {
	case !s.HasLeaders:
		return st.Subtle.Render("-")
	case s.Draining:
		return st.Warn.Render(fmt.Sprintf("↓%d/%d", s.Leaders, s.LeadersBefore))
	case s.Restart == "up" && !s.Settled:
		return st.Subtle.Render("↑ returning")
	}
	return strconv.Itoa(s.Leaders)
}

func verifyCell(st Styles, v string) string {
	switch v {
	case "verified", "already":
		return st.Pass.Render(IconPass + " " + v)
	case "failed":
		return st.Fail.Render(IconFail + " failed")
	case "rolled back":
		return st.Warn.Render("↺ rolled back")
	}
	return ""
}

// logPane is the tail of the focus store's log, encryption lines highlighted.
func (d *dashboard) logPane(st Styles, w, h int) string {
	if h <= 0 {
		return ""
	}
	s := d.focus()
	title := "log"
	var lines []logLine
	if s != nil {
		title = fmt.Sprintf("log · store %d %s", s.ID, s.Address)
		lines = d.logs[s.ID]
	}
	out := []string{st.Header.Render(ansi.Truncate(title, w, "…"))}
	n := h - 1
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		t := ansi.Truncate(l.text, w, "…")
		switch {
		case l.fatal:
			t = st.LogFatal.Render(t)
		case l.enc:
			t = st.LogEnc.Render(t)
		default:
			t = st.Subtle.Render(t)
		}
		out = append(out, t)
	}
	return strings.Join(out, "\n")
}

// metricsPane shows the focus store's last sample under TiKV's metric names.
func (d *dashboard) metricsPane(st Styles, w, h int) string {
	s := d.focus()
	out := []string{st.Header.Render("metrics")}
	if s == nil || s.Sample == nil {
		out = append(out, st.Subtle.Render("no sample yet"))
		return strings.Join(out, "\n")
	}
	m := s.Sample
	init := 0
	if m.Initialized {
		init = 1
	}
	out = append(out,
		fmt.Sprintf("leaders %d · regions %d", m.Leaders, m.Regions),
		fmt.Sprintf("%s %d", tikv.MetricIsInitialized, init),
		fmt.Sprintf("%s %d", tikv.MetricFileNum, m.FileNum),
		fmt.Sprintf("%s %d", tikv.MetricDataKeyStorageTotal, m.DataKeys),
	)
	return fit(strings.Join(out, "\n"), w, h)
}

// timelinePane lists the latest step transitions.
func (d *dashboard) timelinePane(st Styles, w, h int) string {
	if h <= 0 {
		return ""
	}
	out := []string{st.Header.Render("timeline")}
	n := h - 1
	tl := d.timeline
	if len(tl) > n {
		tl = tl[len(tl)-n:]
	}
	for _, e := range tl {
		out = append(out, ansi.Truncate(timelineLine(st, e), w, "…"))
	}
	return strings.Join(out, "\n")
}

func timelineLine(st Styles, e steps.Event) string {
	ts := e.Time.UTC().Format("15:04:05")
	who := ""
	if e.StoreID != 0 {
		who = fmt.Sprintf(" store %d", e.StoreID)
	} else if e.Batch != 0 {
		who = fmt.Sprintf(" batch %d", e.Batch)
	}
	icon, text := " ", e.Message
	switch e.Kind {
	case steps.StepStarted:
		icon = st.Selected.Render(IconActive)
	case steps.StepDone:
		icon = st.Pass.Render(IconPass)
	case steps.StepSkipped:
		icon = st.Subtle.Render("–")
	case steps.StepFailed:
		icon, text = st.Fail.Render(IconFail), e.Error
	case steps.Warning:
		icon = st.Warn.Render(IconWarn)
	case steps.DecisionAsk:
		icon, text = st.Warn.Render("?"), e.Decision.Question
	case steps.DecisionMade:
		icon, text = "→", e.Decision.Chosen+" (by "+e.Decision.By+")"
	case steps.RunDone:
		icon, e.Step = "■", ""
	}
	return strings.Join(slices.DeleteFunc([]string{st.Subtle.Render(ts), icon, e.Step + who, text}, func(s string) bool { return s == "" }), " ")
}

// detailsPane shows everything known of the focus store.
func (d *dashboard) detailsPane(st Styles, w, h int) string {
	s := d.focus()
	if s == nil {
		return ""
	}
	out := []string{st.Title.Render(fmt.Sprintf("store %d · %s · zone %s · batch %d", s.ID, s.Address, s.Zone, s.Batch))}
	if s.Failed != "" {
		out = append(out, st.Fail.Render("failed: "+s.Failed))
	}
	var mine []steps.Event
	for _, e := range d.timeline {
		if e.StoreID == s.ID {
			mine = append(mine, e)
		}
	}
	half := max(1, (h-len(out))/2)
	if len(mine) > half {
		mine = mine[len(mine)-half:]
	}
	for _, e := range mine {
		out = append(out, ansi.Truncate(timelineLine(st, e), w, "…"))
	}
	out = append(out, d.logPane(st, w, h-len(out)))
	return strings.Join(out, "\n")
}

// joinColumns puts two blocks side by side, the left padded to lw.
func joinColumns(left, right string, lw, h int) string {
	l := strings.Split(pad(left, h), "\n")
	r := strings.Split(pad(right, h), "\n")
	out := make([]string, 0, h)
	for i := 0; i < h; i++ {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		out = append(out, padRight(a, lw)+" "+b)
	}
	return strings.Join(out, "\n")
}

// ---- model glue ---------------------------------------------------------------

// startApply begins the rollout: events flow through a StepGate (pause) into
// a Buffered that one command drains an event at a time.
func (m *Model) startApply() tea.Cmd {
	if m.preview == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(m.ctx)
	buf := steps.NewBuffered(4096)
	gate := NewStepGate(ctx, buf)
	m.applying, m.applyCancel, m.gate, m.events = true, cancel, gate, buf
	m.applyFinished = make(chan struct{})
	m.applyDone, m.applyErr, m.result, m.err, m.notice = false, nil, nil, nil, ""
	m.dash.init(*m.preview)
	m.screen = ScreenDashboard
	var dec steps.Decider = steps.PolicyDecider{}
	if m.decider != nil {
		dec = m.decider
	}
	return tea.Batch(applyCmd(ctx, m.driver, *m.preview, gate, buf, dec, m.applyFinished), waitEvent(buf))
}

// applied records the end of the rollout.
func (m *Model) applied(r resultMsg) tea.Cmd {
	m.applyDone, m.confirmAbort, m.dash.decision = true, false, nil
	m.result, _ = r.val.(*steps.Result)
	m.applyErr = r.err
	m.dash.finished = true
	m.dash.paused = false
	if m.applyCancel != nil {
		return cancelCmd(m.applyCancel) // release the context's resources
	}
	return nil
}

// abort cancels the rollout context; the engine cleans up and Apply returns.
func (m *Model) abort() tea.Cmd {
	m.confirmAbort = false
	if m.applyCancel == nil || m.applyDone {
		return nil
	}
	m.dash.aborting = true
	return cancelCmd(m.applyCancel)
}

func (m *Model) keyDashboard(msg tea.KeyPressMsg) tea.Cmd {
	d := &m.dash
	m.err = nil // a hint lasts until the next key
	if m.confirmAbort {
		switch {
		case key.Matches(msg, m.keys.Yes):
			return m.abort()
		case key.Matches(msg, m.keys.No):
			m.confirmAbort = false
		}
		return nil
	}
	if d.decision != nil {
		opts := d.decision.Decision.Options
		switch {
		case key.Matches(msg, m.keys.Left):
			d.decisionIdx = (d.decisionIdx + len(opts) - 1) % len(opts)
			return nil
		case key.Matches(msg, m.keys.Right), key.Matches(msg, m.keys.Tab):
			d.decisionIdx = (d.decisionIdx + 1) % len(opts)
			return nil
		case len(msg.Text) == 1 && msg.Text[0] >= '1' && msg.Text[0] <= '9':
			if i := int(msg.Text[0] - '1'); i < len(opts) {
				d.decisionIdx = i
			}
			return nil
		case key.Matches(msg, m.keys.Next):
			reply, choice := d.decision.reply, opts[d.decisionIdx]
			d.decision = nil
			return answer(reply, choice)
		}
	}
	switch {
	case key.Matches(msg, m.keys.Up):
		d.selected, d.follow = max(0, d.currentIndex()-1), false
	case key.Matches(msg, m.keys.Down):
		d.selected, d.follow = min(len(d.stores)-1, d.currentIndex()+1), false
	case key.Matches(msg, m.keys.Back):
		d.follow = true
	case key.Matches(msg, m.keys.Details):
		d.details = !d.details
	case m.applyDone && key.Matches(msg, m.keys.Next):
		m.screen = ScreenVerify
		return m.start(opVerify, verifyCmd(m.ctx, m.driver, *m.preview))
	case m.applyDone && key.Matches(msg, m.keys.Quit):
		m.quitting = true
		return tea.Quit
	case m.applyDone:
	case key.Matches(msg, m.keys.Pause) && m.gate != nil:
		// Pause and Resume only flip a flag under a mutex (no IO); calling
		// them here keeps their order the order of the key presses.
		d.paused = !d.paused
		if d.paused {
			m.gate.Pause()
		} else {
			m.gate.Resume()
		}
	case key.Matches(msg, m.keys.Abort):
		m.confirmAbort = true
	case key.Matches(msg, m.keys.Quit):
		m.err = fmt.Errorf("q does not stop a rollout: press a to abort safely")
	}
	return nil
}

// currentIndex is the row the cursor is on.
func (d *dashboard) currentIndex() int {
	if !d.follow {
		return d.selected
	}
	for i, s := range d.stores {
		if s.ID == d.current {
			return i
		}
	}
	return 0
}

func (m *Model) dashBindings() []key.Binding {
	k := m.keys
	if m.confirmAbort {
		return []key.Binding{with(k.Yes, "abort the rollout"), with(k.No, "keep going")}
	}
	if m.applyDone {
		return []key.Binding{with(k.Next, "verification"), k.Details, k.Up, k.Down, k.Quit}
	}
	b := []key.Binding{}
	if m.dash.decision != nil {
		b = append(b, with(k.Next, "confirm decision"), with(k.Left, "option"))
	}
	pause := with(k.Pause, "pause")
	if m.dash.paused {
		pause = with(k.Pause, "resume")
	}
	return append(b, pause, with(k.Abort, "abort (safe)"), k.Details, k.Up, k.Down, with(k.Back, "follow"))
}

// EventsSeen returns how many engine events the dashboard has folded in.
func (m *Model) EventsSeen() int { return m.dash.seen }

// DecisionPending returns the question the dashboard is asking, if any.
func (m *Model) DecisionPending() (steps.Decision, bool) {
	if m.dash.decision == nil {
		return steps.Decision{}, false
	}
	return m.dash.decision.Decision, true
}
