package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tikv-ear/tikv-ear/steps"
)

// Exit codes (reference charm-v2-and-style.md §4).
const (
	ExitOK      = 0
	ExitFailure = 1   // an operation failed
	ExitUsage   = 2   // bad input, or a prompt would be needed without a TTY
	ExitAborted = 130 // the operator aborted
)

// Error is a user-facing error: a lowercase message, optional hints that say
// how to fix it, and the exit code to use.
type Error struct {
	Msg   string
	Hints []string
	Code  int
	Err   error // wrapped cause, not printed separately
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Usagef returns an exit-2 error with a hint.
func Usagef(hint string, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hints: nonEmpty(hint), Code: ExitUsage}
}

// Failf returns an exit-1 error with a hint.
func Failf(hint string, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hints: nonEmpty(hint), Code: ExitFailure}
}

// Hinted is implemented by errors from other packages that carry a fix.
type Hinted interface{ Hint() string }

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

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
