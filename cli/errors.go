package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tikv-ear/tikv-ear/steps"
)

// Exit codes: the engine's (steps), so every face maps errors alike.
const (
	ExitOK      = steps.ExitOK
	ExitFailure = steps.ExitFailure
	ExitUsage   = steps.ExitUsage
	ExitAborted = steps.ExitAborted
)

// Error is the engine's user-facing error (steps.Error): message, hints, exit code.
type Error = steps.Error

// Usagef returns an exit-2 error with a hint.
func Usagef(hint string, format string, args ...any) *Error {
	return steps.Usagef(hint, format, args...)
}

// Failf returns an exit-1 error with a hint.
func Failf(hint string, format string, args ...any) *Error { return steps.Failf(hint, format, args...) }

// Hinted is implemented by errors from other packages that carry a fix.
type Hinted interface{ Hint() string }

// report prints err in age's voice and returns the exit code.
func reportErr(w io.Writer, err error) int {
	code := ExitFailure
	msg := err.Error()
	var hints []string
	var e *Error
	var pe *steps.PlanError
	switch {
	case errors.As(err, &e):
		code = e.Code
		hints = append(hints, e.Hints...)
	case errors.As(err, &pe):
		// A plan the engine cannot take is bad input (docs/commands.md: exit 2).
		code = ExitUsage
	}
	var h Hinted
	if errors.As(err, &h) && h.Hint() != "" {
		hints = append(hints, h.Hint())
	}
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(w, "tikv-ear: error: %s\n", line)
	}
	for _, hint := range hints {
		fmt.Fprintf(w, "tikv-ear: hint: %s\n", hint)
	}
	return code
}

// deprecatedFlag takes the value of a flag's old spelling (a hidden alias
// kept so scripts go on working) into the new one, with a one-line notice.
func deprecatedFlag(g *Globals, old, new, value string, dst *string) {
	if value == "" {
		return
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: notice: %s is deprecated; use %s (docs/commands.md, flag vocabulary)\n", old, new)
	*dst = value
}
