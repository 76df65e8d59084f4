package tikvconf

import (
	"bytes"
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines shown around each change.
const diffContext = 3

// maxDiffCells bounds the LCS table; larger changed regions are shown as one
// delete-all/insert-all block.
const maxDiffCells = 4 << 20

type diffOp struct {
	kind byte // ' ', '-', '+'
	a, b int  // line index in a (for ' ' and '-') and in b (for ' ' and '+')
}

// UnifiedDiff returns a unified diff (as diff -u prints it, with @@ hunks and
// three lines of context) that turns a into b, or "" when they are equal.
// pathA and pathB go into the --- and +++ lines.
func UnifiedDiff(pathA, pathB string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := splitLines(a), splitLines(b)
	ops := diffLines(la, lb)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", pathA, pathB)
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk starts diffContext lines before this change and grows while
		// the next change is within 2*diffContext unchanged lines.
		start := max(i-diffContext, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
				continue
			}
			if j-end > 2*diffContext {
				break
			}
		}
		stop := min(end+diffContext+1, len(ops))
		writeHunk(&out, ops[start:stop], la, lb)
		i = stop
	}
	return out.String()
}

// splitLines splits after each '\n'; the last line may lack one.
func splitLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, string(b))
			break
		}
		lines = append(lines, string(b[:i+1]))
		b = b[i+1:]
	}
	return lines
}

func writeHunk(out *strings.Builder, ops []diffOp, la, lb []string) {
	aStart, bStart, aLen, bLen := -1, -1, 0, 0
	for _, op := range ops {
		if op.kind != '+' {
			if aStart < 0 {
				aStart = op.a
			}
			aLen++
		}
		if op.kind != '-' {
			if bStart < 0 {
				bStart = op.b
			}
			bLen++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen, ops, true), hunkRange(bStart, bLen, ops, false))
	for _, op := range ops {
		var line string
		if op.kind == '+' {
			line = lb[op.b]
		} else {
			line = la[op.a]
		}
		out.WriteByte(op.kind)
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange renders "start,len" the way diff -u does (start is 1-based; an
// empty range names the line before it; ",1" is omitted).
func hunkRange(start, n int, ops []diffOp, sideA bool) string {
	if n == 0 {
		// The line before the hunk on this side.
		start = 0
		if len(ops) > 0 {
			if sideA {
				start = ops[0].a
			} else {
				start = ops[0].b
			}
		}
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// diffLines computes a line edit script: common prefix and suffix, then an
// LCS over the middle.
func diffLines(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []diffOp
	for i := 0; i < pre; i++ {
		ops = append(ops, diffOp{' ', i, i})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	ops = append(ops, lcsOps(ma, mb, pre, pre)...)
	for i := 0; i < suf; i++ {
		ops = append(ops, diffOp{' ', len(a) - suf + i, len(b) - suf + i})
	}
	return ops
}

func lcsOps(a, b []string, offA, offB int) []diffOp {
	n, m := len(a), len(b)
	var ops []diffOp
	if n*m > maxDiffCells || n == 0 || m == 0 {
		for i := range a {
			ops = append(ops, diffOp{'-', offA + i, offB})
		}
		for j := range b {
			ops = append(ops, diffOp{'+', offA + n, offB + j})
		}
		return ops
	}
	// dp[i][j] = LCS length of a[i:], b[j:].
	dp := make([][]int32, n+1)
	for i := range dp {
		dp[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', offA + i, offB + j})
			i++
			j++
		case j < m && (i == n || dp[i][j+1] > dp[i+1][j]):
			ops = append(ops, diffOp{'+', offA + i, offB + j})
			j++
		default:
			ops = append(ops, diffOp{'-', offA + i, offB + j})
			i++
		}
	}
	return ops
}
