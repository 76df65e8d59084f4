package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// TestViewsShowUnknownVerdicts renders a report whose stores are proven,
// failing, unknown (with the reason) and without any recorded verdict, and
// checks that both views say which is which in words: an unknown store is
// "unknown (not proven)" with its reason, a store without a verdict is
// unknown too, and neither is ever called healthy, passed or proven.
func TestViewsShowUnknownVerdicts(t *testing.T) {
	r := sampleReport()
	base := r.Stores[0]
	mk := func(id uint64, v *verdict.Verdict) Store {
		s := base
		s.ID, s.Address = id, "10.0.0.2"+string(rune('0'+id))+":20160"
		s.Verification.Verdict = v
		return s
	}
	failing := verdict.Fail("FATAL in the log: Encryption failed to initialize")
	unknown := verdict.Unsure("tikv.log has 2 unparsed lines after the last start (lines 3, 4)")
	r.Stores = []Store{mk(1, r.Stores[0].Verification.Verdict), mk(2, &failing), mk(3, &unknown), mk(4, nil)}

	md, html := RenderMarkdown(r), RenderHTML(r)
	for name, text := range map[string]string{"report.md": string(md), "report.html": string(html)} {
		blocks := storeBlocks(t, name, text)
		want := map[uint64][]string{
			1: {"proven: the run&#39;s verification rules passed"},
			2: {"failing: FATAL in the log: Encryption failed to initialize"},
			3: {"unknown (not proven): tikv.log has 2 unparsed lines after the last start (lines 3, 4)"},
			4: {"unknown (not proven): " + NoVerdict},
		}
		for id, texts := range want {
			b := blocks[id]
			for _, w := range texts {
				if name == "report.md" {
					w = strings.ReplaceAll(w, "&#39;", "'")
				}
				if !strings.Contains(b, w) {
					t.Errorf("%s store %d: want %q in\n%s", name, id, w, b)
				}
			}
			if id == 3 || id == 4 {
				low := strings.ToLower(b)
				for _, never := range []string{"healthy", "pass", "proven:", "verdict-proven", " ok"} {
					if strings.Contains(low, never) {
						t.Errorf("%s store %d (unknown) says %q:\n%s", name, id, never, b)
					}
				}
			}
		}
	}
}

// storeBlocks cuts a view's "Verification evidence" section into each store's block.
func storeBlocks(t *testing.T, name, text string) map[uint64]string {
	t.Helper()
	start := strings.Index(text, "Verification evidence")
	end := strings.Index(text[start:], "Coverage")
	if start < 0 || end < 0 {
		t.Fatalf("%s has no verification evidence section", name)
	}
	sec := text[start : start+end]
	head := regexp.MustCompile(`(?:\*\*Store |<h4>Store )(\d)`)
	idx := head.FindAllStringSubmatchIndex(sec, -1)
	out := map[uint64]string{}
	for i, m := range idx {
		stop := len(sec)
		if i+1 < len(idx) {
			stop = idx[i+1][0]
		}
		out[uint64(sec[m[2]]-'0')] = sec[m[0]:stop]
	}
	if len(out) != 4 {
		t.Fatalf("%s: %d store blocks in the verification evidence, want 4", name, len(out))
	}
	return out
}
