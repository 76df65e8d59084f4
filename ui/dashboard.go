package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
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
	Released      bool // the evict-leader scheduler is gone: leaders may return
	LiveAfter     bool // Leaders was read after the release (a poll), not the eviction's last sample
	Settled       bool
	Restart       string
	Verify        string // "", "verified", "already", "failed", "rolled back"
	Failed        string
	Sample        *steps.Sample
	SampleStep    string    // the step the sample was read in (evict: before the restart; verify: after)
	SampleAt      time.Time // when, by the engine's clock
	RestartedAt   time.Time // the last restart, to tell a sample from before it
	counted       bool
}

// logLine is one line of a store's feed: one of its engine events, or a
// line of its TiKV log with its highlight.
type logLine struct {
	text  string
	event *steps.Event // an engine event rather than a log line
	enc   bool         // a catalogue (encryption) message
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
	logs     map[uint64][]logLine // per store: its events and TiKV log lines, in arrival order
	logSeen  map[uint64]bool      // stores that sent at least one TiKV log line
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
	typing      bool // the decision's typed option is chosen: the operator types yes
	paused      bool
	aborting    bool
	details     bool
	metrics     bool // at under 120 columns the store pane shows metrics instead of the log (m)
	finished    bool
	endMsg      string
	endErr      string
}

// init lays out the rows in batch order.
func (d *dashboard) init(p PlanPreview) {
	rotate, incident := d.rotate, d.incident
	*d = dashboard{rotate: rotate, incident: incident, byID: map[uint64]*storeState{}, logs: map[uint64][]logLine{}, logSeen: map[uint64]bool{}, follow: true}
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

// ask shows a decision inline, with the engine's default preselected. A
// typed option (revoking a key) is never preselected, even when a plan's
// default names it.
func (d *dashboard) ask(msg DecisionMsg) {
	d.decision = &msg
	d.decisionIdx = 0
	d.typing = false
	for i, o := range msg.Decision.Options {
		if o == msg.Decision.Default && o != msg.Decision.Typed {
			d.decisionIdx = i
		}
	}
	if msg.Decision.Options[d.decisionIdx] == msg.Decision.Typed {
		d.decisionIdx = (d.decisionIdx + 1) % len(msg.Decision.Options)
	}
}

func (d *dashboard) row(id uint64, addr string) *storeState {
	if s, ok := d.byID[id]; ok {
		return s
	}
	if d.byID == nil {
		d.byID, d.logs, d.logSeen = map[uint64]*storeState{}, map[uint64][]logLine{}, map[uint64]bool{}
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
	// The newest batch under way: a batch's settle, and in a serial rollout
	// the restart and verification of a batch, go on while the next one
	// evicts, and their events must not take the count back.
	d.batch = max(d.batch, e.Batch)
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
		l := logLine{text: e.Message}
		if e.Log != nil { // the engine classified it (steps.ClassifyLog)
			l = logLine{text: e.Log.Text, enc: e.Log.Catalog != "", fatal: e.Log.Fatal}
		}
		d.feed(id, l)
		d.logSeen[id] = true
		return
	}
	if e.StoreID != 0 && e.Kind != steps.MetricSample && e.Kind != steps.StepProgress {
		ev := e
		d.feed(e.StoreID, logLine{event: &ev})
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
		s.SampleStep, s.SampleAt = e.Step, e.Time
		s.LiveAfter = s.Released
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
		s.Restart, s.RestartedAt = "restarting", e.Time
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
	case e.Step == steps.StepRelease && e.Kind == steps.StepDone:
		s.Draining, s.Released, s.LiveAfter = false, true, false
	}
}

// feed appends one line to a store's feed, keeping the last logCap.
func (d *dashboard) feed(id uint64, l logLine) {
	if d.logs == nil {
		d.logs, d.logSeen = map[uint64][]logLine{}, map[uint64]bool{}
	}
	f := append(d.logs[id], l)
	if len(f) > logCap {
		f = f[len(f)-logCap:]
	}
	d.logs[id] = f
}

// leaderCounts folds a fresh reading of every store's leader count in.
func (d *dashboard) leaderCounts(counts map[uint64]int) {
	for id, n := range counts {
		s, ok := d.byID[id]
		if !ok {
			continue
		}
		s.Leaders, s.HasLeaders = n, true
		if s.Released {
			s.LiveAfter = true
		}
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

// elapsed is the run's duration so far by the engine's event times (the
// whole run's once it finished).
func (d *dashboard) elapsed() time.Duration {
	if d.first.IsZero() || !d.last.After(d.first) {
		return 0
	}
	return d.last.Sub(d.first).Round(time.Second)
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
	home         bool // the wizard has a home to resume from
}

func (m *Model) dashState() dashView {
	return dashView{confirmAbort: m.confirmAbort, applyDone: m.applyDone, applyErr: m.applyErr, note: m.status(), home: m.opts.Home}
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
	summary += fmt.Sprintf(" · batch %d/%d · %s elapsed · ETA %s", d.batch, d.batches, d.elapsed(), d.eta())
	if d.stage != "" {
		summary += st.Subtle.Render(" · " + strings.TrimSpace(d.stage+" "+d.progress))
	}
	top = append(top, bar(st, pct, barW)+summary)
	switch {
	case d.aborting && !v.applyDone:
		top = append(top, st.Warn.Render("aborting: the engine stops at its next check and removes its evict-leader schedulers…"))
	case v.confirmAbort:
		top = append(top, st.Decision.Width(min(w, 120)).Render("Abort the rollout? The engine stops at a safe point and cleans up; stores already done stay done. y abort · n keep going"))
	case d.finished || v.applyDone:
		if v.applyErr != nil || d.endErr != "" {
			msg := d.endMsg
			if v.applyErr != nil {
				msg = stoppedText(v.applyErr)
			}
			// Wrapped, never cut: the reason and the engine's hints are what
			// the operator acts on.
			top = append(top, renderLines(st.Fail, IconFail+" "+msg, w, 2))
			var e *steps.Error
			if errors.As(v.applyErr, &e) {
				for _, hint := range e.Hints {
					top = append(top, renderLines(st.Subtle, "  hint: "+hint, w, 8))
				}
			}
			if v.home {
				top = append(top, renderLines(st.Warn, d.stoppedStores()+" Enter goes home: Resume goes on from the cluster's real state, or cleans the run up.", w))
			}
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
	case w >= 120: // log and metrics side by side, the timeline the whole width below
		paneH := max(7, bottomH-max(4, bottomH*2/5))
		lw := w * 3 / 5
		left := d.logPane(st, lw-1, paneH)
		right := d.metricsPane(st, w-lw-1, paneH)
		bottom = joinColumns(fit(left, lw-1, paneH), fit(right, w-lw-1, paneH), lw-1, paneH)
		if bottomH > paneH {
			bottom += "\n" + d.timelinePane(st, w, bottomH-paneH)
		}
	default: // the store pane (its log, or with m its metrics) takes what it needs, the timeline the rest
		need := 2
		if s := d.focus(); s != nil {
			need = max(need, len(d.logs[s.ID])+1)
		}
		if d.metrics {
			need = 8
		}
		logH := max(bottomH-bottomH/2, min(need, bottomH-min(4, bottomH/3)))
		pane := d.logPane(st, w, logH)
		if d.metrics {
			pane = d.metricsPane(st, w, logH)
		}
		bottom = pad(pane, logH) + "\n" + d.timelinePane(st, w, bottomH-logH)
	}
	return head + "\n" + table + "\n" + bottom
}

// stoppedStores says, from the run's own events, where each store stands
// after a run stopped: verified on the target, rolled back, restarted but not
// verified (it runs the new config unproven), or untouched.
func (d *dashboard) stoppedStores() string {
	var verified, rolledBack, unverified []string
	untouched := 0
	for _, s := range d.stores {
		id := strconv.FormatUint(s.ID, 10)
		switch {
		case s.Verify == "verified" || s.Verify == "already":
			verified = append(verified, id)
		case s.Verify == "rolled back":
			rolledBack = append(rolledBack, id)
		case s.Restart != "":
			unverified = append(unverified, id)
		default:
			untouched++
		}
	}
	var parts []string
	if len(verified) > 0 {
		parts = append(parts, storeList(verified)+" on the target, verified")
	}
	if len(rolledBack) > 0 {
		parts = append(parts, storeList(rolledBack)+" rolled back (d shows to what)")
	}
	if len(unverified) > 0 {
		parts = append(parts, storeList(unverified)+" restarted and NOT verified")
	}
	if untouched > 0 {
		parts = append(parts, fmt.Sprintf("%d not touched by this run", untouched))
	}
	if len(parts) == 0 {
		return "No store was touched by this run."
	}
	return strings.ToUpper(parts[0][:1]) + parts[0][1:] + strings.Join(append([]string{""}, parts[1:]...), "; ") + "."
}

// storeList names stores for a sentence: "store 1", "stores 1,4".
func storeList(ids []string) string {
	if len(ids) == 1 {
		return "store " + ids[0]
	}
	return "stores " + strings.Join(ids, ",")
}

// stoppedText says why a run stopped; an abort is the operator's doing, and
// the engine removed its evict-leader schedulers before Apply returned.
func stoppedText(err error) string {
	if errors.Is(err, context.Canceled) {
		return "aborted by the operator; evict-leader schedulers removed"
	}
	return "run stopped: " + err.Error()
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

// tableCols are the dashboard table's column widths for a terminal width:
// the full address when there is room, else only its port, else nothing.
type tableCols struct {
	addr     int    // 0: no address column
	addrHead string // ADDRESS or PORT
}

func dashCols(w int) tableCols {
	const fixed = 2 + 6 + 9 + 4 + 15 + 12 + 11 + 13 // cursor, ID, ZONE, B, PHASE, LEADERS, RESTART, VERIFY
	switch room := w - fixed - 1; {
	case room >= 16:
		return tableCols{addr: min(24, room), addrHead: "ADDRESS"}
	case room >= 6:
		return tableCols{addr: 6, addrHead: "PORT"}
	}
	return tableCols{}
}

// addrCell is the address, or only its port in a PORT column.
func (c tableCols) addrCell(addr string) string {
	width := c.addr
	if c.addrHead == "PORT" {
		if i := strings.LastIndex(addr, ":"); i >= 0 {
			addr = addr[i+1:]
		}
	}
	return ansi.Truncate(addr, width, "…")
}

// table draws the store rows, scrolled to keep the focus row visible.
func (d *dashboard) table(st Styles, w, h int) string {
	c := dashCols(w)
	addr := func(v string) string {
		if c.addr == 0 {
			return ""
		}
		return fmt.Sprintf("%-*s ", c.addr, v)
	}
	head := fmt.Sprintf("  %-5s %s%-8s %3s %-14s %-11s %-10s %s", "ID", addr(c.addrHead), "ZONE", "B", "PHASE", "LEADERS", "RESTART", "VERIFY")
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
		line := cur + fmt.Sprintf("%-5d %s%-8s %3d ", s.ID, addr(c.addrCell(s.Address)), ansi.Truncate(s.Zone, 8, "…"), s.Batch) +
			padRight(d.phase(st, s), 14) + " " + padRight(leaders(st, s), 11) + " " + padRight(s.Restart, 10) + " " + verifyCell(st, s.Verify)
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

// leaders is the LEADERS cell. After the release the eviction's last sample
// (0) is stale: until a fresh reading arrives the cell says the leaders are
// returning, or, once the batch settled (the engine saw them back), "back".
func leaders(st Styles, s *storeState) string {
	switch {
	case !s.HasLeaders:
		return st.Subtle.Render("-")
	case s.Draining:
		return st.Warn.Render(fmt.Sprintf("↓%d/%d", s.Leaders, s.LeadersBefore))
	case s.Released && !s.LiveAfter && s.Settled:
		return st.Pass.Render("✓ back")
	case s.Released && !s.LiveAfter:
		return st.Subtle.Render("↑ returning")
	case s.Released && !s.Settled && s.LeadersBefore > 0:
		return st.Subtle.Render(fmt.Sprintf("↑%d/%d", s.Leaders, s.LeadersBefore))
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

// logPane is the focus store's feed: its engine events (what is being done
// to it) interleaved with its TiKV log lines as the engine streams them,
// encryption (catalogue) lines highlighted and fatal ones in red.
func (d *dashboard) logPane(st Styles, w, h int) string {
	if h <= 0 {
		return ""
	}
	s := d.focus()
	title := "store"
	var lines []logLine
	if s != nil {
		what := "steps"
		if d.logSeen[s.ID] {
			what = "steps and TiKV log"
		}
		title = fmt.Sprintf("store %d %s · %s", s.ID, s.Address, what)
		lines = d.logs[s.ID]
	}
	out := []string{st.Header.Render(ansi.Truncate(title, w, "…"))}
	n := h - 1
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 && n > 0 && s != nil {
		out = append(out, st.Subtle.Render(ansi.Truncate(IconPending+" waiting for its batch", w, "…")))
	}
	for _, l := range lines {
		if l.event != nil {
			out = append(out, ansi.Truncate(eventLine(st, *l.event, false), w, "…"))
			continue
		}
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

// metricsPane shows the focus store's last sample under TiKV's metric
// names, and when and in which step it was read: a sample from before the
// store's restart (the eviction's) is marked stale, never shown as now.
func (d *dashboard) metricsPane(st Styles, w, h int) string {
	s := d.focus()
	title := "metrics"
	if s != nil {
		title = fmt.Sprintf("store %d metrics", s.ID)
	}
	out := []string{st.Header.Render(ansi.Truncate(title, w, "…"))}
	if s == nil || s.Sample == nil {
		out = append(out, st.Subtle.Render("no sample yet"))
		return strings.Join(out, "\n")
	}
	m := s.Sample
	init := 0
	if m.Initialized {
		init = 1
	}
	when := fmt.Sprintf("read %s in %s", s.SampleAt.UTC().Format("15:04:05"), s.SampleStep)
	stale := !s.RestartedAt.IsZero() && s.SampleAt.Before(s.RestartedAt)
	if stale {
		out = append(out, st.Warn.Render(ansi.Truncate(when+": before the restart, stale", w, "…")))
	} else {
		out = append(out, st.Subtle.Render(ansi.Truncate(when, w, "…")))
	}
	// Metric names, with their upstream source, are cluster/tikv's Metric* constants.
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
		out = append(out, ansi.Truncate(eventLine(st, e, true), w, "…"))
	}
	return strings.Join(out, "\n")
}

// eventLine is one event as the timeline shows it; withWho names its store
// or batch (the store pane leaves it out: it is the pane's title).
func eventLine(st Styles, e steps.Event, withWho bool) string {
	ts := e.Time.UTC().Format("15:04:05")
	who := ""
	switch {
	case !withWho:
	case e.StoreID != 0:
		who = fmt.Sprintf(" store %d", e.StoreID)
	case e.Batch != 0:
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
	if w := strings.TrimSpace(who); w != "" && (text == w || strings.HasPrefix(text, w+" ")) {
		who = "" // the text names its store or batch already
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
	m.eventsOpen, m.heldApply = true, nil
	m.applyFinished = make(chan struct{})
	m.applyDone, m.applyErr, m.result, m.err, m.notice = false, nil, nil, nil, ""
	m.dash.init(*m.preview)
	m.screen = ScreenDashboard
	var dec steps.Decider = steps.PolicyDecider{}
	if m.decider != nil {
		dec = m.decider
	}
	m.pollGen++
	return tea.Batch(applyCmd(ctx, m.driver, *m.preview, gate, buf, dec, m.applyFinished), waitEvent(buf), m.pollLeaders())
}

// applied records the end of the rollout.
func (m *Model) applied(r resultMsg) tea.Cmd {
	m.applyDone, m.confirmAbort, m.dash.decision = true, false, nil
	m.result, _ = r.val.(*steps.Result)
	m.applyErr = r.err
	m.dash.finished = true
	m.dash.paused = false
	final := m.pollLeaders() // one last reading: the table ends on real counts
	if m.applyCancel != nil {
		return tea.Batch(cancelCmd(m.applyCancel), final) // release the context's resources
	}
	return final
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
	if d.decision != nil && d.typing {
		return m.keyTyped(msg)
	}
	if d.decision != nil {
		opts := d.decision.Decision.Options
		if d.decision.Decision.Typed != "" && m.sizeTyped() && m.decScroll.key(msg, m.keys, true) {
			return nil
		}
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
			if choice == d.decision.Decision.Typed { // never one key: the operator types yes
				d.typing = true
				m.typed.Reset()
				return m.typed.Focus()
			}
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
	case key.Matches(msg, m.keys.Metrics):
		d.metrics = !d.metrics
	case m.applyDone && m.applyErr != nil && m.opts.Home && key.Matches(msg, m.keys.Next):
		// The run stopped: no verification, schedule or report of a run that
		// did not finish. Home re-reads the journal and offers Resume.
		st := &stoppedRun{kind: "enablement", why: stoppedText(m.applyErr), done: m.dash.done, total: len(m.dash.stores)}
		if m.preview != nil {
			st.preview = *m.preview
			if m.preview.Rotation != nil {
				st.kind = "rotation"
			}
		}
		m.goHome()
		m.stopped = st
		return m.start(opJournal, journalCmd(m.ctx, m.driver))
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

// keyTyped handles keys while the operator types the confirmation of a
// typed option: enter takes it only when the text is exactly yes; esc goes
// back to the options (the safe one selected again).
func (m *Model) keyTyped(msg tea.KeyPressMsg) tea.Cmd {
	d := &m.dash
	dec := d.decision.Decision
	switch msg.Code {
	case tea.KeyEscape:
		d.typing = false
		m.typed.Blur()
		d.ask(*d.decision)
		return nil
	case tea.KeyEnter:
		if v := strings.TrimSpace(m.typed.Value()); v != "yes" {
			m.err = fmt.Errorf("%q is not yes: type yes to %s, or esc to keep it", v, dec.Typed)
			return nil
		}
		reply := d.decision.reply
		d.decision, d.typing = nil, false
		m.typed.Blur()
		return answer(reply, dec.Typed)
	case tea.KeyPgUp, tea.KeyPgDown:
		m.sizeTyped()
		m.decScroll.key(msg, m.keys, false)
		return nil
	}
	var cmd tea.Cmd
	m.typed, cmd = m.typed.Update(msg)
	return cmd
}

// typedPanel is a decision with a typed option (revoking the old key): the
// question, what the option destroys, then the choice; the dashboard's
// body while it is asked, scrolled when it does not fit.
func (m *Model) typedPanel(w int) string {
	st, d := m.styles, &m.dash
	dec := d.decision.Decision
	var b strings.Builder
	b.WriteString(st.Warn.Render(fmt.Sprintf("%d/%d stores done · one decision left", d.done, len(d.stores))) + "\n\n")
	b.WriteString(renderLines(st.Bold, "Decision: "+dec.Question, w) + "\n\n")
	if len(dec.Consequences) > 0 {
		b.WriteString(st.Fail.Render("What "+dec.Typed+" does:") + "\n")
		for _, c := range dec.Consequences {
			b.WriteString(hang("  • "+c, w, 4) + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// sizeTyped lays the typed decision's panel out in the room the dashboard
// gives it, as its view does, so scrolling keys act on what is on screen.
func (m *Model) sizeTyped() bool {
	w, h := max(m.width, 20), max(m.height, 6)
	h -= lipHeight(m.header(w)) + lipHeight(m.banner(w)) + 1
	m.decScroll.set(m.typedPanel(w), w, max(1, h-lipHeight(m.typedFooter(w))))
	return true
}

// typedFooter is the choice under a typed decision's panel, pinned so it
// stays on screen while the panel scrolls: the options, or the field where
// yes is typed.
func (m *Model) typedFooter(w int) string {
	st, d := m.styles, &m.dash
	dec := d.decision.Decision
	var b strings.Builder
	if d.typing {
		b.WriteString(renderLines(st.Fail, "Type yes to "+dec.Typed+", esc to go back (anything else keeps it):", w) + "\n")
		b.WriteString(m.typed.View())
	} else {
		var opts []string
		for i, o := range dec.Options {
			label := fmt.Sprintf("%d %s", i+1, o)
			switch o {
			case dec.Typed:
				label += " (type yes)"
			case dec.Default:
				label += " (default)"
			}
			if i == d.decisionIdx {
				label = st.Selected.Render("[" + label + "]")
			} else {
				label = " " + label + " "
			}
			opts = append(opts, label)
		}
		b.WriteString(wrap(strings.Join(opts, "  ")+"  "+st.Subtle.Render("←/→ choose · enter confirm"), w))
	}
	if s := m.status(); s != "" {
		b.WriteString("\n" + renderLines(lipgloss.NewStyle(), s, w))
	}
	return b.String()
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
		if m.applyErr != nil && m.opts.Home {
			return []key.Binding{with(k.Next, "home (resume from there)"), k.Details, k.Metrics, k.Up, k.Down, k.Quit}
		}
		return []key.Binding{with(k.Next, "verification"), k.Details, k.Metrics, k.Up, k.Down, k.Quit}
	}
	b := []key.Binding{}
	switch {
	case m.dash.decision != nil && m.dash.typing:
		return []key.Binding{with(k.Next, "confirm (only yes revokes)"), with(k.Back, "back to the options")}
	case m.dash.decision != nil:
		b = append(b, with(k.Next, "confirm decision"), with(k.Left, "option"))
		if m.dash.decision.Decision.Typed != "" {
			b = append(b, with(k.PageDown, "scroll what it destroys (↓ too)"))
		}
	}
	pause := with(k.Pause, "pause")
	if m.dash.paused {
		pause = with(k.Pause, "resume")
	}
	return append(b, pause, with(k.Abort, "abort (safe)"), k.Details, k.Metrics, k.Up, k.Down, with(k.Back, "follow"))
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
