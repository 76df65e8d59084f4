package ui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// Auditor is an optional Driver method: the audit journey's read-only
// evidence, as 'tikv-ear audit' gathers and signs it. A Driver without it
// leaves the journey disabled on the home screen.
type Auditor interface {
	Audit(ctx context.Context, in ConnectInput) (AuditResult, error)
}

// AuditResult is what an audit found and where its signed report went.
type AuditResult struct {
	Outcome   string // the report's outcome
	Stores    int
	Encrypted int // stores whose running method is not plaintext
	Findings  []AuditFinding
	Failing   int // high and critical findings
	Files     ReportFiles
}

// AuditFinding is one finding of an audit.
type AuditFinding struct {
	Severity string
	Title    string
	Fix      string
}

const opAudit = "audit"

func auditCmd(ctx context.Context, a Auditor, in ConnectInput) tea.Cmd {
	return call(opAudit, func() (AuditResult, error) { return a.Audit(ctx, in) })
}

// startAudit runs the audit journey's one operation.
func (m *Model) startAudit() tea.Cmd {
	a, ok := m.driver.(Auditor)
	if !ok {
		m.err = fmt.Errorf("this wizard cannot write audit reports; run 'tikv-ear audit'")
		return nil
	}
	m.screen = ScreenAudit
	return m.start(opAudit, auditCmd(m.ctx, a, m.connect))
}

func (m *Model) viewAudit(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(st.Bold.Render("Audit evidence") + st.Subtle.Render("  (read-only: nothing on the cluster changed)") + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	a := m.audit
	if a == nil {
		return b.String()
	}
	line := fmt.Sprintf("%d of %d stores encrypted · %d finding(s), %d high or critical · outcome %s", a.Encrypted, a.Stores, len(a.Findings), a.Failing, a.Outcome)
	if a.Failing > 0 {
		b.WriteString(renderLines(st.Warn, IconWarn+" "+line, w, 2) + "\n")
	} else {
		b.WriteString(renderLines(st.Pass, IconPass+" "+line, w, 2) + "\n")
	}
	for _, f := range a.Findings {
		text := fmt.Sprintf("%-8s %s", f.Severity, f.Title)
		if f.Fix != "" {
			text += st.Subtle.Render(" → " + f.Fix)
		}
		b.WriteString(hang(text, w, 9) + "\n")
	}
	b.WriteString("\n" + st.Bold.Render("Signed report") + "\n")
	b.WriteString(reportFiles(st, a.Files, w))
	return b.String()
}

// auditPage is the Audit screen: the journey's findings and its signed report.
type auditPage struct{}

func (auditPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyEnd(msg) }
func (auditPage) view(m *Model, w, h int) string            { return m.viewAudit(w, h) }

// keyEnd is a journey's last screen: enter goes home when the wizard
// started there (another journey may follow), else it quits; q quits.
func (m *Model) keyEnd(msg tea.KeyPressMsg) tea.Cmd {
	if m.busy != "" {
		return nil
	}
	switch {
	case m.opts.Home && msg.Code == tea.KeyEnter:
		return m.goHome()
	case msg.Code == tea.KeyEnter || msg.String() == "q":
		m.quitting = true
		return tea.Quit
	}
	return nil
}
