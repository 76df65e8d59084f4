package tikvconf

import (
	"bytes"

	udiff "github.com/aymanbagabas/go-udiff"
)

// UnifiedDiff returns a unified diff (as diff -u prints it, with @@ hunks and
// three lines of context) that turns a into b, or "" when they are equal.
// pathA and pathB go into the --- and +++ lines. The diff is go-udiff's
// (github.com/aymanbagabas/go-udiff, the diff package of golang.org/x/tools).
func UnifiedDiff(pathA, pathB string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	return udiff.Unified(pathA, pathB, string(a), string(b))
}
