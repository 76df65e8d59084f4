package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/steps"
)

// storeTable renders the discovered stores (zone, version, state, leaders, encryption).
func storeTable(st Styles, rows []StoreRow, w, h int) string {
	addrW := max(8, min(28, w-62))
	head := fmt.Sprintf("%-5s %-*s %-8s %-8s %-8s %7s %-14s", "ID", addrW, "ADDRESS", "ZONE", "VERSION", "STATE", "LEADERS", "ENCRYPTION")
	lines := []string{st.Header.Render(ansi.Truncate(head, w, "…"))}
	shown := rows
	if len(rows) > h-1 {
		shown = rows[:max(0, h-2)]
	}
	for _, r := range shown {
		state := r.State
		stateCell := fmt.Sprintf("%-8s", state)
		if state != "Up" {
			stateCell = st.Fail.Render(stateCell)
		}
		enc := r.Encryption
		if r.MasterKey != "" {
			enc += " (" + r.MasterKey + ")"
		}
		line := fmt.Sprintf("%-5d %-*s %-8s %-8s ", r.ID, addrW, ansi.Truncate(r.Address, addrW, "…"), ansi.Truncate(r.Zone, 8, "…"), ansi.Truncate(r.Version, 8, "…")) +
			stateCell + fmt.Sprintf(" %7d %s", r.Leaders, enc)
		lines = append(lines, line)
	}
	if len(shown) < len(rows) {
		lines = append(lines, st.Subtle.Render(fmt.Sprintf("… and %d more stores", len(rows)-len(shown))))
	}
	return strings.Join(lines, "\n")
}

// checkGroup is one check id and verdict with the stores that share it.
type checkGroup struct {
	c      steps.Check
	stores []uint64
}

// groupChecks collapses per-store repeats into one group per check id,
// verdict and fix (as 'tikv-ear plan' prints them), failures first, then
// warnings, then passes, each in first-seen order.
func groupChecks(checks []steps.Check) []checkGroup {
	var groups []checkGroup
	index := map[string]int{}
	for _, c := range checks {
		k := c.Status + "\x00" + c.ID + "\x00" + c.Fix
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, checkGroup{c: c})
		}
		if c.StoreID != 0 {
			groups[i].stores = append(groups[i].stores, c.StoreID)
		}
	}
	rank := map[string]int{steps.Fail: 0, steps.Warn: 1, steps.Pass: 2}
	slices.SortStableFunc(groups, func(a, b checkGroup) int { return rank[a.c.Status] - rank[b.c.Status] })
	return groups
}

// message is the group's text: "stores 1,2,3: ..." with the first store's
// message, its store prefix dropped.
func (g checkGroup) message() string {
	msg := g.c.Message
	if len(g.stores) == 0 {
		return msg
	}
	ids := make([]string, len(g.stores))
	for i, id := range g.stores {
		ids[i] = fmt.Sprint(id)
	}
	msg = strings.TrimPrefix(msg, fmt.Sprintf("store %d: ", g.stores[0]))
	if len(ids) == 1 {
		return "store " + ids[0] + ": " + msg
	}
	msg = "stores " + strings.Join(ids, ",") + ": " + msg
	if g.c.Status != steps.Pass {
		msg += " (first shown)"
	}
	return msg
}

// checkList draws grouped checks into w×h, blocking ones first; what does not
// fit is counted on the last line.
func checkList(st Styles, checks []steps.Check, w, h int) string {
	groups := groupChecks(checks)
	var out []string
	for i, g := range groups {
		line := st.status(g.c.Status) + " " + st.Subtle.Render(g.c.ID) + " " + g.message()
		if g.c.Status != steps.Pass && g.c.Fix != "" {
			line += st.Subtle.Render(" → " + g.c.Fix)
		}
		lines := strings.Split(hang(line, w, 4), "\n")
		switch { // failures show whole; a warning keeps two lines, a pass one, so the list stays in view
		case g.c.Status == steps.Pass && len(lines) > 1:
			lines = []string{ansi.Truncate(line, w, "…")}
		case g.c.Status == steps.Warn && len(lines) > 2:
			lines = []string{lines[0], ansi.Truncate(lines[1]+" "+strings.TrimSpace(lines[2]), w, "…")}
		}
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
