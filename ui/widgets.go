package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/steps"
)

// storeTable renders the discovered stores (zone, version, state, leaders,
// encryption) in w columns: the ID column is as wide as its widest value (5
// at least), the address column gives way to the encryption cell, and only a
// cell that still does not fit is cut, so no row wraps.
func storeTable(st Styles, rows []StoreRow, w, h int) string {
	idW, encW := 5, len("ENCRYPTION")
	encs := make([]string, len(rows))
	for i, r := range rows {
		idW = max(idW, len(strconv.FormatUint(r.ID, 10)))
		encs[i] = r.Encryption
		if r.MasterKey != "" {
			encs[i] += " (" + r.MasterKey + ")"
		}
		encW = max(encW, ansi.StringWidth(encs[i]))
	}
	// ID, ZONE 8, VERSION 8, STATE 8, LEADERS 7 and the six spaces between.
	fixed := idW + 8 + 8 + 8 + 7 + 6
	addrW := max(8, min(28, w-62, w-fixed-1-encW))
	encRoom := max(len("ENCRYPTION"), w-fixed-1-addrW)
	head := fmt.Sprintf("%-*s %-*s %-8s %-8s %-8s %7s %s", idW, "ID", addrW, "ADDRESS", "ZONE", "VERSION", "STATE", "LEADERS", "ENCRYPTION")
	lines := []string{st.Header.Render(ansi.Truncate(head, w, "…"))}
	shown := rows
	if len(rows) > h-1 {
		shown = rows[:max(0, h-2)]
	}
	for i, r := range shown {
		state := r.State
		stateCell := fmt.Sprintf("%-8s", state)
		if state != "Up" {
			stateCell = st.Fail.Render(stateCell)
		}
		line := fmt.Sprintf("%-*d %-*s %-8s %-8s ", idW, r.ID, addrW, ansi.Truncate(r.Address, addrW, "…"), ansi.Truncate(r.Zone, 8, "…"), ansi.Truncate(r.Version, 8, "…")) +
			stateCell + fmt.Sprintf(" %7d %s", r.Leaders, ansi.Truncate(encs[i], encRoom, "…"))
		lines = append(lines, line)
	}
	if len(shown) < len(rows) {
		lines = append(lines, st.Subtle.Render(fmt.Sprintf("… and %d more stores", len(rows)-len(shown))))
	}
	return strings.Join(lines, "\n")
}

// allLines is the height to pass to a list drawn into a scrolled body: no limit.
const allLines = 1 << 20

// checkGroup is one check id and verdict with the stores that share it
// (steps.GroupChecks).
type checkGroup struct {
	c      steps.Check
	stores []uint64
}

// groupChecks collapses per-store repeats into one group per check id,
// verdict and fix (steps.GroupChecks, as 'tikv-ear plan' prints them),
// failures first, then warnings, then passes, each in first-seen order.
func groupChecks(checks []steps.Check) []checkGroup {
	var groups []checkGroup
	for _, g := range steps.GroupChecks(checks) {
		groups = append(groups, checkGroup{c: g.Check, stores: g.Stores})
	}
	rank := map[string]int{steps.Fail: 0, steps.Warn: 1, steps.Pass: 2}
	slices.SortStableFunc(groups, func(a, b checkGroup) int { return rank[a.c.Status] - rank[b.c.Status] })
	return groups
}

// message is the group's text: "stores 1,2,3: ..." with the first store's
// message, its store prefix dropped (steps.CheckGroup.Message).
func (g checkGroup) message() string {
	return steps.CheckGroup{Check: g.c, Stores: g.stores}.Message()
}

// checkList draws grouped checks into w×h, blocking ones first, each whole
// (wrapped, never cut with "…"); what does not fit in h lines is counted on
// the last line. Screens whose body scrolls pass allLines and show every one.
func checkList(st Styles, checks []steps.Check, w, h int) string {
	groups := groupChecks(checks)
	var out []string
	for i, g := range groups {
		line := st.status(g.c.Status) + " " + st.Subtle.Render(g.c.ID) + " " + g.message()
		if g.c.Status != steps.Pass && g.c.Fix != "" {
			line += st.Subtle.Render(" → " + g.c.Fix)
		}
		lines := strings.Split(hang(line, w, 4), "\n")
		if len(out)+len(lines) > h-1 && i < len(groups)-1 || len(out)+len(lines) > h {
			rest := groups[i:]
			n := map[string]int{}
			for _, r := range rest {
				n[r.c.Status]++
			}
			more := fmt.Sprintf("… %d more", len(rest))
			switch {
			case n[steps.Pass] == len(rest):
				more += " (all pass)"
			default:
				var parts []string
				for _, k := range []string{steps.Fail, steps.Warn, steps.Pass} {
					if n[k] > 0 {
						parts = append(parts, fmt.Sprintf("%d %s", n[k], strings.ToLower(k)))
					}
				}
				more += ": " + strings.Join(parts, ", ")
			}
			out = append(out, st.Subtle.Render(more))
			break
		}
		out = append(out, lines...)
	}
	return strings.Join(out, "\n")
}

// breakCommand fits a shell command into w cells without changing what it
// runs: it breaks between words with a trailing " \" (the shell's line
// continuation) and never inside a word. Only a single word wider than w is
// broken, at w, so it still shows whole (the demo also prints the command
// on exit).
func breakCommand(cmd string, w int) string {
	if ansi.StringWidth(cmd) <= w {
		return cmd
	}
	var lines []string
	cur := ""
	for _, word := range strings.Fields(cmd) {
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word)+2 <= w, ansi.StringWidth(word) > w-4:
			cur += " " + word // a word too wide for any line stays beside its command
		default:
			lines = append(lines, cur+" \\")
			cur = "    " + word
		}
	}
	lines = append(lines, cur)
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Hardwrap(l, w, true)
		}
	}
	return strings.Join(lines, "\n")
}

// bar draws a w-cell bar filled to pct (0..1).
func bar(st Styles, pct float64, w int) string {
	pct = min(max(pct, 0), 1)
	full := int(pct*float64(w) + 0.5)
	return st.Pass.Render(strings.Repeat("█", full)) + st.Subtle.Render(strings.Repeat("░", w-full))
}

// scroller is a pane whose content may be taller than its room: a bubbles
// viewport over the content wrapped (never cut) to the pane's width. Content
// that fits never moves, whatever key is pressed; content that does not
// keeps its last line for a marker saying what is hidden and how to scroll.
//
// A screen keeps one scroller per pane in the model. Update calls set (the
// content at the current size) and then key; View lays the content out on a
// copy (set, then view), so drawing never changes the model.
type scroller struct {
	vp      viewport.Model
	seenEnd bool // the last line has been on screen since the last reset
}

// newScroller returns an empty pane at the top.
func newScroller() scroller {
	vp := viewport.New()
	vp.MouseWheelEnabled = false // the wizard does not capture the mouse
	return scroller{vp: vp}
}

// set lays content out in w×h. Lines wider than w wrap at spaces (and after
// "/" in paths); when the content overflows, one line is kept for the marker.
func (s *scroller) set(content string, w, h int) {
	w, h = max(w, 1), max(h, 1)
	lines := wrapBlock(strings.TrimRight(content, "\n"), w)
	vh := h
	if len(lines) > h {
		vh = max(1, h-1)
	}
	s.vp.SetWidth(w)
	s.vp.SetHeight(vh)
	s.vp.SetContentLines(lines)
	s.vp.SetYOffset(s.vp.YOffset()) // clamp to the new content
	if s.vp.AtBottom() || !s.overflows() {
		s.seenEnd = true
	}
}

// overflows reports whether the content is taller than the pane.
func (s scroller) overflows() bool { return s.vp.TotalLineCount() > s.vp.Height() }

// atEnd reports whether the last line has been shown since the last reset.
func (s scroller) atEnd() bool { return s.seenEnd }

// hidden returns how many lines are above and below the window.
func (s scroller) hidden() (above, below int) {
	above = s.vp.YOffset()
	below = max(0, s.vp.TotalLineCount()-s.vp.YOffset()-s.vp.Height())
	return above, below
}

// key scrolls on a scroll key and reports whether it was one: pgup/pgdn,
// home/end always, ↑/↓ too when lines is set (screens whose ↑/↓ moves a
// selection pass false). A pane whose content fits takes no key at all, so
// ↓ never hides the first rows of a table that is whole on screen.
func (s *scroller) key(msg tea.KeyPressMsg, k keyMap, lines bool) bool {
	if !s.overflows() {
		return false
	}
	switch {
	case lines && key.Matches(msg, k.Up):
		s.vp.ScrollUp(1)
	case lines && key.Matches(msg, k.Down):
		s.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		s.vp.PageUp()
	case key.Matches(msg, k.PageDown):
		s.vp.PageDown()
	case key.Matches(msg, k.Home):
		s.vp.GotoTop()
	case key.Matches(msg, k.End):
		s.vp.GotoBottom()
	default:
		return false
	}
	if s.vp.AtBottom() {
		s.seenEnd = true
	}
	return true
}

// show scrolls the least needed to bring line i of the content into view.
func (s *scroller) show(i int) {
	switch {
	case i < s.vp.YOffset():
		s.vp.SetYOffset(i)
	case i >= s.vp.YOffset()+s.vp.Height():
		s.vp.SetYOffset(i - s.vp.Height() + 1)
	}
	if s.vp.AtBottom() {
		s.seenEnd = true
	}
}

// reset scrolls back to the top and forgets that the end was seen.
func (s *scroller) reset() {
	s.vp.GotoTop()
	s.seenEnd = false
}

// view draws the window, with the marker line when the content overflows.
func (s scroller) view(st Styles) string {
	lines := strings.Split(s.vp.View(), "\n")
	for i, l := range lines { // the viewport pads to the width; the screen pads itself
		lines[i] = strings.TrimRight(l, " ")
	}
	out := strings.Join(lines, "\n")
	if !s.overflows() {
		return out
	}
	return out + "\n" + scrollMarker(st, s)
}

// scrollMarker is the last line of an overflowing pane.
func scrollMarker(st Styles, s scroller) string {
	above, below := s.hidden()
	var parts []string
	if above > 0 {
		parts = append(parts, fmt.Sprintf("↑ %d above", above))
	}
	if below > 0 {
		parts = append(parts, fmt.Sprintf("↓ %d more below (pgdn/space)", below))
	} else {
		parts = append(parts, "end (pgup/home to go back)")
	}
	return st.Subtle.Render(fmt.Sprintf("── %3.0f%% · %s", s.vp.ScrollPercent()*100, strings.Join(parts, " · ")))
}

// wrapBlock splits content into lines no wider than w: a wider line wraps
// between words (after "/" in a path), keeping its colours on every piece.
func wrapBlock(content string, w int) []string {
	var out []string
	for _, l := range strings.Split(content, "\n") {
		if ansi.StringWidth(l) <= w {
			out = append(out, l)
			continue
		}
		out = append(out, strings.Split(lipgloss.Wrap(l, w, "/"), "\n")...)
	}
	return out
}

// fullHelp draws the full key help (?): each group under its title, in
// bubbles/help's full view, one group below the other so nothing is cut at
// 80 columns.
func fullHelp(st Styles, h help.Model, groups []helpGroup) string {
	var b strings.Builder
	b.WriteString(st.Title.Render("Keys") + st.Subtle.Render("  (? or esc closes this help)") + "\n")
	for _, g := range groups {
		if len(g.Keys) == 0 {
			continue
		}
		b.WriteString("\n" + st.Bold.Render(g.Title) + "\n")
		h.SetWidth(0) // one column: nothing to cut; the pane wraps what is wider
		b.WriteString(h.FullHelpView([][]key.Binding{g.Keys}) + "\n")
	}
	return b.String()
}
