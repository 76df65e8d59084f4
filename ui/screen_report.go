package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/internal/shquote"
)

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
	if sum := m.runSummary(); len(sum) > 0 {
		b.WriteString(st.Bold.Render("Run summary") + "\n")
		for _, l := range sum {
			b.WriteString(hang(l, w, 11) + "\n")
		}
		b.WriteString("\n")
	}
	if r := m.report; r != nil {
		// The run summary above is the only one shown: r.Summary (the
		// headless lines) would repeat it.
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
