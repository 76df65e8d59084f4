package gather

import "testing"

func TestScanLogCountsFatalLinesOutsideTheCatalogue(t *testing.T) {
	tail := []byte(`[2026/11/27 09:00:00.000 +00:00] [INFO] [mod.rs:1] ["encryption is enabled. method = Aes256Ctr"]
[2026/11/27 09:05:00.000 +00:00] [FATAL] [server.rs:100] ["some start-up failure the catalogue does not name"]
`)
	lf := ScanLog(tail, false, 8)
	if !lf.FatalAfterStart {
		t.Fatal("a FATAL line after the last start outcome must mark the start failed")
	}
	last := lf.Events[len(lf.Events)-1]
	if last.Level != "FATAL" || last.Name != "fatal" || last.Message != "some start-up failure the catalogue does not name" {
		t.Fatalf("last event %+v", last)
	}
	ok := ScanLog(append(tail, []byte(`[2026/11/27 09:06:00.000 +00:00] [INFO] [mod.rs:1] ["encryption is enabled. method = Aes256Ctr"]
`)...), false, 8)
	if ok.FatalAfterStart {
		t.Fatal("a later successful start clears the failure")
	}
}
