package ui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/huh/v2"
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

// palette is the wizard's colours for a dark or light background: the
// screens' Styles and the forms' huh theme both draw from it.
type palette struct {
	accent, subtle, green, yellow, red, blue color.Color
}

func newPalette(isDark bool) palette {
	ld := lipgloss.LightDark(isDark)
	return palette{
		accent: ld(lipgloss.Color("#5A3FC0"), lipgloss.Color("#B9A6FF")),
		subtle: ld(lipgloss.Color("#6B6B6B"), lipgloss.Color("#8C8C8C")),
		green:  ld(lipgloss.Color("#1F7A1F"), lipgloss.Color("#6BD66B")),
		yellow: ld(lipgloss.Color("#8A6100"), lipgloss.Color("#F2C94C")),
		red:    ld(lipgloss.Color("#B00020"), lipgloss.Color("#FF6B6B")),
		blue:   ld(lipgloss.Color("#005F9E"), lipgloss.Color("#6CB6FF")),
	}
}

// huhTheme is the forms' theme in the screens' palette: titles in the
// accent colour, the focus bar, selectors and prompts as the screens'
// selection, errors red, and placeholders dim and italic so an example
// never reads as a value already filled in.
func huhTheme() huh.Theme {
	return huh.ThemeFunc(func(isDark bool) *huh.Styles {
		p := newPalette(isDark)
		t := huh.ThemeBase(isDark)
		t.Focused.Base = t.Focused.Base.BorderForeground(p.accent)
		t.Focused.Card = t.Focused.Base
		t.Focused.Title = t.Focused.Title.Foreground(p.accent).Bold(true)
		t.Focused.NoteTitle = t.Focused.NoteTitle.Foreground(p.accent).Bold(true)
		t.Focused.Description = t.Focused.Description.Foreground(p.subtle)
		t.Focused.ErrorIndicator = t.Focused.ErrorIndicator.Foreground(p.red)
		t.Focused.ErrorMessage = t.Focused.ErrorMessage.Foreground(p.red)
		t.Focused.SelectSelector = t.Focused.SelectSelector.Foreground(p.accent)
		t.Focused.NextIndicator = t.Focused.NextIndicator.Foreground(p.accent)
		t.Focused.PrevIndicator = t.Focused.PrevIndicator.Foreground(p.accent)
		t.Focused.SelectedOption = t.Focused.SelectedOption.Foreground(p.green)
		t.Focused.SelectedPrefix = lipgloss.NewStyle().Foreground(p.green).SetString(IconPass + " ")
		t.Focused.UnselectedPrefix = lipgloss.NewStyle().Foreground(p.subtle).SetString(IconPending + " ")
		t.Focused.FocusedButton = t.Focused.FocusedButton.Bold(true).Foreground(p.accent).Reverse(true)
		t.Focused.Next = t.Focused.FocusedButton
		t.Focused.BlurredButton = t.Focused.BlurredButton.Foreground(p.subtle)
		t.Focused.TextInput.Cursor = t.Focused.TextInput.Cursor.Foreground(p.accent)
		t.Focused.TextInput.Placeholder = t.Focused.TextInput.Placeholder.Foreground(p.subtle).Italic(true)
		t.Focused.TextInput.Prompt = t.Focused.TextInput.Prompt.Foreground(p.accent)
		t.Blurred = t.Focused
		t.Blurred.Base = t.Focused.Base.BorderStyle(lipgloss.HiddenBorder())
		t.Blurred.Card = t.Blurred.Base
		t.Blurred.Title = t.Blurred.Title.Foreground(p.subtle).Bold(false)
		t.Blurred.NextIndicator = lipgloss.NewStyle()
		t.Blurred.PrevIndicator = lipgloss.NewStyle()
		t.Group.Title = t.Focused.Title
		t.Group.Description = t.Focused.Description
		return t
	})
}

// NewStyles builds the styles for a dark or light background.
func NewStyles(isDark bool) Styles {
	p := newPalette(isDark)
	accent, subtle, green, yellow, red, blue := p.accent, p.subtle, p.green, p.yellow, p.red, p.blue
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
		Help:     helpStyles(p),
	}
}

// helpStyles are the key help's styles in the palette.
func helpStyles(p palette) help.Styles {
	key := lipgloss.NewStyle().Foreground(p.accent)
	desc := lipgloss.NewStyle().Foreground(p.subtle)
	sep := lipgloss.NewStyle().Foreground(p.subtle)
	return help.Styles{ShortKey: key, ShortDesc: desc, ShortSeparator: sep, Ellipsis: sep,
		FullKey: key, FullDesc: desc, FullSeparator: sep}
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
