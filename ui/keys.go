package ui

import "charm.land/bubbles/v2/key"

// keyMap holds every binding; screens pick the ones they show.
type keyMap struct {
	Next, Back, Quit, Up, Down, Left, Right, Edit, Retry, Save, Tab, ShiftTab,
	PageUp, PageDown, Home, End, Help, Pause, Abort, Details, Metrics, Yes, No,
	ResumeRun, AbortRun, NewRun key.Binding
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
		PageUp:    b([]string{"pgup", "b"}, "pgup/b", "scroll up a page"),
		PageDown:  b([]string{"pgdown", "f", "space"}, "pgdn/space", "scroll down a page"),
		Home:      b([]string{"home", "g"}, "home/g", "scroll to the top"),
		End:       b([]string{"end", "G"}, "end/G", "scroll to the end"),
		Help:      b([]string{"?", "f1"}, "?", "all keys"),
		Pause:     b([]string{"p"}, "p", "pause"),
		Abort:     b([]string{"a"}, "a", "abort"),
		Details:   b([]string{"d"}, "d", "details"),
		Metrics:   b([]string{"m"}, "m", "metrics/log"),
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

// scrollBindings are the keys every scrolled pane answers to, for the full help.
func (k keyMap) scrollBindings() []key.Binding {
	return []key.Binding{with(k.Up, "scroll up a line"), with(k.Down, "scroll down a line"), k.PageUp, k.PageDown, k.Home, k.End}
}

// helpGroups are the groups the full help (?) shows: the screen's own keys,
// then scrolling, then the keys that work everywhere.
func (k keyMap) helpGroups(screen []key.Binding) []helpGroup {
	return []helpGroup{
		{Title: "this screen", Keys: screen},
		{Title: "scrolling (any pane taller than the window)", Keys: k.scrollBindings()},
		{Title: "everywhere", Keys: []key.Binding{with(k.Help, "open or close this help"), key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit (during a rollout: abort safely, asks first)"))}},
	}
}

// helpGroup is one titled group of the full help.
type helpGroup struct {
	Title string
	Keys  []key.Binding
}
