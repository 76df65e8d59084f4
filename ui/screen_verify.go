package ui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/steps"
)

func (m *Model) keyVerify(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	if key.Matches(msg, m.keys.Next) && m.preview != nil && m.applyErr == nil { // no schedule for a run that stopped
		m.screen = ScreenSchedule
		if m.sched == nil {
			return m.start(opSchedule, scheduleCmd(m.ctx, m.driver, *m.preview))
		}
	}
	return nil
}

func (m *Model) viewVerify(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(st.Bold.Render("Evidence per store") + "\n" + renderLines(st.Subtle, "from the running config, key.dict, tikv_encryption_* metrics, the log and the files on disk", w) + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	if m.applyErr != nil {
		b.WriteString(stoppedRunNotice(st, m.applyErr, w) + "\n")
	}
	ok := 0
	for _, e := range m.evidence {
		if e.OK {
			ok++
		}
	}
	if m.evidence != nil {
		fmt.Fprintf(&b, "%d of %d stores verified\n", ok, len(m.evidence))
		head := fmt.Sprintf("  %-5s %-12s %-11s %-4s %6s %5s  %-22s", "ID", "METHOD", "KEY.DICT", "INIT", "FILES", "KEYS", "ON DISK")
		b.WriteString(st.Header.Render(ansi.Truncate(head, w, "…")) + "\n")
		foot := renderLines(st.Subtle, "Files written before the switch stay plaintext until compaction rewrites them; coverage grows on its own.", w)
		for _, e := range m.evidence { // every store, its reasons whole: the body scrolls
			init := "no"
			if e.Initialized {
				init = "yes"
			}
			kd := e.KeyDict
			if kd == "" {
				kd = "absent"
			}
			line := fmt.Sprintf("%-5d %-12s %-11s %-4s %6d %5d  ", e.StoreID, e.Method, kd, init, e.FileNum, e.DataKeys) +
				bar(st, e.Coverage(), 10) + fmt.Sprintf(" %3.0f%% (%d/%d)", e.Coverage()*100, e.Encrypted, e.Encrypted+e.Plaintext)
			if e.OK {
				line = st.Pass.Render(IconPass) + " " + line
			} else {
				line = st.Fail.Render(IconFail) + " " + line + "\n" + renderLines(st.Fail, "  "+strings.Join(e.Problems, "; "), w, 2)
			}
			b.WriteString(line + "\n")
		}
		b.WriteString(foot)
	}
	return b.String()
}

// stoppedRunNotice says, on the Verification screen of a run that stopped, what
// the engine says of it (steps.StoppedRun: which stores run the new config
// unverified) and the exact commands that resume or abort it. No schedule
// and no report follow a run that stopped.
func stoppedRunNotice(st Styles, err error, w int) string {
	msg, hints := err.Error(), []string(nil)
	var e *steps.Error
	if errors.As(err, &e) {
		msg, hints = e.Msg, e.Hints
	}
	var b strings.Builder
	b.WriteString(renderLines(st.Fail, IconFail+" The run stopped: "+msg, w, 2) + "\n")
	for _, h := range hints {
		b.WriteString(renderLines(st.Subtle, "  "+h, w, 4) + "\n")
	}
	b.WriteString(renderLines(st.Subtle, "No rotation schedule and no report for a run that stopped: the verdicts below are the cluster's state now.", w))
	return b.String()
}

// verifyPage is the Verify screen: per-store evidence after the run.
type verifyPage struct{}

func (verifyPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyVerify(msg) }
func (verifyPage) view(m *Model, w, h int) string            { return m.viewVerify(w, h) }
