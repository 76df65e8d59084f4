package ui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func (m *Model) keyResume(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	u := m.unfinished
	switch {
	case key.Matches(msg, m.keys.ResumeRun):
		p := u.Preview
		m.preview = &p
		return m.startApply()
	case key.Matches(msg, m.keys.AbortRun):
		return m.start(opAbortRun, abortUnfinishedCmd(m.ctx, m.driver, *u))
	case key.Matches(msg, m.keys.Back) && m.opts.Home:
		return m.goHome()
	case key.Matches(msg, m.keys.NewRun):
		m.unfinished = nil
		if m.opts.Home {
			return m.goHome()
		}
		m.screen = ScreenConnect
		return m.connectForm()
	}
	return nil
}

func (m *Model) viewResume(w, h int) string {
	st, u := m.styles, m.unfinished
	var b strings.Builder
	b.WriteString(st.Warn.Render("An earlier run did not finish.") + "\n\n")
	fmt.Fprintf(&b, "  run        %s (%s)\n", u.Run, u.Kind)
	fmt.Fprintf(&b, "  started    %s\n", u.Started.UTC().Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "  last step  %s\n", u.LastStep)
	fmt.Fprintf(&b, "  stores     %d of %d verified%s\n", u.Done, u.Total, unverifiedNote(u.Unverified))
	if len(u.Evicted) > 0 {
		ids := make([]string, len(u.Evicted))
		for i, id := range u.Evicted {
			ids[i] = fmt.Sprint(id)
		}
		b.WriteString("  " + st.Fail.Render("evict-leader scheduler still on store(s) "+strings.Join(ids, ", ")) + "\n")
	}
	b.WriteString("\n" + st.Subtle.Render("Resuming re-checks every store first: stores already done are verified, not restarted.") + "\n")
	b.WriteString(st.Subtle.Render("Cleaning up removes the run's schedulers and leaves configs as they are.") + "\n")
	if s := m.status(); s != "" {
		b.WriteString("\n" + s)
	}
	return b.String()
}

// resumePage is the Resume screen: the unfinished run the journal records: resume it or clean it up.
type resumePage struct{}

func (resumePage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyResume(msg) }
func (resumePage) view(m *Model, w, h int) string            { return m.viewResume(w, h) }

// unverifiedNote is ", store 2 restarted and not verified" for the stores an
// interrupted run restarted and never verified, "" when there are none.
func unverifiedNote(ids []uint64) string {
	if len(ids) == 0 {
		return ""
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = strconv.FormatUint(id, 10)
	}
	return ", " + storeList(names) + " restarted and not verified"
}
