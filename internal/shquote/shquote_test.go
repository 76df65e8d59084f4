package shquote

import (
	"os/exec"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":              "''",
		"/data/tikv-1":  "/data/tikv-1",
		"a b":           "'a b'",
		"it's":          `'it'\''s'`,
		"$HOME":         "'$HOME'",
		"key=v,w:x@y%z": "key=v,w:x@y%z",
		"ünïcode":       "'ünïcode'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Always("plain"); got != "'plain'" {
		t.Errorf("Always(plain) = %s", got)
	}
}

// TestTheShellReadsBackEveryWord runs /bin/sh on the quoted words and checks
// it sees each one unchanged.
func TestTheShellReadsBackEveryWord(t *testing.T) {
	words := []string{"", "a b", "it's", `back\slash`, "$HOME", "`id`", "semi;colon", "new\nline", "*", "tab\there", "-n"}
	line := `for w in ` + Join(words...) + `; do printf '%s\0' "$w"; done`
	out, err := exec.Command("/bin/sh", "-c", line).Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", line, err)
	}
	var got []string
	start := 0
	for i, b := range out {
		if b == 0 {
			got = append(got, string(out[start:i]))
			start = i + 1
		}
	}
	if len(got) != len(words) {
		t.Fatalf("the shell saw %d words, want %d: %q", len(got), len(words), got)
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: the shell saw %q, want %q", i, got[i], words[i])
		}
	}
}
