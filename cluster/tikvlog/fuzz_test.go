package tikvlog

import (
	"slices"
	"strings"
	"testing"
)

func FuzzParseLine(f *testing.F) {
	for _, l := range strings.Split(sampleLog, "\n") {
		f.Add(l)
	}
	f.Add(`[2018/12/15 14:20:11.015 +08:00] [WARN] [session.go:1234] ["Slow query"] [sql="SELECT * FROM TABLE\nWHERE ID=\"abc\""] [duration=1.345s]`)
	f.Fuzz(func(t *testing.T, line string) {
		l, err := ParseLine(line)
		if err != nil {
			return
		}
		if !slices.Contains(Levels(), l.Level) {
			t.Fatalf("accepted level %q", l.Level)
		}
		if m, ok := Lookup(l.Message); ok && !m.Matches(l.Message) {
			t.Fatalf("catalogue match %s does not match %q", m.Name, l.Message)
		}
		_ = NewScanner(strings.NewReader(line)).Scan()
	})
}
