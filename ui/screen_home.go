package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// journey is one of the things an operator comes to the wizard for.
type journey int

// The journeys the home screen offers, in its order.
const (
	journeyEnable   journey = iota // first-time enablement
	journeyIncident                // incident key rotation
	journeyAudit                   // audit evidence, read-only
	journeyResume                  // resume an interrupted run
)

// journeyItem is one line of the home screen.
type journeyItem struct {
	j        journey
	title    string
	summary  string
	disabled string // why it cannot be taken now, "" when it can
}

// journeys lists the home screen's items for the model's state.
func (m *Model) journeys() []journeyItem {
	items := []journeyItem{
		{j: journeyEnable, title: "First-time enablement",
			summary: "turn encryption at rest on for a plaintext cluster: choose the method and the key backend, review the plan, roll it out store by store, verify, schedule rotation, signed report"},
		{j: journeyIncident, title: "Incident key rotation",
			summary: "a master key may have leaked: a new key rolled out on the fastest safe path; revoking the old one is typed (yes) after it says what that destroys"},
		{j: journeyAudit, title: "Audit evidence",
			summary: "read-only: every store's encryption state, the key backend and the rotation policy, ending in a signed report for your auditors; nothing on the cluster changes"},
		{j: journeyResume, title: "Resume an interrupted run",
			summary: "an earlier run stopped half-way: resume it from the cluster's real state, or clean it up"},
	}
	if _, ok := m.driver.(Auditor); !ok {
		items[2].disabled = "this wizard cannot write audit reports; run 'tikv-ear audit'"
	}
	switch {
	case m.unfinished == nil && m.stopped != nil:
		st := m.stopped
		items[3].summary = fmt.Sprintf("the last %s stopped (%s) with %d of %d stores done: resuming runs its plan again from the cluster's real state; stores already on the target are verified, not restarted",
			st.kind, st.why, st.done, st.total)
	case m.unfinished == nil:
		items[3].disabled = "no interrupted run: the journal records none"
	default:
		u := m.unfinished
		items[3].summary = fmt.Sprintf("run %s (%s) stopped at %s with %d of %d stores verified%s: resume it, or clean it up", u.Run, u.Kind, u.LastStep, u.Done, u.Total, unverifiedNote(u.Unverified))
	}
	return items
}

// stoppedRun is a rollout of this session that stopped before it finished
// (aborted, or a failure the operator did not roll past): home offers to
// resume it.
type stoppedRun struct {
	preview     PlanPreview
	kind, why   string
	done, total int
}

// goHome shows the home screen with a fresh journey state: what an earlier
// journey chose, ran and wrote is forgotten (its report stays on disk).
func (m *Model) goHome() tea.Cmd {
	m.screen, m.busy, m.err, m.notice = ScreenHome, "", nil, ""
	m.journey = journeyEnable
	m.opts.Rotate, m.opts.Incident = false, false
	m.dash.rotate, m.dash.incident = false, false
	m.disc, m.algos, m.backends, m.checks, m.checked, m.preview = nil, nil, nil, nil, false, nil
	m.fields, m.confirmApply, m.diffIdx, m.diffLines = nil, false, 0, nil
	m.applying, m.applyDone, m.applyErr, m.result, m.applyCancel = false, false, nil, nil, nil
	m.evidence, m.sched, m.schedIdx, m.report, m.audit = nil, nil, 0, nil, nil
	m.homeIdx = 0
	m.pollGen++ // the last rollout's leader polling stops
	if m.unfinished != nil || m.stopped != nil {
		m.homeIdx = int(journeyResume)
	}
	return nil
}

// takeJourney starts the chosen journey at its first screen.
func (m *Model) takeJourney(j journey) tea.Cmd {
	m.journey, m.err = j, nil
	switch j {
	case journeyResume:
		if m.unfinished == nil && m.stopped != nil { // this session's stopped run: apply its plan again
			st := m.stopped
			m.stopped = nil
			p := st.preview
			m.preview = &p
			m.opts.Rotate, m.opts.Incident = p.Rotation != nil, p.Rotation != nil && p.Rotation.Incident
			m.dash.rotate, m.dash.incident = m.opts.Rotate, m.opts.Incident
			return m.startApply()
		}
		return m.start(opResumeJournal, resumeJournalCmd(m.ctx, m.driver))
	case journeyIncident:
		m.opts.Rotate, m.opts.Incident = true, true
	default:
		m.opts.Rotate, m.opts.Incident = false, false
	}
	m.dash.rotate, m.dash.incident = m.opts.Rotate, m.opts.Incident
	m.screen = ScreenConnect
	if len(m.connect.PD) > 0 || m.connect.TiUPName != "" {
		return m.start(opDiscover, discoverCmd(m.ctx, m.driver, m.connect))
	}
	return m.connectForm()
}

func (m *Model) keyHome(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	items := m.journeys()
	switch {
	case key.Matches(msg, m.keys.Up):
		m.homeIdx = max(0, m.homeIdx-1)
	case key.Matches(msg, m.keys.Down):
		m.homeIdx = min(len(items)-1, m.homeIdx+1)
	case len(msg.Text) == 1 && msg.Text[0] >= '1' && msg.Text[0] <= '4':
		m.homeIdx = int(msg.Text[0] - '1')
	case key.Matches(msg, m.keys.Next):
		it := items[m.homeIdx]
		if it.disabled != "" {
			m.err = fmt.Errorf("%s: %s", it.title, it.disabled)
			return nil
		}
		return m.takeJourney(it.j)
	}
	return nil
}

func (m *Model) viewHome(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(st.Bold.Render("What do you want to do?") + "\n\n")
	for i, it := range m.journeys() {
		cur, title := "  ", fmt.Sprintf("%d %s", i+1, it.title)
		switch {
		case it.disabled != "":
			title = st.Subtle.Render(title)
		case i == m.homeIdx:
			title = st.Selected.Render(title)
		}
		if i == m.homeIdx {
			cur = st.Selected.Render(IconCursor + " ")
		}
		b.WriteString(cur + title + "\n")
		text := it.summary
		if it.disabled != "" {
			text = it.disabled
		}
		b.WriteString(renderLines(st.Subtle, "    "+text, w, 4) + "\n")
	}
	if s := m.status(); s != "" {
		b.WriteString("\n" + s + "\n")
	}
	return b.String()
}

// homePage is the Home screen: the journeys, and resume when a run stopped.
type homePage struct{}

func (homePage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyHome(msg) }
func (homePage) view(m *Model, w, h int) string            { return m.viewHome(w, h) }
