package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

func (m *Model) keyPlan(msg tea.KeyPressMsg) tea.Cmd {
	if m.confirmApply {
		switch {
		case key.Matches(msg, m.keys.Yes):
			if !m.scroll.atEnd() { // no blind confirmation: the end of the plan first
				w, h := m.bodySize()
				m.scroll.set(m.bodyContent(w, h), w, h)
				m.scroll.vp.GotoBottom()
				m.scroll.seenEnd = true
				m.notice = "this is the end of the plan (pgup scrolls back): press y again to go ahead"
				return nil
			}
			m.confirmApply, m.err = false, nil
			return m.startApply()
		case key.Matches(msg, m.keys.No):
			m.confirmApply, m.err = false, nil
		}
		return nil
	}
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	n := 0
	if m.preview != nil {
		n = len(m.preview.Diffs)
	}
	switch {
	case key.Matches(msg, m.keys.Back):
		m.screen = ScreenBackend
		if m.opts.Rotate {
			m.screen = ScreenConnect
		}
	case key.Matches(msg, m.keys.Save) && !m.opts.Rotate: // a rotation updates the plan file itself
		return m.saveForm()
	case key.Matches(msg, m.keys.Tab) && n > 0:
		m.diffIdx = (m.diffIdx + 1) % n
		m.renderDiff()
		m.showDiff()
	case key.Matches(msg, m.keys.ShiftTab) && n > 0:
		m.diffIdx = (m.diffIdx + n - 1) % n
		m.renderDiff()
		m.showDiff()
	case key.Matches(msg, m.keys.Next):
		if m.preview != nil {
			if b := steps.Blocking(m.preview.Checks); len(b) > 0 {
				m.err = fmt.Errorf("preflight failed %d check(s): fix them, then press esc and enter to check again", len(b))
				return nil
			}
		}
		m.confirmApply, m.err = true, nil
		// The confirmation takes room at the bottom: lay the body out again,
		// so "seen to the end" is judged on what is now on screen.
		w, h := m.bodySize()
		m.scroll.set(m.bodyContent(w, h), w, h)
	}
	return nil
}

// showDiff scrolls the plan so the selected diff's header is in view.
func (m *Model) showDiff() {
	w, h := m.bodySize()
	m.scroll.set(m.bodyContent(w, h), w, h)
	top := strings.Split(strings.Join(wrapBlock(strings.TrimRight(m.planTop(w), "\n"), w), "\n"), "\n")
	m.scroll.show(len(top) - 1)
}

// planTop is the part of the plan screen above the diff viewer.
func (m *Model) planTop(w int) string {
	st, p := m.styles, m.preview
	if p == nil || p.Plan == nil {
		return m.status()
	}
	var b strings.Builder
	pl := p.Plan
	target := pl.Target.Method
	if m.opts.Rotate {
		target = "new master key"
	}
	fmt.Fprintf(&b, "%s %s · %s key · %d stores · %d batches (%s)\n", st.Bold.Render("Plan"), target, pl.Target.Key.Backend, len(pl.Nodes), len(p.Batches.Batches), p.Batches.Strategy)
	if r := p.Rotation; r != nil {
		b.WriteString(rotationSummary(st, *r, w))
	}
	b.WriteString(renderLines(st.Subtle, "why: "+p.Batches.Reason, w, 5) + "\n")
	var parts []string
	for _, bt := range p.Batches.Batches {
		ids := make([]string, len(bt.Stores))
		for i, id := range bt.Stores {
			ids[i] = fmt.Sprint(id)
		}
		s := fmt.Sprintf("%d:[%s]", bt.Index, strings.Join(ids, ","))
		if bt.Canary {
			s = st.Warn.Render(s + " canary")
		} else if bt.Zone != "" && p.Batches.Strategy == steps.BatchZone {
			s += " " + bt.Zone
		}
		parts = append(parts, s)
	}
	b.WriteString(hang("batches "+strings.Join(parts, " → "), w, 8) + "\n")
	s := pl.Strategy
	b.WriteString(hang(fmt.Sprintf("timeouts evict %s · restart %s · ready %s · verify %s · settle %s · leaders back %d%%",
		s.EvictTimeout.Duration, s.RestartTimeout.Duration, s.ReadyTimeout.Duration, s.VerifyTimeout.Duration, s.SettleTimeout.Duration, s.LeaderReturnPercent), w, 9) + "\n")
	b.WriteString(hang(fmt.Sprintf("policies eviction timeout → %s · verify failure → %s %s", pl.Policies.OnEvictTimeout, pl.Policies.OnVerifyFailure,
		st.Subtle.Render("(the dashboard asks you instead)")), w, 9) + "\n")
	if len(p.Checks) > 0 { // every check, fixes whole: the plan scrolls
		b.WriteString(st.Bold.Render("Preflight") + "\n" + checkList(st, p.Checks, w, allLines) + "\n")
	}
	if !m.confirmApply {
		if s := m.status(); s != "" {
			b.WriteString(s + "\n")
		}
	}
	if len(p.Diffs) > 0 {
		d := p.Diffs[m.diffIdx]
		b.WriteString(hang(fmt.Sprintf("%s %s:%s %s", st.Bold.Render(fmt.Sprintf("diff %d/%d", m.diffIdx+1, len(p.Diffs))), d.Host, d.Path,
			st.Subtle.Render(fmt.Sprintf("store %d · tab: next node", d.StoreID))), w, 9) + "\n")
	}
	return b.String()
}

// planFooter is the confirmation, pinned below the scrolled plan: the
// operator can still scroll the batches, preflight and diffs above it, and
// y is refused until the end of the plan has been on screen.
func (m *Model) planFooter(w int) string {
	p := m.preview
	if !m.confirmApply || p == nil || p.Plan == nil {
		return ""
	}
	st := m.styles
	q := fmt.Sprintf("Apply now? This rewrites tikv.toml and restarts %d stores, batch by batch. y apply · n not yet", len(p.Plan.Nodes))
	if r := p.Rotation; r != nil {
		q = fmt.Sprintf("Rotate now? This creates %s in %s, rewrites tikv.toml and restarts %d stores, batch by batch. y rotate · n not yet", strings.TrimSuffix(r.Next, " (created when you rotate)"), r.Backend, len(p.Plan.Nodes))
	}
	if !m.scroll.atEnd() {
		q += " · the plan goes on below: read it (pgdn/space) or y shows its end first"
	}
	out := st.Decision.Width(min(w, 120)).Render(q)
	if s := m.status(); s != "" {
		out += "\n" + s
	}
	return out
}

// rotationSummary is the rotation preview: generations, then the steps.
func rotationSummary(st Styles, r RotationPreview, w int) string {
	var b strings.Builder
	b.WriteString(hang("now      master-key = "+r.Current, w, 9) + "\n")
	next := "master-key = " + r.Next + ", previous-master-key = " + r.Current
	if r.Continuing {
		next += st.Warn.Render(" (an interrupted rotation goes on)")
	}
	b.WriteString(hang("during   "+next, w, 9) + "\n")
	for i, s := range r.Steps {
		b.WriteString(hang(fmt.Sprintf("  %d. %s", i+1, s), w, 5) + "\n")
	}
	return b.String()
}

// renderDiff loads the selected node's diff, coloured.
func (m *Model) renderDiff() {
	if m.preview == nil || len(m.preview.Diffs) == 0 {
		m.diffLines = nil
		return
	}
	st := m.styles
	lines := strings.Split(strings.TrimRight(m.preview.Diffs[m.diffIdx].Unified, "\n"), "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "@@"):
			lines[i] = st.DiffMeta.Render(l)
		case strings.HasPrefix(l, "+"):
			lines[i] = st.DiffAdd.Render(l)
		case strings.HasPrefix(l, "-"):
			lines[i] = st.DiffDel.Render(l)
		}
	}
	m.diffLines = lines
}

func (m *Model) viewPlan(w, h int) string {
	top := m.planTop(w)
	if m.preview == nil || len(m.preview.Diffs) == 0 {
		return top
	}
	return top + strings.Join(m.diffLines, "\n") // the body scrolls
}

// planPage is the Plan screen: the plan to review: batches, per-node diffs, the rotation.
type planPage struct{}

func (planPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyPlan(msg) }
func (planPage) view(m *Model, w, h int) string            { return m.viewPlan(w, h) }
func (planPage) footer(m *Model, w int) string             { return m.planFooter(w) }
