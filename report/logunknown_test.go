package report

import (
	"context"
	"strings"
	"testing"
)

// A store whose TiKV log since the restart could not be read carries that
// as its own unknown, in the JSON, the Markdown and the HTML; the signed
// report still verifies, and a store whose log was read says nothing more.
func TestUnreadLogIsUnknownInTheReport(t *testing.T) {
	r := sampleReport()
	if len(r.Stores) < 2 {
		t.Fatalf("sample report has %d stores, want 2 or more", len(r.Stores))
	}
	r.Stores[0].Verification.Log, r.Stores[0].Verification.LogReason = LogUnknown, "ssh: reading tikv.log: permission denied"
	r.Stores[0].Verification.LogLines = nil
	r.Stores[1].Verification.Log = LogRead
	want := "unknown (not read: ssh: reading tikv.log: permission denied)"
	md, html := string(RenderMarkdown(r)), string(RenderHTML(r))
	for name, text := range map[string]string{"markdown": md, "html": html} {
		if strings.Count(text, want) != 1 {
			t.Errorf("%s names the unread log %d times, want once", name, strings.Count(text, want))
		}
	}
	files, err := WriteSigned(context.Background(), t.TempDir(), r, newKeygenSigner(t, ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, BundlePath: files.Bundle}); err != nil {
		t.Fatalf("report verify: %v", err)
	}
	got, err := Load(files.Report)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Stores[0].Verification; v.Log != LogUnknown || v.LogEvidence() != want {
		t.Fatalf("signed report's store 1 log: %q %q", v.Log, v.LogEvidence())
	}
}
