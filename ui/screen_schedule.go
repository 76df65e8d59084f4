package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func (m *Model) keySchedule(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Up):
		m.schedIdx = max(0, m.schedIdx-1)
	case key.Matches(msg, m.keys.Down):
		m.schedIdx = min(len(m.sched)-1, m.schedIdx+1)
	case key.Matches(msg, m.keys.Left), key.Matches(msg, m.keys.Right):
		m.stepSchedulePeriod(key.Matches(msg, m.keys.Right))
	case key.Matches(msg, m.keys.Next) && m.preview != nil && m.applyErr == nil: // no report for a run that stopped
		p := *m.preview
		if m.schedIdx < len(m.sched) {
			s := m.sched[m.schedIdx]
			p.Schedule = &s
		}
		return m.start(opReport, reportCmd(m.ctx, m.driver, m.result, p))
	}
	return nil
}

// SchedulePeriods are the master-key rotation periods ←/→ step through on
// the Schedule screen (whole days, as plan.toml's [schedule]
// master-key-rotation takes them; NIST SP 800-57 Pt1 suggests at most 730d).
var SchedulePeriods = [...]string{"30d", "90d", "180d", "365d", "730d"}

// stepSchedulePeriod moves the period of every schedule tikv-ear runs
// (systemd, cron, Kubernetes, manual) one step shorter or longer; a KMS's
// own rotation keeps the period its option was built with.
func (m *Model) stepSchedulePeriod(longer bool) {
	for i := range m.sched {
		o := &m.sched[i]
		if o.KMSNative {
			continue
		}
		idx := -1
		for j, p := range SchedulePeriods {
			if p == o.Period {
				idx = j
			}
		}
		switch {
		case idx < 0 && longer:
			idx = len(SchedulePeriods) - 1
		case idx < 0:
			idx = 0
		case longer:
			idx = min(len(SchedulePeriods)-1, idx+1)
		default:
			idx = max(0, idx-1)
		}
		o.Period = SchedulePeriods[idx]
	}
}

func (m *Model) viewSchedule(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(wrap(st.Bold.Render("Keep the master key rotating")+st.Subtle.Render("  (TiKV rotates data keys itself; the master key needs a schedule)"), w) + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	for i, o := range m.sched {
		cur := "  "
		title := o.Title
		if i == m.schedIdx {
			cur, title = st.Selected.Render(IconCursor+" "), st.Selected.Render(title)
		}
		what := " · every " + o.Period
		if kind := scheduleKind(o); !strings.Contains(strings.ToLower(o.Title), strings.ToLower(kind)) { // "Kubernetes CronJob" says it already
			what += " · " + kind
		}
		fmt.Fprintf(&b, "%s%s\n", cur, hang(title+st.Subtle.Render(what), w-2, 2))
	}
	if m.schedIdx < len(m.sched) {
		o := m.sched[m.schedIdx]
		b.WriteString("\n")
		if o.Artefact != "" {
			b.WriteString(hang("file     "+o.Artefact, w, 9) + "\n")
		}
		if o.Install != "" {
			b.WriteString(hang("install  "+o.Install, w, 9) + "\n")
		}
		if o.Notes != "" {
			b.WriteString(renderLines(st.Subtle, "note     "+o.Notes, w, 9) + "\n")
		}
	}
	return b.String()
}

// scheduleKind names what a schedule option is, for a newcomer.
func scheduleKind(o ScheduleOption) string {
	switch {
	case o.KMSNative:
		return "built into the key service"
	case o.ID == "systemd":
		return "systemd timer"
	case o.ID == "cron":
		return "cron line"
	case o.ID == "kubernetes" || o.ID == "cronjob":
		return "Kubernetes CronJob"
	case o.ID == "manual" || o.Artefact == "":
		return "manual"
	}
	return "file to install"
}

// schedulePage is the Schedule screen: how the master key keeps rotating.
type schedulePage struct{}

func (schedulePage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keySchedule(msg) }
func (schedulePage) view(m *Model, w, h int) string            { return m.viewSchedule(w, h) }
