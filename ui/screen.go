package ui

import (
	tea "charm.land/bubbletea/v2"
)

// page is one screen of the wizard, the way soft-serve's pages are: it
// handles the keys pressed on it and draws itself into w×h. Each lives in
// its own file (screen_<name>.go; the dashboard in dashboard.go); Model keeps
// the state they share and pageOf picks the current one.
type page interface {
	key(m *Model, msg tea.KeyPressMsg) tea.Cmd
	view(m *Model, w, h int) string
}

// pageOf returns the page of a screen.
func pageOf(s Screen) page {
	switch s {
	case ScreenLoading:
		return loadingPage{}
	case ScreenResume:
		return resumePage{}
	case ScreenConnect:
		return connectPage{}
	case ScreenAlgorithm:
		return algorithmPage{}
	case ScreenBackend:
		return backendPage{}
	case ScreenPlan:
		return planPage{}
	case ScreenDashboard:
		return dashboardPage{}
	case ScreenVerify:
		return verifyPage{}
	case ScreenSchedule:
		return schedulePage{}
	case ScreenReport:
		return reportPage{}
	case ScreenHome:
		return homePage{}
	case ScreenAudit:
		return auditPage{}
	}
	return nil
}

// loadingPage shows while the run journal is read.
type loadingPage struct{}

func (loadingPage) key(*Model, tea.KeyPressMsg) tea.Cmd { return nil }
func (loadingPage) view(m *Model, _, _ int) string {
	return m.spin.View() + " reading the run journal…"
}

// reportPage is the last screen: where the signed report went.
type reportPage struct{}

func (reportPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyEnd(msg) }
func (reportPage) view(m *Model, w, h int) string            { return m.viewReport(w, h) }

// dashboardPage is the rollout's live view (dashboard.go).
type dashboardPage struct{}

func (dashboardPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyDashboard(msg) }
func (dashboardPage) view(m *Model, w, h int) string {
	if dec := m.dash.decision; dec != nil && dec.Decision.Typed != "" {
		foot := m.typedFooter(w)
		bodyH := max(1, h-lipHeight(foot))
		s := m.decScroll
		s.set(m.typedPanel(w), w, bodyH)
		return pad(s.view(m.styles), bodyH) + "\n" + foot
	}
	return m.dash.render(m.styles, w, h, m.dashState())
}
