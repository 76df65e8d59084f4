// Package shquote is the module's one shell quoter: it turns a string into
// one word of a POSIX shell command line. Single quotes preserve every byte
// between them, and a single quote itself is written as '\” (close, escaped
// quote, reopen): POSIX.1-2017, Shell Command Language, §2.2.2 Single-Quotes
// (https://pubs.opengroup.org/onlinepubs/9699919799/utilities/V3_chap02.html).
// It imports nothing but the standard library, so every room may use it.
package shquote

import "strings"

// safe reports whether s needs no quoting: it is not empty and made only of
// letters, digits and _@%+=:,./- (none of which the shell treats specially).
func safe(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_@%+=:,./-", r)) {
			return false
		}
	}
	return true
}

// Always returns s single-quoted, whatever it holds: for formats that demand
// the quotes (an env file read back by a strict reader, a cron command).
func Always(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Quote returns s as one shell word: as it is when it is safe, single-quoted
// otherwise ("" becomes ”).
func Quote(s string) string {
	if safe(s) {
		return s
	}
	return Always(s)
}

// Join quotes each word and joins them with spaces: a command line that runs
// exactly words.
func Join(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
