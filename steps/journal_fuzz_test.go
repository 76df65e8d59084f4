package steps

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzReadJournal feeds arbitrary bytes to the journal reader: it must never
// panic, reject corruption before the last line with the file and line, drop
// only a torn last line, and LastRun must digest whatever it accepted.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-04T10:00:00Z","run":"r1","kind":"apply","step":"restart","store_id":1,"state":"done"}` + "\n"))
	f.Add([]byte(`{"time":"2026-12-04T10:00:00Z","run":"r1","kind":"apply","step":"evict","store_id":2,"state":"started","detail":{"limit":"4"}}` + "\n" + `{"run":"r1","st`))
	f.Add([]byte("not json\n{}\n"))
	f.Add([]byte("{}\n\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readRecords(bytes.NewReader(data), "journal.ndjson")
		if err != nil {
			if !strings.Contains(err.Error(), "journal.ndjson") && !strings.Contains(err.Error(), "token too long") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n"))
		if !bytes.HasSuffix(data, []byte("\n")) && len(data) > 0 {
			lines++
		}
		if len(recs) > lines {
			t.Fatalf("%d records from %d lines", len(recs), lines)
		}
		for _, r := range recs {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("accepted a record that does not encode: %v", err)
			}
		}
		_, _ = LastRun(recs)
	})
}
