package ui

import "charm.land/bubbles/v2/key"

// keyMap holds every binding; screens pick the ones they show.
type keyMap struct {
	Next, Back, Quit, Up, Down, Left, Right, Edit, Retry, Save, Tab, ShiftTab,
	PageUp, PageDown, Pause, Abort, Details, Yes, No, ResumeRun, AbortRun, NewRun key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Next:      b([]string{"enter"}, "enter", "next"),
		Back:      b([]string{"esc"}, "esc", "back"),
		Quit:      b([]string{"q", "ctrl+c"}, "q", "quit"),
		Up:        b([]string{"up", "k"}, "↑/k", "up"),
		Down:      b([]string{"down", "j"}, "↓/j", "down"),
		Left:      b([]string{"left", "h"}, "←", "shorter"),
		Right:     b([]string{"right", "l"}, "→", "longer"),
		Edit:      b([]string{"e"}, "e", "edit"),
		Retry:     b([]string{"r"}, "r", "re-run"),
		Save:      b([]string{"s"}, "s", "save plan.toml"),
		Tab:       b([]string{"tab"}, "tab", "next node"),
		ShiftTab:  b([]string{"shift+tab"}, "shift+tab", "previous node"),
		PageUp:    b([]string{"pgup", "b"}, "pgup", "scroll up"),
		PageDown:  b([]string{"pgdown", "f", "space"}, "pgdn", "scroll down"),
		Pause:     b([]string{"p"}, "p", "pause"),
		Abort:     b([]string{"a"}, "a", "abort"),
		Details:   b([]string{"d"}, "d", "details"),
		Yes:       b([]string{"y"}, "y", "yes"),
		No:        b([]string{"n", "esc"}, "n", "no"),
		ResumeRun: b([]string{"r"}, "r", "resume the run"),
		AbortRun:  b([]string{"x"}, "x", "clean up, don't resume"),
		NewRun:    b([]string{"n"}, "n", "ignore, start over"),
	}
}

// with returns a copy of b with another help text.
func with(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}
