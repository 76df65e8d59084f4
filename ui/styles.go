package ui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

// Icons used across screens.
const (
	IconPass    = "✓"
	IconWarn    = "!"
	IconFail    = "✗"
	IconPending = "·"
	IconActive  = "▸"
	IconCursor  = "›"
)

// Styles is every style the wizard draws with, built once per background.
type Styles struct {
	IsDark   bool
	Title    lipgloss.Style
	Step     lipgloss.Style
	Subtle   lipgloss.Style
	Bold     lipgloss.Style
	Pass     lipgloss.Style
	Warn     lipgloss.Style
	Fail     lipgloss.Style
	Safe     lipgloss.Style // the "nothing changed yet" banner
	Live     lipgloss.Style // the banner once the rollout touches hosts
	Incident lipgloss.Style
	Selected lipgloss.Style
	Disabled lipgloss.Style
	Header   lipgloss.Style // table headers
	Box      lipgloss.Style
	Decision lipgloss.Style
	LogEnc   lipgloss.Style // encryption log lines
	LogFatal lipgloss.Style
	DiffAdd  lipgloss.Style
	DiffDel  lipgloss.Style
	DiffMeta lipgloss.Style
	Help     help.Styles
}

// NewStyles builds the styles for a dark or light background.
func NewStyles(isDark bool) Styles {
	ld := lipgloss.LightDark(isDark)
	accent := ld(lipgloss.Color("#5A3FC0"), lipgloss.Color("#B9A6FF"))
	subtle := ld(lipgloss.Color("#6B6B6B"), lipgloss.Color("#8C8C8C"))
	green := ld(lipgloss.Color("#1F7A1F"), lipgloss.Color("#6BD66B"))
	yellow := ld(lipgloss.Color("#8A6100"), lipgloss.Color("#F2C94C"))
	red := ld(lipgloss.Color("#B00020"), lipgloss.Color("#FF6B6B"))
	blue := ld(lipgloss.Color("#005F9E"), lipgloss.Color("#6CB6FF"))
	return Styles{
		IsDark:   isDark,
		Title:    lipgloss.NewStyle().Bold(true).Foreground(accent),
		Step:     lipgloss.NewStyle().Foreground(subtle),
		Subtle:   lipgloss.NewStyle().Foreground(subtle),
		Bold:     lipgloss.NewStyle().Bold(true),
		Pass:     lipgloss.NewStyle().Foreground(green),
		Warn:     lipgloss.NewStyle().Foreground(yellow),
		Fail:     lipgloss.NewStyle().Foreground(red).Bold(true),
		Safe:     lipgloss.NewStyle().Foreground(green),
		Live:     lipgloss.NewStyle().Foreground(yellow).Bold(true),
		Incident: lipgloss.NewStyle().Foreground(red).Bold(true).Reverse(true),
		Selected: lipgloss.NewStyle().Foreground(accent).Bold(true),
		Disabled: lipgloss.NewStyle().Foreground(subtle).Strikethrough(true),
		Header:   lipgloss.NewStyle().Foreground(subtle).Bold(true),
		Box:      lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(subtle).Padding(0, 1),
		Decision: lipgloss.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(yellow).Padding(0, 1),
		LogEnc:   lipgloss.NewStyle().Foreground(blue).Bold(true),
		LogFatal: lipgloss.NewStyle().Foreground(red).Bold(true),
		DiffAdd:  lipgloss.NewStyle().Foreground(green),
		DiffDel:  lipgloss.NewStyle().Foreground(red),
		DiffMeta: lipgloss.NewStyle().Foreground(blue),
		Help:     help.DefaultStyles(isDark),
	}
}

// status renders a check status as an icon.
func (s Styles) status(status string) string {
	switch status {
	case steps.Pass:
		return s.Pass.Render(IconPass)
	case steps.Warn:
		return s.Warn.Render(IconWarn)
	case steps.Fail:
		return s.Fail.Render(IconFail)
	}
	return s.Subtle.Render(IconPending)
}
