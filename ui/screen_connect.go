package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func (m *Model) keyConnect(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Back) && m.opts.Home:
		return m.goHome()
	case key.Matches(msg, m.keys.Edit):
		return m.connectForm()
	case key.Matches(msg, m.keys.Retry) && (len(m.connect.PD) > 0 || m.connect.TiUPName != ""):
		return m.start(opDiscover, discoverCmd(m.ctx, m.driver, m.connect))
	case key.Matches(msg, m.keys.Next):
		if m.disc == nil {
			return m.connectForm()
		}
		if m.journey == journeyAudit { // read-only: straight to the audit, whatever discovery found
			return m.startAudit()
		}
		if len(m.disc.Blocking()) > 0 {
			m.err = fmt.Errorf("%d blocking finding(s): fix them, then press r to discover again", len(m.disc.Blocking()))
			return nil
		}
		if m.opts.Rotate { // the plan's backend makes the new generation: straight to the preview
			return m.start(opPlan, planCmd(m.ctx, m.driver, m.Choices()))
		}
		return m.goAlgorithm()
	}
	return nil
}

func (m *Model) viewConnect(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(m.connectLine(w) + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	if m.disc == nil {
		return b.String()
	}
	d := m.disc
	name := d.ClusterName
	if name == "" {
		name = fmt.Sprint(d.ClusterID)
	}
	fmt.Fprintf(&b, "%s %d stores · cluster %s\n", st.Pass.Render(IconPass), len(d.Stores), name)
	find := d.Findings
	// Every store and finding: the body scrolls when they do not fit.
	b.WriteString(storeTable(st, d.Stores, w, len(d.Stores)+1) + "\n")
	blocking := d.Blocking()
	if len(find) > 0 {
		if len(blocking) > 0 {
			b.WriteString(st.Fail.Render(fmt.Sprintf("%d blocking finding(s) — the wizard cannot go on until they are fixed:", len(blocking))) + "\n")
		}
		for _, c := range find {
			line := st.status(c.Status) + " " + c.Message
			if c.Fix != "" {
				line += st.Subtle.Render(" → " + c.Fix)
			}
			b.WriteString(hang(line, w, 2) + "\n")
		}
	}
	return b.String()
}

// connectLine says which cluster and environment: every PD endpoint when
// they fit, else the first and how many more, so the environment stays in view.
func (m *Model) connectLine(w int) string {
	st := m.styles
	env := st.Subtle.Render("  · " + m.connect.Environment)
	line := func(target string) string { return st.Bold.Render("Cluster ") + target + env }
	switch {
	case m.connect.TiUPName != "":
		return wrap(line("TiUP cluster "+m.connect.TiUPName), w)
	case len(m.connect.PD) == 0:
		return line("(not set: press e)")
	}
	full := line(strings.Join(m.connect.PD, ", "))
	if ansi.StringWidth(full) <= w || len(m.connect.PD) == 1 {
		return wrap(full, w)
	}
	return wrap(line(fmt.Sprintf("%s (+%d more PD)", m.connect.PD[0], len(m.connect.PD)-1)), w)
}

// connectPage is the Connect screen: how to reach the cluster, and what discovery found.
type connectPage struct{}

func (connectPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyConnect(msg) }
func (connectPage) view(m *Model, w, h int) string            { return m.viewConnect(w, h) }
