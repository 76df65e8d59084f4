package ui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/internal/shquote"
	"github.com/tikv-ear/tikv-ear/steps"
)

// ---- resume -----------------------------------------------------------------

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
	case key.Matches(msg, m.keys.NewRun):
		m.unfinished = nil
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
	fmt.Fprintf(&b, "  stores     %d of %d done\n", u.Done, u.Total)
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

// ---- connect ----------------------------------------------------------------

func (m *Model) keyConnect(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Edit):
		return m.connectForm()
	case key.Matches(msg, m.keys.Up):
		m.listOff = max(0, m.listOff-1)
	case key.Matches(msg, m.keys.Down) && m.disc != nil:
		m.listOff = min(max(0, len(m.disc.Stores)-1), m.listOff+1)
	case key.Matches(msg, m.keys.Retry) && (len(m.connect.PD) > 0 || m.connect.TiUPName != ""):
		return m.start(opDiscover, discoverCmd(m.ctx, m.driver, m.connect))
	case key.Matches(msg, m.keys.Next):
		if m.disc == nil {
			return m.connectForm()
		}
		if len(m.disc.Blocking()) > 0 {
			m.err = fmt.Errorf("%d blocking finding(s): fix them, then press r to discover again", len(m.disc.Blocking()))
			return nil
		}
		if m.opts.Rotate { // the plan's backend makes the new generation: straight to the preview
			return m.start(opPlan, planCmd(m.ctx, m.driver, m.Choices()))
		}
		return m.goAlgorithm()
	}
	return nil
}

func (m *Model) viewConnect(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(m.connectLine(w) + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	if m.disc == nil {
		return b.String()
	}
	d := m.disc
	name := d.ClusterName
	if name == "" {
		name = fmt.Sprint(d.ClusterID)
	}
	fmt.Fprintf(&b, "%s %d stores · cluster %s\n", st.Pass.Render(IconPass), len(d.Stores), name)
	find := d.Findings
	tableH := max(3, h-lipHeight(b.String())-min(len(find), max(2, h/3))-1)
	b.WriteString(storeTable(st, d.Stores[min(m.listOff, len(d.Stores)):], w, tableH) + "\n")
	blocking := d.Blocking()
	if len(find) > 0 {
		if len(blocking) > 0 {
			b.WriteString(st.Fail.Render(fmt.Sprintf("%d blocking finding(s) — the wizard cannot go on until they are fixed:", len(blocking))) + "\n")
		}
		for _, c := range find {
			line := st.status(c.Status) + " " + c.Message
			if c.Fix != "" {
				line += st.Subtle.Render(" → " + c.Fix)
			}
			b.WriteString(hang(line, w, 2) + "\n")
		}
	}
	return b.String()
}

// connectLine says which cluster and environment: every PD endpoint when
// they fit, else the first and how many more, so the environment stays in view.
func (m *Model) connectLine(w int) string {
	st := m.styles
	env := st.Subtle.Render("  · " + m.connect.Environment)
	line := func(target string) string { return st.Bold.Render("Cluster ") + target + env }
	switch {
	case m.connect.TiUPName != "":
		return wrap(line("TiUP cluster "+m.connect.TiUPName), w)
	case len(m.connect.PD) == 0:
		return line("(not set: press e)")
	}
	full := line(strings.Join(m.connect.PD, ", "))
	if ansi.StringWidth(full) <= w || len(m.connect.PD) == 1 {
		return wrap(full, w)
	}
	return wrap(line(fmt.Sprintf("%s (+%d more PD)", m.connect.PD[0], len(m.connect.PD)-1)), w)
}

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

// ---- algorithm --------------------------------------------------------------

func (m *Model) goAlgorithm() tea.Cmd {
	m.screen = ScreenAlgorithm
	if m.algos != nil {
		return nil
	}
	return m.start(opAlgorithms, algorithmsCmd(m.ctx, m.driver, *m.disc))
}

func firstEnabledAlgo(a []AlgorithmOption) int {
	if i := slices.IndexFunc(a, func(o AlgorithmOption) bool { return o.Recommended && !o.Disabled }); i >= 0 {
		return i
	}
	return max(0, slices.IndexFunc(a, func(o AlgorithmOption) bool { return !o.Disabled }))
}

func (m *Model) keyAlgorithm(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Back):
		m.screen = ScreenConnect
	case key.Matches(msg, m.keys.Up):
		m.algoIdx = max(0, m.algoIdx-1)
	case key.Matches(msg, m.keys.Down):
		m.algoIdx = min(len(m.algos)-1, m.algoIdx+1)
	case key.Matches(msg, m.keys.Left):
		m.rotIdx = max(0, m.rotIdx-1)
	case key.Matches(msg, m.keys.Right):
		m.rotIdx = min(len(rotationPeriods())-1, m.rotIdx+1)
	case key.Matches(msg, m.keys.Next):
		if len(m.algos) == 0 {
			return nil
		}
		if a := m.algos[m.algoIdx]; a.Disabled {
			m.err = fmt.Errorf("%s is not available here: %s", a.Method, a.Reason)
			return nil
		}
		m.err = nil
		return m.goBackend()
	}
	return nil
}

func (m *Model) viewAlgorithm(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(wrap(st.Bold.Render("Data-encryption method")+st.Subtle.Render("  (encrypts the data files; the master key only wraps the data keys)"), w) + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	for i, a := range m.algos {
		cur := "  "
		name := fmt.Sprintf("%-11s", a.Method)
		if i == m.algoIdx {
			cur = st.Selected.Render(IconCursor + " ")
			name = st.Selected.Render(name)
		}
		if a.Disabled {
			name = st.Disabled.Render(fmt.Sprintf("%-11s", a.Method))
		}
		line := cur + name + " " + a.Summary
		switch {
		case a.Disabled:
			line = cur + name + " " + st.Subtle.Render("unavailable: "+a.Reason)
		case a.Recommended:
			line += st.Pass.Render(" (recommended)")
		}
		if a.MBps > 0 && !a.Disabled {
			line += st.Subtle.Render(fmt.Sprintf(" · %.0f MB/s here", a.MBps))
		}
		b.WriteString(hang(line, w, 14) + "\n")
	}
	if len(m.algos) > 0 {
		a := m.algos[m.algoIdx]
		b.WriteString("\n" + st.Title.Render(a.Method) + "\n")
		if a.Disabled {
			b.WriteString(st.Fail.Render("unavailable: "+a.Reason) + "\n")
		}
		ok, bad := 0, []string{}
		for _, g := range a.Gates {
			if g.OK {
				ok++
			} else {
				bad = append(bad, fmt.Sprintf("store %d: %s", g.StoreID, g.Reason))
			}
		}
		fmt.Fprintf(&b, "gates       %s %d of %d stores can run it\n", st.status(map[bool]string{true: steps.Pass, false: steps.Fail}[len(bad) == 0]), ok, len(a.Gates))
		for _, s := range bad {
			b.WriteString("            " + st.Fail.Render(s) + "\n")
		}
		if isAES(a.Method) { // AES-NI speeds up AES only; SM4 does not use it
			b.WriteString(hang(aesniLine(st, a.AESNI), w, 12) + "\n")
		}
		if a.MBps > 0 {
			fmt.Fprintf(&b, "throughput  %.0f MB/s measured on this machine\n", a.MBps)
		}
		if a.Compliance != "" {
			b.WriteString(hang("compliance  "+a.Compliance, w, 12) + "\n")
		}
	}
	b.WriteString("\n" + st.Bold.Render("Data-key rotation ") + "  ")
	for i, p := range rotationPeriods() {
		if i == m.rotIdx {
			b.WriteString(st.Selected.Render("["+p+"]") + " ")
		} else {
			b.WriteString(st.Subtle.Render(" "+p+" ") + " ")
		}
	}
	b.WriteString("\n" + renderLines(st.Subtle, "TiKV rotates its data keys itself at this period (data-key-rotation-period); "+rotationPeriods()[2]+" is TiKV's default.", w))
	return b.String()
}

// isAES reports whether a data-encryption-method is an AES one (tikv.MethodAES*CTR).
func isAES(method string) bool {
	switch method {
	case tikv.MethodAES128CTR, tikv.MethodAES192CTR, tikv.MethodAES256CTR:
		return true
	}
	return false
}

// aesniLine counts the hosts with and without AES-NI.
func aesniLine(st Styles, flags []HostFlag) string {
	with, without, unknown := 0, []string{}, 0
	for _, f := range flags {
		switch {
		case !f.Known:
			unknown++
		case f.Value:
			with++
		default:
			without = append(without, f.Host)
		}
	}
	line := fmt.Sprintf("AES-NI      %d of %d host(s) have it", with, len(flags))
	if len(without) > 0 {
		line += ", " + st.Warn.Render("without: "+strings.Join(without, ", "))
	}
	if unknown > 0 {
		line += fmt.Sprintf(", %d unknown", unknown)
	}
	return line
}

// ---- backend ----------------------------------------------------------------

func (m *Model) goBackend() tea.Cmd {
	m.screen = ScreenBackend
	if m.backends != nil {
		return nil
	}
	return m.start(opBackends, backendsCmd(m.ctx, m.driver, *m.disc, m.connect.Environment))
}

func firstEnabledBackend(bs []BackendOption) int {
	return max(0, slices.IndexFunc(bs, func(b BackendOption) bool { return !b.Disabled }))
}

func (m *Model) keyBackend(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Back):
		if m.opts.Rotate {
			m.screen = ScreenConnect
		} else {
			m.screen = ScreenAlgorithm
		}
	case key.Matches(msg, m.keys.Up):
		m.backendIdx, m.checked, m.checks = max(0, m.backendIdx-1), false, nil
	case key.Matches(msg, m.keys.Down):
		m.backendIdx, m.checked, m.checks = min(len(m.backends)-1, m.backendIdx+1), false, nil
	case key.Matches(msg, m.keys.Edit) && m.checked:
		return m.backendForm(m.backends[m.backendIdx])
	case key.Matches(msg, m.keys.Retry) && m.checked:
		return m.start(opPreflight, preflightCmd(m.ctx, m.driver, m.Choices()))
	case key.Matches(msg, m.keys.Next):
		if len(m.backends) == 0 {
			return nil
		}
		b := m.backends[m.backendIdx]
		if b.Disabled {
			m.err = fmt.Errorf("%s is not available: %s", b.Name, b.Reason)
			return nil
		}
		if !m.checked {
			return m.backendForm(b)
		}
		if n := len(steps.Blocking(m.checks)); n > 0 {
			m.err = fmt.Errorf("preflight failed %d check(s): fix them and press r, or choose another backend", n)
			return nil
		}
		return m.start(opPlan, planCmd(m.ctx, m.driver, m.Choices()))
	}
	return nil
}

func (m *Model) viewBackend(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(st.Bold.Render("Master-key backend") + st.Subtle.Render("  (wraps TiKV's data keys; environment "+m.connect.Environment+")") + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	for i, o := range m.backends {
		cur := "  "
		name := fmt.Sprintf("%-6s", o.Name)
		switch {
		case o.Disabled:
			name = st.Disabled.Render(name)
		case i == m.backendIdx:
			name = st.Selected.Render(name)
		}
		if i == m.backendIdx {
			cur = st.Selected.Render(IconCursor + " ")
		}
		line := cur + name + " " + o.Title
		if o.Disabled {
			line += st.Subtle.Render(" — " + o.Reason)
		} else if o.Summary != "" {
			line += st.Subtle.Render(" — " + o.Summary)
		}
		b.WriteString(hang(line, w, 9) + "\n")
	}
	if len(m.fields) > 0 && m.checked {
		b.WriteString("\n")
		for _, f := range m.backends[m.backendIdx].Fields {
			fmt.Fprintf(&b, "  %-18s %s\n", f.Label, m.fields[f.Key])
		}
	}
	if m.checked {
		pass, warn, fail := 0, 0, 0
		for _, c := range m.checks {
			switch c.Status {
			case steps.Pass:
				pass++
			case steps.Warn:
				warn++
			case steps.Fail:
				fail++
			}
		}
		fmt.Fprintf(&b, "\n%s %s %s\n", st.Bold.Render("Preflight"), st.Pass.Render(fmt.Sprintf("%d pass", pass)),
			st.Subtle.Render("·")+" "+st.Warn.Render(fmt.Sprintf("%d warn", warn))+" "+st.Subtle.Render("·")+" "+st.Fail.Render(fmt.Sprintf("%d fail", fail)))
		b.WriteString(checkList(st, m.checks, w, max(1, h-lipHeight(b.String()))))
	}
	return b.String()
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

// ---- plan -------------------------------------------------------------------

func (m *Model) keyPlan(msg tea.KeyPressMsg) tea.Cmd {
	if m.confirmApply {
		switch {
		case key.Matches(msg, m.keys.Yes):
			m.confirmApply = false
			return m.startApply()
		case key.Matches(msg, m.keys.No):
			m.confirmApply = false
		}
		return nil
	}
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	n := 0
	if m.preview != nil {
		n = len(m.preview.Diffs)
	}
	switch {
	case key.Matches(msg, m.keys.Back):
		m.screen = ScreenBackend
		if m.opts.Rotate {
			m.screen = ScreenConnect
		}
	case key.Matches(msg, m.keys.Save) && !m.opts.Rotate: // a rotation updates the plan file itself
		return m.saveForm()
	case key.Matches(msg, m.keys.Tab) && n > 0:
		m.diffIdx = (m.diffIdx + 1) % n
		m.renderDiff()
	case key.Matches(msg, m.keys.ShiftTab) && n > 0:
		m.diffIdx = (m.diffIdx + n - 1) % n
		m.renderDiff()
	case key.Matches(msg, m.keys.Up):
		m.diffView.ScrollUp(1)
	case key.Matches(msg, m.keys.Down):
		m.diffView.ScrollDown(1)
	case key.Matches(msg, m.keys.PageUp):
		m.diffView.PageUp()
	case key.Matches(msg, m.keys.PageDown):
		m.diffView.PageDown()
	case key.Matches(msg, m.keys.Next):
		if m.preview != nil {
			if b := steps.Blocking(m.preview.Checks); len(b) > 0 {
				m.err = fmt.Errorf("preflight failed %d check(s): fix them, then press esc and enter to check again", len(b))
				return nil
			}
		}
		m.confirmApply = true
	}
	return nil
}

// planTop is the part of the plan screen above the diff viewer.
func (m *Model) planTop(w int) string {
	st, p := m.styles, m.preview
	if p == nil || p.Plan == nil {
		return m.status()
	}
	var b strings.Builder
	pl := p.Plan
	target := pl.Target.Method
	if m.opts.Rotate {
		target = "new master key"
	}
	fmt.Fprintf(&b, "%s %s · %s key · %d stores · %d batches (%s)\n", st.Bold.Render("Plan"), target, pl.Target.Key.Backend, len(pl.Nodes), len(p.Batches.Batches), p.Batches.Strategy)
	if r := p.Rotation; r != nil {
		b.WriteString(rotationSummary(st, *r, w))
	}
	b.WriteString(renderLines(st.Subtle, "why: "+p.Batches.Reason, w, 5) + "\n")
	var parts []string
	for _, bt := range p.Batches.Batches {
		ids := make([]string, len(bt.Stores))
		for i, id := range bt.Stores {
			ids[i] = fmt.Sprint(id)
		}
		s := fmt.Sprintf("%d:[%s]", bt.Index, strings.Join(ids, ","))
		if bt.Canary {
			s = st.Warn.Render(s + " canary")
		} else if bt.Zone != "" && p.Batches.Strategy == steps.BatchZone {
			s += " " + bt.Zone
		}
		parts = append(parts, s)
	}
	b.WriteString(hang("batches "+strings.Join(parts, " → "), w, 8) + "\n")
	s := pl.Strategy
	b.WriteString(hang(fmt.Sprintf("timeouts evict %s · restart %s · ready %s · verify %s · settle %s · leaders back %d%%",
		s.EvictTimeout.Duration, s.RestartTimeout.Duration, s.ReadyTimeout.Duration, s.VerifyTimeout.Duration, s.SettleTimeout.Duration, s.LeaderReturnPercent), w, 9) + "\n")
	b.WriteString(hang(fmt.Sprintf("policies eviction timeout → %s · verify failure → %s %s", pl.Policies.OnEvictTimeout, pl.Policies.OnVerifyFailure,
		st.Subtle.Render("(the dashboard asks you instead)")), w, 9) + "\n")
	if len(p.Checks) > 0 {
		b.WriteString(checkList(st, p.Checks, w, max(2, m.height/4)) + "\n")
	}
	if len(p.Diffs) > 0 {
		d := p.Diffs[m.diffIdx]
		b.WriteString(hang(fmt.Sprintf("%s %s:%s %s", st.Bold.Render(fmt.Sprintf("diff %d/%d", m.diffIdx+1, len(p.Diffs))), d.Host, d.Path,
			st.Subtle.Render(fmt.Sprintf("store %d · %3.0f%%", d.StoreID, m.diffView.ScrollPercent()*100))), w, 9) + "\n")
	}
	if m.confirmApply {
		q := fmt.Sprintf("Apply now? This rewrites tikv.toml and restarts %d stores, batch by batch. y apply · n not yet", len(pl.Nodes))
		if r := p.Rotation; r != nil {
			q = fmt.Sprintf("Rotate now? This makes %s in %s, rewrites tikv.toml and restarts %d stores, batch by batch. y rotate · n not yet", r.Next, r.Backend, len(pl.Nodes))
		}
		b.WriteString(st.Decision.Width(min(w, 120)).Render(q) + "\n")
	} else if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// rotationSummary is the rotation preview: generations, then the steps.
func rotationSummary(st Styles, r RotationPreview, w int) string {
	var b strings.Builder
	b.WriteString(hang("now      master-key = "+r.Current, w, 9) + "\n")
	next := "master-key = " + r.Next + ", previous-master-key = " + r.Current
	if r.Continuing {
		next += st.Warn.Render(" (an interrupted rotation goes on)")
	}
	b.WriteString(hang("during   "+next, w, 9) + "\n")
	for i, s := range r.Steps {
		b.WriteString(hang(fmt.Sprintf("  %d. %s", i+1, s), w, 5) + "\n")
	}
	return b.String()
}

// sizeDiff fits the diff viewer to what the plan summary leaves.
func (m *Model) sizeDiff() {
	w, h := max(m.width, 20), max(m.height, 6)
	bodyH := h - 3
	if m.opts.Incident {
		bodyH--
	}
	top := lipHeight(strings.TrimSuffix(m.planTop(w), "\n"))
	m.diffView.SetWidth(w)
	m.diffView.SetHeight(max(1, bodyH-top))
}

// renderDiff loads the selected node's diff, coloured.
func (m *Model) renderDiff() {
	if m.preview == nil || len(m.preview.Diffs) == 0 {
		m.diffView.SetContent("")
		return
	}
	st := m.styles
	lines := strings.Split(strings.TrimRight(m.preview.Diffs[m.diffIdx].Unified, "\n"), "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "@@"):
			lines[i] = st.DiffMeta.Render(l)
		case strings.HasPrefix(l, "+"):
			lines[i] = st.DiffAdd.Render(l)
		case strings.HasPrefix(l, "-"):
			lines[i] = st.DiffDel.Render(l)
		}
	}
	m.diffView.SetContentLines(lines)
	m.diffView.GotoTop()
}

func (m *Model) viewPlan(w, h int) string {
	top := m.planTop(w)
	if m.preview == nil || len(m.preview.Diffs) == 0 {
		return top
	}
	return top + m.diffView.View() // fit() clips it to the room left
}

// ---- verify, schedule, report ------------------------------------------------

func (m *Model) keyVerify(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Up):
		m.listOff = max(0, m.listOff-1)
	case key.Matches(msg, m.keys.Down):
		m.listOff = min(max(0, len(m.evidence)-1), m.listOff+1)
	}
	if key.Matches(msg, m.keys.Next) && m.preview != nil {
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
		room := max(1, h-lipHeight(b.String())-lipHeight(foot))
		shown := m.evidence[min(m.listOff, len(m.evidence)):]
		for i, e := range shown {
			if i >= room {
				b.WriteString(st.Subtle.Render(fmt.Sprintf("… %d more (↓)", len(shown)-i)) + "\n")
				break
			}
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
				line = st.Fail.Render(IconFail) + " " + line + " " + st.Fail.Render(strings.Join(e.Problems, "; "))
			}
			b.WriteString(line + "\n")
		}
		b.WriteString(foot)
	}
	return b.String()
}

func (m *Model) keySchedule(msg tea.KeyPressMsg) tea.Cmd {
	if cmd, ok := m.quitKey(msg); ok {
		return cmd
	}
	switch {
	case key.Matches(msg, m.keys.Up):
		m.schedIdx = max(0, m.schedIdx-1)
	case key.Matches(msg, m.keys.Down):
		m.schedIdx = min(len(m.sched)-1, m.schedIdx+1)
	case key.Matches(msg, m.keys.Next) && m.preview != nil:
		p := *m.preview
		if m.schedIdx < len(m.sched) {
			s := m.sched[m.schedIdx]
			p.Schedule = &s
		}
		return m.start(opReport, reportCmd(m.ctx, m.driver, m.result, p))
	}
	return nil
}

func (m *Model) viewSchedule(w, h int) string {
	st := m.styles
	var b strings.Builder
	b.WriteString(wrap(st.Bold.Render("Keep the master key rotating")+st.Subtle.Render("  (TiKV rotates data keys itself; the master key needs a schedule)"), w) + "\n")
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	for i, o := range m.sched {
		cur := "  "
		title := o.Title
		if i == m.schedIdx {
			cur, title = st.Selected.Render(IconCursor+" "), st.Selected.Render(title)
		}
		what := " · every " + o.Period
		if kind := scheduleKind(o); !strings.Contains(strings.ToLower(o.Title), strings.ToLower(kind)) { // "Kubernetes CronJob" says it already
			what += " · " + kind
		}
		fmt.Fprintf(&b, "%s%s\n", cur, hang(title+st.Subtle.Render(what), w-2, 2))
	}
	if m.schedIdx < len(m.sched) {
		o := m.sched[m.schedIdx]
		b.WriteString("\n")
		if o.Artefact != "" {
			b.WriteString(hang("file     "+o.Artefact, w, 9) + "\n")
		}
		if o.Install != "" {
			b.WriteString(hang("install  "+o.Install, w, 9) + "\n")
		}
		if o.Notes != "" {
			b.WriteString(renderLines(st.Subtle, "note     "+o.Notes, w, 9) + "\n")
		}
	}
	return b.String()
}

// scheduleKind names what a schedule option is, for a newcomer.
func scheduleKind(o ScheduleOption) string {
	switch {
	case o.KMSNative:
		return "built into the key service"
	case o.ID == "systemd":
		return "systemd timer"
	case o.ID == "cron":
		return "cron line"
	case o.ID == "kubernetes" || o.ID == "cronjob":
		return "Kubernetes CronJob"
	case o.ID == "manual" || o.Artefact == "":
		return "manual"
	}
	return "file to install"
}

func (m *Model) viewReport(w, h int) string {
	st := m.styles
	var b strings.Builder
	if s := m.status(); s != "" {
		b.WriteString(s + "\n")
	}
	if m.applyErr != nil {
		b.WriteString(renderLines(st.Fail, "The rollout did not finish: "+stoppedText(m.applyErr), w) + "\n\n")
	} else {
		ok := 0
		for _, e := range m.evidence {
			if e.OK {
				ok++
			}
		}
		done := "Encryption at rest is on"
		if m.opts.Rotate {
			done = "The master key is rotated"
		}
		line := st.Pass.Render(fmt.Sprintf("%s %s; %d of %d stores verified.", IconPass, done, ok, len(m.evidence)))
		if ok < len(m.evidence) {
			line = st.Warn.Render(fmt.Sprintf("%s %s, but only %d of %d stores verified: the report says which.", IconWarn, done, ok, len(m.evidence)))
		}
		b.WriteString(line + "\n\n")
	}
	if r := m.report; r != nil {
		b.WriteString(reportFiles(st, *r, w))
	}
	return b.String()
}

// reportFiles lists the report's files as their directory once and the file
// names under it, and the verify command as two lines to copy (cd into the
// directory, then the command with relative paths). Nothing is cut: a path
// wider than the terminal wraps.
func reportFiles(st Styles, r ReportFiles, w int) string {
	dir := commonDir(r.JSON, r.HTML, r.Bundle)
	var b strings.Builder
	name := func(p string) string {
		if dir != "" {
			return strings.TrimPrefix(p, dir+string(filepath.Separator))
		}
		return p
	}
	if dir != "" {
		b.WriteString(hang("in  "+dir+string(filepath.Separator), w, 4) + "\n")
	}
	files := [][2]string{{r.JSON, "signed report"}, {r.HTML, "HTML view"}, {r.Bundle, "signature bundle"}}
	nameW := 0
	for _, f := range files {
		nameW = max(nameW, ansi.StringWidth(name(f[0])))
	}
	for _, f := range files {
		if f[0] != "" {
			b.WriteString(hang(fmt.Sprintf("    %-*s  %s", nameW, name(f[0]), st.Subtle.Render(f[1])), w, 4) + "\n")
		}
	}
	if r.VerifyCommand == "" {
		return b.String()
	}
	b.WriteString("\nAnyone can check it later with:\n")
	cmd := r.VerifyCommand
	if dir != "" && strings.Contains(cmd, dir+string(filepath.Separator)) {
		b.WriteString("  " + st.Bold.Render(breakCommand("cd "+shquote.Quote(dir), w-2)) + "\n")
		cmd = strings.ReplaceAll(cmd, dir+string(filepath.Separator), "")
	}
	b.WriteString("  " + st.Bold.Render(breakCommand(cmd, w-2)) + "\n")
	return b.String()
}

// commonDir is the directory all the non-empty paths share, or "".
func commonDir(paths ...string) string {
	dir := ""
	for _, p := range paths {
		if p == "" {
			continue
		}
		d := filepath.Dir(p)
		switch {
		case dir == "":
			dir = d
		case d != dir:
			return ""
		}
	}
	if dir == "." {
		return ""
	}
	return dir
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
