package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/steps"
)

func (m *Model) goBackend() tea.Cmd {
	m.screen = ScreenBackend
	if m.backends != nil {
		return nil
	}
	m.backendSaved, m.fields, m.checks, m.checked = nil, nil, nil, false
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
		m.selectBackend(max(0, m.backendIdx-1))
	case key.Matches(msg, m.keys.Down):
		m.selectBackend(min(len(m.backends)-1, m.backendIdx+1))
	case key.Matches(msg, m.keys.Save):
		return m.signerForm()
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
	kind, skey := m.signerChoice()
	if skey != "" {
		kind += " · " + skey
	}
	b.WriteString(ansi.Truncate(st.Subtle.Render("Report signer: ")+kind+st.Subtle.Render("  (s to change)"), w, "…") + "\n")
	if m.checked {
		pass, warn, fail := preflightCounts(m.checks)
		fmt.Fprintf(&b, "\n%s %s %s", st.Bold.Render("Preflight"), st.Pass.Render(fmt.Sprintf("%d pass", pass)),
			st.Subtle.Render("·")+" "+st.Warn.Render(fmt.Sprintf("%d warn", warn))+" "+st.Subtle.Render("·")+" "+st.Fail.Render(fmt.Sprintf("%d fail", fail)))
		if n := len(m.checks); n != pass+warn+fail {
			b.WriteString(st.Subtle.Render(fmt.Sprintf("  (%d results, %d stores)", n, storeCount(m.checks))))
		}
		b.WriteString("\n")
		// Every row, whole: the screen scrolls (pgdn/space) instead of cutting them.
		b.WriteString(checkList(st, m.checks, w, 4*len(m.checks)+4) + "\n")
	}
	if len(m.fields) > 0 && m.checked {
		b.WriteString("\n")
		fs := m.backends[m.backendIdx].Fields
		lw := 0
		for _, f := range fs {
			if m.fields[f.Key] != "" {
				lw = max(lw, min(26, ansi.StringWidth(f.Label)))
			}
		}
		b.WriteString(st.Bold.Render("Settings") + st.Subtle.Render("  (e to edit)") + "\n")
		for _, f := range fs {
			if v := m.fields[f.Key]; v != "" {
				b.WriteString(hang(fmt.Sprintf("  %-*s  %s", lw, ansi.Truncate(f.Label, lw, "…"), v), w, lw+4) + "\n")
			}
		}
	}
	return b.String()
}

// backendState is what one backend's form and preflight left: answers,
// findings and the last error, kept apart so nothing of one backend's form
// shows on another's.
type backendState struct {
	fields  map[string]string
	checks  []steps.Check
	checked bool
	err     error
}

// selectBackend moves the cursor to backend i, keeping the current backend's
// answers, preflight and error for when the operator comes back, and showing
// only backend i's own.
func (m *Model) selectBackend(i int) {
	if i == m.backendIdx || i < 0 || i >= len(m.backends) {
		return
	}
	if m.backendSaved == nil {
		m.backendSaved = map[string]backendState{}
	}
	if m.backendIdx < len(m.backends) {
		m.backendSaved[m.backends[m.backendIdx].Name] = backendState{fields: m.fields, checks: m.checks, checked: m.checked, err: m.err}
	}
	m.backendIdx = i
	st := m.backendSaved[m.backends[i].Name]
	m.fields, m.checks, m.checked, m.err, m.notice = st.fields, st.checks, st.checked, st.err, ""
	m.scroll.reset()
}

// preflightCounts counts the rows the check list shows (one per check id,
// verdict and fix, stores grouped), so the header agrees with what is listed.
func preflightCounts(checks []steps.Check) (pass, warn, fail int) {
	for _, g := range groupChecks(checks) {
		switch g.c.Status {
		case steps.Pass:
			pass++
		case steps.Warn:
			warn++
		case steps.Fail:
			fail++
		}
	}
	return pass, warn, fail
}

// storeCount is how many distinct stores the checks name.
func storeCount(checks []steps.Check) int {
	seen := map[uint64]bool{}
	for _, c := range checks {
		if c.StoreID != 0 {
			seen[c.StoreID] = true
		}
	}
	return len(seen)
}

// backendPage is the Backend screen: the master-key backend, its settings and the preflight.
type backendPage struct{}

func (backendPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyBackend(msg) }
func (backendPage) view(m *Model, w, h int) string            { return m.viewBackend(w, h) }
