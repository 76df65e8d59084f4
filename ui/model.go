package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/steps"
)

// Screen is one page of the wizard.
type Screen int

// Screens, in the order the enable flow visits them.
const (
	ScreenLoading Screen = iota // reading the journal
	ScreenResume                // an unfinished run was found
	ScreenConnect
	ScreenAlgorithm
	ScreenBackend
	ScreenPlan
	ScreenDashboard
	ScreenVerify
	ScreenSchedule
	ScreenReport
	ScreenHome  // the journeys (Options.Home)
	ScreenAudit // the audit journey's findings and report
)

// String names the screen as its header does.
func (s Screen) String() string {
	switch s {
	case ScreenLoading:
		return "Starting"
	case ScreenResume:
		return "Unfinished run"
	case ScreenConnect:
		return "Connect"
	case ScreenAlgorithm:
		return "Algorithm"
	case ScreenBackend:
		return "Key backend"
	case ScreenPlan:
		return "Plan review"
	case ScreenDashboard:
		return "Rollout"
	case ScreenVerify:
		return "Verification"
	case ScreenSchedule:
		return "Rotation schedule"
	case ScreenReport:
		return "Report"
	case ScreenHome:
		return "Home"
	case ScreenAudit:
		return "Audit"
	}
	return "?"
}

// Options configure the wizard.
type Options struct {
	// Accessible runs prompts as plain line-by-line questions (huh's accessible mode).
	Accessible bool
	// Out is where the program draws: stderr, so stdout stays for data.
	Out io.Writer
	// In is the keyboard; nil means the terminal.
	In io.Reader
	// Environ is the environment for colour detection (NO_COLOR); nil means os.Environ().
	Environ []string
	// Prefill pre-fills the Connect screen.
	Prefill ConnectInput
	// Signer pre-selects the report signer (file, vault or aws; "" = file) and
	// SignerKeys pre-fill the signing key each signer kind names (the demo's
	// transit key or KMS key).
	Signer     string
	SignerKeys map[string]string
	// Rotate runs the master-key rotation flow (NewRotate).
	Rotate bool
	// Incident marks the rotation as an emergency after a suspected key compromise.
	Incident bool
	// PlanPath is the default path offered when saving the plan.
	PlanPath string
	// Home starts on the home screen: the journeys (first-time enablement,
	// incident key rotation, audit evidence, resume), and a finished journey
	// goes back there instead of quitting.
	Home bool
	// LeaderPoll is how often the dashboard reads leader counts from a Driver
	// that is a LeaderCounter; 0 means every second.
	LeaderPoll time.Duration
}

// ErrClosed is returned by Run when the operator leaves before applying anything.
var ErrClosed = errors.New("the wizard was closed before the rollout; nothing was changed")

// rotationPeriods are the data-key rotation presets, in TiKV's ReadableDuration
// form (units d, h, m, s, ms, us: tikv.ErrDurationParse); index 2 is TiKV's
// default (tikv.DefaultDataKeyRotationPeriod, components/encryption/src/config.rs).
func rotationPeriods() []string {
	return []string{"1d", "3d", tikv.DefaultDataKeyRotationPeriod, "14d", "30d"}
}

// Model is the wizard's top-level bubbletea model.
type Model struct {
	ctx     context.Context
	driver  Driver
	opts    Options
	decider *Decider
	keys    keyMap
	styles  Styles
	width   int
	height  int

	screen Screen
	busy   string // the operation in flight, "" when idle
	err    error  // the last failure, shown on the screen
	notice string // a one-line confirmation ("plan saved to ...")
	spin   spinner.Model
	help   help.Model

	form     *huh.Form
	formKind formKind
	formVals *formValues
	bg       tea.Msg // the terminal's BackgroundColorMsg, replayed to new forms

	unfinished *Unfinished
	connect    ConnectInput
	disc       *Discovery
	algos      []AlgorithmOption
	algoIdx    int
	rotIdx     int
	backends   []BackendOption
	backendIdx int
	fields     map[string]string // the selected backend's answers
	checks     []steps.Check
	checked    bool
	// backendSaved keeps each other backend's answers, preflight and error
	// (selectBackend), so no form shows another backend's state.
	backendSaved map[string]backendState
	signer       string            // the report signer chosen on the backend form
	signerKeys   map[string]string // the signing key per signer kind

	preview      *PlanPreview
	diffIdx      int
	diffLines    []string // the selected node's diff, coloured
	confirmApply bool

	applying      bool
	applyCancel   context.CancelFunc
	applyFinished chan struct{} // closed by the apply command when Apply returned
	eventsOpen    bool          // the run's events are still being drained (until eventsClosedMsg)
	heldApply     *resultMsg    // Apply's answer, held until the events are drained
	gate          *StepGate
	events        *steps.Buffered
	confirmAbort  bool
	dash          dashboard
	result        *steps.Result
	applyErr      error
	applyDone     bool
	pollGen       int // the leader-count poll loop of the current rollout

	evidence []StoreEvidence
	sched    []ScheduleOption
	schedIdx int
	report   *ReportFiles
	quitting bool

	journey journey
	homeIdx int
	stopped *stoppedRun // this session's last rollout, when it stopped unfinished
	audit   *AuditResult

	scroll     scroller // the current screen's body (widgets.go)
	scrollOn   Screen   // the screen scroll belongs to; another screen starts at the top
	helpOpen   bool     // the full key help (?) is on show
	helpScroll scroller
	decScroll  scroller        // a typed decision's panel on the dashboard
	typed      textinput.Model // where the operator types yes
}

// New returns the enable wizard. decider answers the engine's decisions
// (NewDecider over the program's Send); when nil, decisions follow the plan's
// policies (steps.PolicyDecider).
func New(ctx context.Context, d Driver, opts Options, decider *Decider) *Model {
	m := &Model{
		ctx: ctx, driver: d, opts: opts, decider: decider,
		keys: newKeyMap(), styles: NewStyles(true), width: 80, height: 24,
		spin: spinner.New(spinner.WithSpinner(spinner.Dot)), help: help.New(),
		connect: opts.Prefill, rotIdx: 2, scroll: newScroller(), helpScroll: newScroller(), decScroll: newScroller(), typed: newTypedInput(),
	}
	if m.connect.Environment == "" {
		m.connect.Environment = steps.EnvProduction
	}
	if m.opts.PlanPath == "" {
		m.opts.PlanPath = "plan.toml"
	}
	m.help.Styles = m.styles.Help
	m.dash.incident = opts.Incident
	m.dash.rotate = opts.Rotate
	return m
}

// NewRotate returns the master-key rotation flow for an existing plan: connect
// (pre-filled from the plan), the rotation preview (current and new
// generation, the two passes, revocation), then the same dashboard,
// verification, schedule and report screens, with a rotation (or incident)
// banner. The backend is the plan's: a rotation makes a new generation in it.
func NewRotate(ctx context.Context, d Driver, opts Options, decider *Decider) *Model {
	opts.Rotate = true
	return New(ctx, d, opts, decider)
}

// newTypedInput is the field a typed confirmation is typed into.
func newTypedInput() textinput.Model {
	t := textinput.New()
	t.Prompt = "> "
	t.CharLimit = 16
	t.SetWidth(20)
	return t
}

// Screen returns the screen on show.
func (m *Model) Screen() Screen { return m.screen }

// Busy returns the operation in flight, "" when idle.
func (m *Model) Busy() string { return m.busy }

// Err returns the last error shown.
func (m *Model) Err() error { return m.err }

// Result returns the rollout's result and error once Apply returned.
func (m *Model) Result() (*steps.Result, error) { return m.result, m.applyErr }

// Report returns the report files once written.
func (m *Model) Report() *ReportFiles { return m.report }

// Choices returns what the operator chose so far.
func (m *Model) Choices() Choices {
	c := Choices{Connect: m.connect, DataKeyRotation: rotationPeriods()[m.rotIdx], Rotate: m.opts.Rotate, Incident: m.opts.Incident}
	if m.disc != nil {
		c.Discovery = *m.disc
	}
	if m.algoIdx < len(m.algos) && !m.opts.Rotate {
		c.Method = m.algos[m.algoIdx].Method
	}
	if m.backendIdx < len(m.backends) {
		c.Backend = m.backends[m.backendIdx].Name
	}
	c.BackendFields = make(map[string]string, len(m.fields))
	for k, v := range m.fields {
		c.BackendFields[k] = v
	}
	c.Signer, c.SignerKey = m.signerChoice()
	return c
}

// flow returns the screens of the current flow, for "step i of n".
func (m *Model) flow() []Screen {
	switch {
	case m.screen == ScreenHome:
		return nil
	case m.journey == journeyAudit:
		return []Screen{ScreenConnect, ScreenAudit}
	}
	if m.opts.Rotate {
		return []Screen{ScreenConnect, ScreenPlan, ScreenDashboard, ScreenVerify, ScreenSchedule, ScreenReport}
	}
	return []Screen{ScreenConnect, ScreenAlgorithm, ScreenBackend, ScreenPlan, ScreenDashboard, ScreenVerify, ScreenSchedule, ScreenReport}
}

// Init reads the journal and asks the terminal for its background colour.
func (m *Model) Init() tea.Cmd {
	m.busy = opJournal
	return tea.Batch(tea.RequestBackgroundColor, m.spin.Tick, journalCmd(m.ctx, m.driver))
}

// Update handles one message. A screen change starts the new screen's body
// at its top.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	mm, cmd := m.update(msg)
	if m.screen != m.scrollOn {
		m.scroll, m.scrollOn = newScroller(), m.screen
	}
	return mm, cmd
}

func (m *Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, m.toForm(msg)
	case tea.BackgroundColorMsg:
		m.bg = msg
		m.styles = NewStyles(msg.IsDark())
		m.help.Styles = m.styles.Help
		m.renderDiff()
		return m, m.toForm(msg)
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case formDoneMsg:
		return m, m.formDone(msg.kind, msg.vals, msg.err)
	case DecisionMsg:
		m.dash.ask(msg)
		m.decScroll = newScroller()
		return m, nil
	case eventMsg:
		m.dash.apply(msg.e)
		return m, waitEvent(m.events)
	case eventsClosedMsg:
		// Every event of the run is on the dashboard: its end may show now.
		m.eventsOpen = false
		if held := m.heldApply; held != nil {
			m.heldApply = nil
			return m, m.handleResult(*held)
		}
		return m, nil
	case leadersMsg:
		return m, m.leadersRead(msg)
	case leadersTickMsg:
		if msg.gen == m.pollGen && !m.applyDone {
			return m, m.pollLeaders()
		}
		return m, nil
	case resultMsg:
		if msg.op == opApply && m.eventsOpen {
			// Apply returned before the dashboard took its last events (a
			// rollback's, a release's): the end waits for them, or it would
			// say where each store stands from a state the run already left.
			m.heldApply = &msg
			return m, nil
		}
		return m, m.handleResult(msg)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	}
	return m, m.toForm(msg)
}

// toForm forwards a message to the embedded form, if any, and reacts to its end.
func (m *Model) toForm(msg tea.Msg) tea.Cmd {
	if m.form == nil {
		return nil
	}
	f, cmd := m.form.Update(msg)
	if ff, ok := f.(*huh.Form); ok {
		m.form = ff
	}
	switch m.form.State {
	case huh.StateCompleted:
		kind, vals := m.formKind, m.formVals
		m.form, m.formVals = nil, nil
		return tea.Batch(cmd, m.formDone(kind, vals, nil))
	case huh.StateAborted:
		m.form, m.formVals = nil, nil
		return cmd
	}
	return cmd
}

func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	if msg.String() == "ctrl+c" {
		if m.applying && !m.applyDone {
			if m.confirmAbort {
				return m.abort()
			}
			m.confirmAbort = true
			return nil
		}
		m.quitting = true
		return tea.Quit
	}
	if m.helpOpen {
		return m.keyHelp(msg)
	}
	if m.form != nil {
		switch {
		case key.Matches(msg, m.keys.Back): // cancel the prompt; the screen keeps "e" to reopen it
			m.form, m.formVals = nil, nil
			return nil
		case msg.String() == "f1": // "?" is text in a form's field
			m.openHelp()
			return nil
		}
		return m.toForm(msg)
	}
	if key.Matches(msg, m.keys.Help) {
		m.openHelp()
		return nil
	}
	if !m.fixedLayout() {
		w, h := m.bodySize()
		m.scroll.set(m.bodyContent(w, h), w, h)
		if m.scroll.key(msg, m.keys, m.linesScroll()) {
			return nil
		}
	}
	if m.busy != "" && m.screen != ScreenDashboard {
		if key.Matches(msg, m.keys.Quit) {
			m.quitting = true
			return tea.Quit
		}
		return nil
	}
	if p := pageOf(m.screen); p != nil {
		return p.key(m, msg)
	}
	return nil
}

// quitKey handles q on screens before the rollout.
func (m *Model) quitKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	if key.Matches(msg, m.keys.Quit) {
		m.quitting = true
		return tea.Quit, true
	}
	return nil, false
}

// start marks op as in flight and returns its command with the spinner.
func (m *Model) start(op string, cmd tea.Cmd) tea.Cmd {
	m.busy, m.err, m.notice = op, nil, ""
	return cmd
}

// Outcome returns what Run reports for this final model.
func (m *Model) Outcome() error {
	switch {
	case m.applyErr != nil:
		return m.applyErr
	case m.applying && m.result != nil:
		return nil
	case !m.applying:
		return ErrClosed
	}
	return nil
}

// View draws the screen.
func (m *Model) View() tea.View {
	var v tea.View
	v.AltScreen = !m.opts.Accessible // accessible runs keep a scrollback transcript
	v.WindowTitle = "tikv-ear · " + m.screen.String()
	if m.quitting {
		v.AltScreen = false
		v.SetContent("")
		return v
	}
	v.SetContent(m.render())
	return v
}

// render composes header, banner, body and help to exactly the window size.
// The body scrolls (widgets.go) unless the screen lays itself out (the
// dashboard, a form); a screen's footer (a confirmation) stays below it.
func (m *Model) render() string {
	w, h := max(m.width, 20), max(m.height, 6)
	header := m.header(w)
	banner := m.banner(w)
	bodyH := h - lipHeight(header) - lipHeight(banner) - 1
	overflow := false
	var body string
	switch {
	case m.helpOpen:
		s := m.helpScroll
		s.set(m.helpText(w), w, bodyH)
		body, overflow = s.view(m.styles), s.overflows()
	case m.fixedLayout():
		body = fit(m.body(w, bodyH), w, bodyH)
	default:
		foot := m.footer(w)
		fh := 0
		if foot != "" {
			fh = lipHeight(foot)
		}
		s := m.scroll
		s.set(m.bodyContent(w, bodyH-fh), w, max(1, bodyH-fh))
		body, overflow = s.view(m.styles), s.overflows()
		if foot != "" {
			body = pad(body, bodyH-fh) + "\n" + foot
		}
	}
	return strings.Join([]string{header, banner, pad(fit(body, w, bodyH), bodyH), m.helpLine(w, overflow)}, "\n")
}

// helpLine is the short help: "? all keys" first, so it is never the part
// cut, then the screen's keys, and the scroll keys when the body overflows.
func (m *Model) helpLine(w int, overflow bool) string {
	k := m.keys
	b := []key.Binding{k.Help}
	if m.form != nil {
		b = []key.Binding{key.NewBinding(key.WithKeys("f1"), key.WithHelp("f1", "all keys"))}
	}
	if overflow {
		b = append(b, with(k.PageDown, "scroll"))
	}
	if m.helpOpen {
		b = []key.Binding{with(k.Help, "close help"), with(k.Back, "close")}
	} else {
		b = append(b, m.bindings()...)
	}
	return fit(m.help.ShortHelpView(b), w, 1)
}

// bodySize is the room the current screen's scrolled body has.
func (m *Model) bodySize() (w, h int) {
	w, h = max(m.width, 20), max(m.height, 6)
	h -= lipHeight(m.header(w)) + lipHeight(m.banner(w)) + 1
	if f := m.footer(w); f != "" {
		h -= lipHeight(f)
	}
	return w, max(1, h)
}

// fixedLayout reports whether the screen lays itself out in its room
// instead of scrolling (the dashboard; a form, which huh scrolls).
func (m *Model) fixedLayout() bool {
	return m.form != nil || m.screen == ScreenDashboard || m.screen == ScreenLoading
}

// linesScroll reports whether ↑/↓ scroll the body: on screens without a
// selection for them to move.
func (m *Model) linesScroll() bool {
	switch m.screen {
	case ScreenConnect, ScreenPlan, ScreenVerify, ScreenReport, ScreenResume, ScreenAudit:
		return true
	}
	return false
}

// footerPage is a page with lines pinned below its scrolled body.
type footerPage interface {
	footer(m *Model, w int) string
}

func (m *Model) footer(w int) string {
	if m.form != nil || m.helpOpen {
		return ""
	}
	if p, ok := pageOf(m.screen).(footerPage); ok {
		return strings.TrimRight(p.footer(m, w), "\n")
	}
	return ""
}

// bodyContent is the whole body of a scrolled screen: all of it, the
// scroller shows the part that fits.
func (m *Model) bodyContent(w, h int) string { return m.body(w, h) }

// openHelp shows the full key help of the current screen.
func (m *Model) openHelp() {
	m.helpOpen, m.helpScroll = true, newScroller()
}

// keyHelp handles keys while the full help is open: scroll, or close.
func (m *Model) keyHelp(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Help) || key.Matches(msg, m.keys.Back) || key.Matches(msg, m.keys.Quit) {
		m.helpOpen = false
		return nil
	}
	w, h := max(m.width, 20), max(m.height, 6)
	h -= lipHeight(m.header(w)) + lipHeight(m.banner(w)) + 1
	m.helpScroll.set(m.helpText(w), w, max(1, h))
	m.helpScroll.key(msg, m.keys, true)
	return nil
}

// helpText is the full help of the current screen.
func (m *Model) helpText(w int) string {
	h := m.help
	h.SetWidth(w)
	return fullHelp(m.styles, h, m.keys.helpGroups(m.bindings()))
}

func lipHeight(s string) int { return strings.Count(s, "\n") + 1 }

func (m *Model) header(w int) string {
	st := m.styles
	name := "enable encryption at rest"
	switch {
	case m.screen == ScreenHome:
		name = "encryption at rest for TiKV"
	case m.journey == journeyAudit:
		name = "audit evidence (read-only)"
	case m.opts.Rotate:
		name = "rotate the master key"
	}
	left := st.Title.Render("tikv-ear") + " " + st.Subtle.Render("· "+name)
	right := m.screen.String()
	for i, s := range m.flow() {
		if s == m.screen {
			right = fmt.Sprintf("step %d/%d · %s", i+1, len(m.flow()), m.screen)
		}
	}
	right = st.Step.Render(right)
	gap := w - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 1 {
		return ansi.Truncate(left+" "+right, w, "…")
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) banner(w int) string {
	st := m.styles
	var lines []string
	if m.opts.Incident {
		lines = append(lines, renderLines(st.Incident, " INCIDENT · the current master key is treated as compromised ", w))
	}
	// Each banner fits 80 columns whole; narrower terminals wrap it.
	switch {
	case !m.applying:
		lines = append(lines, renderLines(st.Safe, "○ Read-only so far: nothing on the hosts changes until you apply.", w))
	case !m.applyDone:
		lines = append(lines, renderLines(st.Live, "● Rollout in progress: TiKV configs and processes are changing.", w))
	default:
		lines = append(lines, renderLines(st.Subtle, "■ The rollout has ended; the screens below only read.", w))
	}
	return strings.Join(lines, "\n")
}

// body draws the current screen into w×h.
func (m *Model) body(w, h int) string {
	if m.form != nil {
		return m.formView(w, h)
	}
	if p := pageOf(m.screen); p != nil {
		return p.view(m, w, h)
	}
	return ""
}

// status returns the busy/error/notice line of a screen.
func (m *Model) status() string {
	switch {
	case m.busy != "":
		return m.spin.View() + " " + busyText(m.busy)
	case m.err != nil:
		// Wrapped to the screen, never cut, with the engine's hints: an
		// error is what the operator acts on.
		w := max(m.width, 20)
		s := renderLines(m.styles.Fail, IconFail+" "+m.err.Error(), w, 2)
		var e *steps.Error
		if errors.As(m.err, &e) {
			for _, hint := range e.Hints {
				s += "\n" + renderLines(m.styles.Subtle, "  hint: "+hint, w, 8)
			}
		}
		return s
	case m.notice != "":
		return m.styles.Pass.Render(IconPass + " " + m.notice)
	}
	return ""
}

// bindings are the help keys for the current screen.
func (m *Model) bindings() []key.Binding {
	k := m.keys
	if m.form != nil {
		return []key.Binding{with(k.Next, "next field"), with(k.Back, "cancel"), key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))}
	}
	switch m.screen {
	case ScreenResume:
		return []key.Binding{k.ResumeRun, k.AbortRun, k.NewRun, k.Quit}
	case ScreenConnect:
		if m.disc == nil {
			return []key.Binding{with(k.Edit, "enter settings"), k.Quit}
		}
		return []key.Binding{k.Next, with(k.Edit, "edit settings"), with(k.Retry, "discover again"), k.Quit}
	case ScreenAlgorithm:
		return []key.Binding{with(k.Next, "choose"), k.Up, k.Down, with(k.Left, "data-key period"), k.Right, k.Back, k.Quit}
	case ScreenBackend:
		if m.checked {
			return []key.Binding{with(k.Next, "review the plan"), with(k.Edit, "edit fields"), with(k.Retry, "preflight again"), with(k.Save, "report signer"), k.Up, k.Down, k.Back, k.Quit}
		}
		return []key.Binding{with(k.Next, "choose"), with(k.Save, "report signer"), k.Up, k.Down, k.Back, k.Quit}
	case ScreenPlan:
		if m.confirmApply {
			if m.opts.Rotate {
				return []key.Binding{with(k.Yes, "rotate now"), with(k.No, "not yet")}
			}
			return []key.Binding{with(k.Yes, "apply now"), with(k.No, "not yet")}
		}
		if m.opts.Rotate {
			return []key.Binding{with(k.Next, "rotate…"), k.Back, k.Quit}
		}
		return []key.Binding{with(k.Next, "apply…"), k.Save, k.Tab, k.Back, k.Quit, k.ShiftTab}
	case ScreenDashboard:
		return m.dashBindings()
	case ScreenVerify:
		if m.applyErr != nil { // a run that stopped: no schedule, no report (screen_verify.go)
			return []key.Binding{k.Quit}
		}
		return []key.Binding{with(k.Next, "rotation schedule"), k.Quit}
	case ScreenSchedule:
		return []key.Binding{with(k.Next, "write the report"), k.Up, k.Down, key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←/→", "period")), k.Quit}
	case ScreenReport, ScreenAudit:
		if m.opts.Home {
			return []key.Binding{with(k.Next, "home"), k.Quit}
		}
		return []key.Binding{with(k.Quit, "done")}
	case ScreenHome:
		return []key.Binding{with(k.Next, "start"), with(k.Up, "previous"), with(k.Down, "next"), k.Quit}
	}
	return []key.Binding{k.Quit}
}

// fit truncates every line to w cells and keeps at most h lines.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if h >= 0 && len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	return strings.Join(lines, "\n")
}

// wrap breaks s into lines of at most w cells between words, instead of
// cutting it with "…". It never breaks at a hyphen (TiKV keys such as
// previous-master-key stay whole); a word wider than w breaks after its
// slashes (a path), and only what is still too wide is cut hard.
func wrap(s string, w int) string {
	w = max(w, 1)
	if ansi.StringWidth(s) <= w {
		return s
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		out = append(out, wrapLine(para, w)...)
	}
	return strings.Join(out, "\n")
}

func wrapLine(s string, w int) []string {
	var lines []string
	line, lw := "", 0
	flush := func() {
		lines = append(lines, line)
		line, lw = "", 0
	}
	for i, word := range strings.Split(s, " ") {
		ww := ansi.StringWidth(word)
		sep := 0
		if i > 0 {
			sep = 1
		}
		switch {
		case lw+sep+ww <= w:
			if i > 0 {
				line += " "
			}
			line, lw = line+word, lw+sep+ww
			continue
		case ww == 0: // a run of spaces at a break: drop it
			continue
		case lw > 0 && ww <= w:
			flush()
			line, lw = word, ww
			continue
		}
		// A word wider than the room: break it after its slashes.
		if lw > 0 && i > 0 {
			line, lw = line+" ", lw+1
		}
		for _, part := range splitAfterSlash(word) {
			pw := ansi.StringWidth(part)
			if lw+pw > w && lw > 0 {
				flush()
			}
			for pw > w { // a segment wider than a whole line
				lines = append(lines, ansi.Cut(part, 0, w))
				part = ansi.Cut(part, w, pw)
				pw = ansi.StringWidth(part)
			}
			line, lw = line+part, lw+pw
		}
	}
	return append(lines, line)
}

// splitAfterSlash splits a path into pieces that each end in "/" (the last
// may not).
func splitAfterSlash(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "/")
		if i < 0 || i == len(s)-1 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
}

// renderLines wraps s to w cells (hanging by ind[0] when given) and styles
// each line on its own, so no line is padded to the widest one.
func renderLines(style lipgloss.Style, s string, w int, ind ...int) string {
	if len(ind) > 0 {
		s = hang(s, w, ind[0])
	} else {
		s = wrap(s, w)
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = style.Render(l)
	}
	return strings.Join(lines, "\n")
}

// hang wraps s to w cells with every line after the first indented by ind
// spaces, so a wrapped value stays under its label.
func hang(s string, w, ind int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	if w-ind < 10 {
		return wrap(s, w)
	}
	lines := strings.Split(wrap(s, w-ind), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = strings.Repeat(" ", ind) + strings.TrimLeft(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

// indented wraps s to w-ind cells and indents every line by ind spaces,
// each line styled on its own.
func indented(style lipgloss.Style, s string, w, ind int) string {
	lines := strings.Split(wrap(s, max(10, w-ind)), "\n")
	for i, l := range lines {
		lines[i] = strings.Repeat(" ", ind) + style.Render(l)
	}
	return strings.Join(lines, "\n")
}

// pad adds empty lines up to h.
func pad(s string, h int) string {
	n := lipHeight(s)
	if n >= h {
		return s
	}
	return s + strings.Repeat("\n", h-n)
}

// padRight pads a styled string to w cells.
func padRight(s string, w int) string {
	n := ansi.StringWidth(s)
	if n >= w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-n)
}
