package steps

import "fmt"

// Exit codes (reference charm-v2-and-style.md §4). The engine classifies its
// refusals with them so every face maps an error to the same exit status.
const (
	ExitOK      = 0
	ExitFailure = 1   // an operation failed
	ExitUsage   = 2   // bad input, or a prompt would be needed without a TTY
	ExitAborted = 130 // the operator aborted
)

// Error is a user-facing error: a lowercase message, optional hints that say
// how to fix it, and the exit code a command maps it to.
type Error struct {
	Msg   string
	Hints []string
	Code  int
	Err   error // wrapped cause, not printed separately
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Usagef returns an exit-2 error with a hint.
func Usagef(hint string, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hints: nonEmpty(hint), Code: ExitUsage}
}

// Failf returns an exit-1 error with a hint.
func Failf(hint string, format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...), Hints: nonEmpty(hint), Code: ExitFailure}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
