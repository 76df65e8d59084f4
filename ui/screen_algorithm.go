package ui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/steps"
)

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
		if a.Speed.Measured() && !a.Disabled {
			line += st.Subtle.Render(" · " + speedShort(a.Speed))
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
		// The gate is the TiKV version each store reports; nothing more is
		// known from here of what its binary can run.
		fmt.Fprintf(&b, "versions    %s %d of %d stores run a TiKV version that has it\n", st.status(map[bool]string{true: steps.Pass, false: steps.Fail}[len(bad) == 0]), ok, len(a.Gates))
		for _, s := range bad {
			b.WriteString("            " + st.Fail.Render(s) + "\n")
		}
		if a.Method == tikv.MethodSM4CTR {
			// Whether a store's binary links OpenSSL statically cannot be read
			// from PD or the status port: unknown, never "can run it"
			// (reference tikv-encryption.md §2.4).
			b.WriteString(hang("build       "+st.Warn.Render("unknown")+": SM4 needs TiKV built with static OpenSSL; a dynamically linked build refuses to start (\""+tikv.ErrSM4Dynamic+"\"): the canary shows it first", w, 12) + "\n")
		}
		if isAES(a.Method) { // AES-NI speeds up AES only; SM4 does not use it
			b.WriteString(hang(aesniLine(st, a.AESNI), w, 12) + "\n")
		}
		if a.Speed.Measured() {
			b.WriteString(speedDetail(st, a.Speed, w))
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

// speedShort is a method's throughput on its list line: the median with
// its range, or only the range when the samples disagree too much.
func speedShort(t Throughput) string {
	lo, hi := t.Range()
	if t.Noisy() {
		return fmt.Sprintf("%.0f–%.0f MB/s here (noisy)", lo, hi)
	}
	return fmt.Sprintf("~%.0f MB/s here (%.0f–%.0f)", t.Median(), lo, hi)
}

// speedDetail says what was measured, where, and how far to trust it.
func speedDetail(st Styles, t Throughput, w int) string {
	lo, hi := t.Range()
	var b strings.Builder
	b.WriteString(hang(fmt.Sprintf("throughput  median %.0f MB/s of %d samples of %d MiB, range %.0f–%.0f (spread %.0f%%)",
		t.Median(), len(t.Samples), t.Bytes>>20, lo, hi, t.Spread()*100), w, 12) + "\n")
	where := "on this machine"
	if t.Machine != "" {
		where = "on this machine (" + t.Machine + ")"
	}
	b.WriteString(indented(st.Subtle, where+", not on the TiKV hosts: it compares the methods, it is not a capacity figure", w, 12) + "\n")
	if t.Noisy() {
		b.WriteString(indented(st.Warn, "noisy: the samples differ by more than a quarter (the machine is busy); read no figure from them", w, 12) + "\n")
	}
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

// algorithmPage is the Algorithm screen: the data encryption method, gated by every store's TiKV version.
type algorithmPage struct{}

func (algorithmPage) key(m *Model, msg tea.KeyPressMsg) tea.Cmd { return m.keyAlgorithm(msg) }
func (algorithmPage) view(m *Model, w, h int) string            { return m.viewAlgorithm(w, h) }
