package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

func (m *Model) goBackend() tea.Cmd {
	m.screen = ScreenBackend
	if m.backends != nil {
		return nil
	}
	return m.start(opBackends, backendsCmd(m.ctx, m.driver, *m.disc, m.connect.Environment))
}

func firstEnabledBackend(bs []BackendOption) int {
	return max(0, slices.IndexFunc(bs, func(b BackendOption) bool { return !b.Disabled }))
}

func (m *Model) keyBackend(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Back):
		if m.opts.Rotate {
			m.screen = ScreenConnect
		} else {
			m.screen = ScreenAlgorithm
		}
	case key.Matches(msg, m.keys.Up):
		m.backendIdx, m.checked, m.checks = max(0, m.backendIdx-1), false, nil
	case key.Matches(msg, m.keys.Down):
		m.backendIdx, m.checked, m.checks = min(len(m.backends)-1, m.backendIdx+1), false, nil
	case key.Matches(msg, m.keys.Edit) && m.checked:
		return m.backendForm(m.backends[m.backendIdx])
	case key.Matches(msg, m.keys.Retry) && m.checked:
		return m.start(opPreflight, preflightCmd(m.ctx, m.driver, m.Choices()))
	case key.Matches(msg, m.keys.Next):
		if len(m.backends) == 0 {
			return nil
		}
		b := m.backends[m.backendIdx]
		if b.Disabled {
			m.err = fmt.Errorf("%s is not available: %s", b.Name, b.Reason)
			return nil
		}
		if !m.checked {
			return m.backendForm(b)
		}
		if n := len(steps.Blocking(m.checks)); n > 0 {
			m.err = fmt.Errorf("preflight failed %d check(s): fix them and press r, or choose another backend", n)
			return nil
		}
		return m.start(opPlan, planCmd(m.ctx, m.driver, m.Choices()))
	}
	return nil
}

func (m *Model) viewBackend(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(st.Bold.Render("Master-key backend") + st.Subtle.Render("  (wraps TiKV's data keys; environment "+m.connect.Environment+")") + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	for i, o := range m.backends {
		cur := "  "
		name := fmt.Sprintf("%-6s", o.Name)
		switch {
		case o.Disabled:
			name = st.Disabled.Render(name)
		case i == m.backendIdx:
			name = st.Selected.Render(name)
		}
		if i == m.backendIdx {
			cur = st.Selected.Render(IconCursor + " ")
		}
		line := cur + name + " " + o.Title
		if o.Disabled {
			line += st.Subtle.Render(" — " + o.Reason)
		} else if o.Summary != "" {
			line += st.Subtle.Render(" — " + o.Summary)
		}
		b.WriteString(hang(line, w, 9) + "\n")
	}
	if len(m.fields) > 0 && m.checked {
		b.WriteString("\n")
		for _, f := range m.backends[m.backendIdx].Fields {
			fmt.Fprintf(&b, "  %-18s %s\n", f.Label, m.fields[f.Key])
		}
	}
	if m.checked {
		pass, warn, fail := 0, 0, 0
		for _, c := range m.checks {
			switch c.Status {
			case steps.Pass:
				pass++
			case steps.Warn:
				warn++
			case steps.Fail:
				fail++
			}
		}
		fmt.Fprintf(&b, "\n%s %s %s\n", st.Bold.Render("Preflight"), st.Pass.Render(fmt.Sprintf("%d pass", pass)),
			st.Subtle.Render("·")+" "+st.Warn.Render(fmt.Sprintf("%d warn", warn))+" "+st.Subtle.Render("·")+" "+st.Fail.Render(fmt.Sprintf("%d fail", fail)))
		b.WriteString(checkList(st, m.checks, w, max(1, h-lipHeight(b.String()))))
	}
	return b.String()
}

// backendPage is the Backend screen: the master-key backend, its settings and the preflight.
type backendPage struct{}

func (backendPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyBackend(msg) }
func (backendPage) view(m *Model, w, h int) string            { return m.viewBackend(w, h) }
