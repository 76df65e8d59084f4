package report

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

func TestPhaseSpans(t *testing.T) {
	r := New(KindApply, at(0))
	r.FinishedAt = at(60)
	ev := func(min int, store uint64, phase, status string) Event {
		return Event{At: at(min), Store: store, Phase: phase, Status: status}
	}
	r.Timeline = []Event{
		ev(0, 0, "preflight", "ok"), // lone event: lasts until the scope's next phase, here none
		ev(1, 1, "evict", "started"), ev(3, 1, "evict", "ok"),
		ev(3, 1, "restart", "started"), ev(5, 1, "restart", "failed"),
		{At: at(6), Store: 1, Phase: "restart", Status: "decision-made", Decision: &Decision{Question: "retry?", Choice: "retry", DecidedBy: "operator:x"}},
		ev(7, 1, "restart", "started"), ev(9, 1, "restart", "ok"),
		ev(9, 1, "verify", "started"), // never finishes
		ev(10, 1, "run", "info"),
		ev(20, 2, "evict", "ok"), ev(25, 2, "settle", "skipped"),
	}
	var got []string
	for _, s := range phaseSpans(view(r)) {
		got = append(got, fmt.Sprintf("%d %s %s %s-%s %v", s.Store, s.Phase, s.Status, s.Start.Format("04"), s.End.Format("04"), s.ToRunEnd))
	}
	want := []string{
		"0 preflight ok 00-00 true",
		"1 evict ok 01-03 false",
		"1 restart failed 03-05 false",
		"1 restart ok 07-09 false",
		"1 verify unfinished 09-00 true",
		"2 evict ok 20-25 false",
		"2 settle skipped 25-00 true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("spans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDurationsAndTicks(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "<1s", 90 * time.Second: "1m30s", 2 * time.Hour: "2h", 26*time.Hour + 5*time.Minute: "1d2h5m", 1499 * time.Millisecond: "1s"} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for span, want := range map[time.Duration]time.Duration{28 * time.Minute: 5 * time.Minute, 30 * time.Second: 5 * time.Second, 40 * 24 * time.Hour: 96 * time.Hour} {
		if got := tickStep(span); got != want {
			t.Errorf("tickStep(%v) = %v, want %v", span, got, want)
		}
	}
}

// TestViewsTellTheAuditor checks the plain-words summary of both views:
// what was done to which stores, when, with which key (by identity and
// fingerprint), which key signed the report, and how to verify it, with a
// fingerprint command that prints exactly the signing key id named.
func TestViewsTellTheAuditor(t *testing.T) {
	s := newKeygenSigner(t, ECDSAP256)
	files, err := WriteSigned(context.Background(), t.TempDir(), sampleReport(), s)
	if err != nil {
		t.Fatal(err)
	}
	pemData, _ := os.ReadFile(files.PublicKey)
	pub, err := ParsePublicKeyPEM(pemData)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der) // what `openssl pkey -pubin -in pub.pem -outform DER | sha256sum` prints
	keyHex := hex.EncodeToString(sum[:])
	r := sampleReport()
	want := []string{
		"tikv-ear rotated the encryption master key on 2 stores (1, 2) of TiKV cluster prod-a (PD cluster id 7293847561234567890)",
		"2026-11-27 13:00:00 to 13:30:00 UTC (30m)",
		"Operator alice",
		"file key /run/tikv-ear/master.key, version 2, fingerprint " + r.Stores[0].After.MasterKey.Fingerprint,
		"report.json is signed with the key sha256:" + keyHex + " (ECDSA P-256, SHA-256)",
		"The command must print " + keyHex,
		"openssl pkey -pubin -in pub.pem -outform DER | sha256sum",
		"tikv-ear report verify report.json --key pub.pem",
		"cosign verify-blob-attestation --key pub.pem --bundle report.sigstore.json --insecure-ignore-tlog=true --type " + PredicateType + " report.json",
		"stays encrypted with aes256-ctr; master key replaced",
		"before: file key /run/tikv-ear/master.key, version 1, " + r.Stores[0].Before.MasterKey.Fingerprint,
		"2026-11-27 13:02:00 to 13:08:00 UTC (6m)",
		"1 fault (1 resolved); 1 decision; 2 findings (1 high, 1 info)",
	}
	for _, path := range []string{files.Markdown, files.HTML} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "<br>\n", "\n")
		for _, w := range want {
			w2 := strings.ReplaceAll(w, `"`, "&#34;")
			if !strings.Contains(text, w) && !strings.Contains(text, w2) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	// Without a signer the views still say where the key is and how to check it.
	md := string(RenderMarkdown(r))
	if !strings.Contains(md, "signed with the key in pub.pem") || !strings.Contains(md, "must print the fingerprint the operator published") {
		t.Error("unsigned rendering does not explain which key to use")
	}
}

// TestComplianceEvidencePointsAtReport checks that every evidence item of the
// compliance mapping names a report.json field that exists in the report (or
// one of the signature files) and a section of the views.
func TestComplianceEvidencePointsAtReport(t *testing.T) {
	for name, r := range map[string]*Report{"sample": sampleReport(), "realistic": realisticReport()} {
		cp := view(r)
		body, err := Canonical(cp)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		html, md := string(RenderHTML(r)), string(RenderMarkdown(r))
		n := 0
		for _, c := range cp.Compliance {
			for _, item := range c.Evidence {
				n++
				e := parseEvidence(item)
				switch {
				case e.Where == "":
					t.Errorf("%s %s: evidence %q names no report.json field", name, c.ID, item)
					continue
				case e.Where == FileReport:
				case e.Anchor == "":
					t.Errorf("%s %s: evidence %q points at no section", name, c.ID, item)
				case !strings.Contains(html, `id="`+e.Anchor+`"`):
					t.Errorf("%s %s: section #%s is not in the page", name, c.ID, e.Anchor)
				case !strings.Contains(md, "## "+e.Section+"\n"):
					t.Errorf("%s %s: Markdown has no heading %q for its link", name, c.ID, e.Section)
				}
				for _, where := range strings.Split(e.Where, ", ") {
					if where == FileReport || where == FileBundle || where == FileEnvelope {
						continue
					}
					if !pathExists(doc, strings.Split(where, ".")) {
						t.Errorf("%s %s: evidence %q names %s, which report.json does not have", name, c.ID, item, where)
					}
				}
			}
		}
		if n < 15 {
			t.Errorf("%s: only %d evidence items", name, n)
		}
	}
}

// pathExists resolves a path like stores[*].after.method in decoded JSON; [*]
// means "in some element" and the last field may be absent when empty only if
// its parent exists (omitempty fields such as previous_master_key).
func pathExists(v any, segs []string) bool {
	if len(segs) == 0 {
		return true
	}
	name, wildcard := strings.CutSuffix(segs[0], "[*]")
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	child, ok := obj[name]
	if !ok {
		return len(segs) == 1 && name == "previous_master_key"
	}
	if !wildcard {
		return pathExists(child, segs[1:])
	}
	arr, _ := child.([]any)
	for _, el := range arr {
		if pathExists(el, segs[1:]) {
			return true
		}
	}
	return false
}

// TestPlaintextPreviousKeyIsNoPreviousKey: a previous-master-key of type
// plaintext (TiKV's default, written out by some templates) on a first-time
// enable is not "still configured", nor a partial PCI 3.7.5; a real one is.
func TestPlaintextPreviousKeyIsNoPreviousKey(t *testing.T) {
	r := sampleReport()
	r.Kind = KindApply
	for i := range r.Stores {
		r.Stores[i].Before = StoreState{Method: tikv.MethodPlaintext, MasterKey: MasterKey{Type: tikv.MasterKeyPlaintext}}
		r.Stores[i].After.PreviousMasterKey = &MasterKey{Type: tikv.MasterKeyPlaintext}
	}
	pci375 := func(r *Report) Control {
		for _, c := range MapCompliance(r) {
			if c.ID == "3.7.5" {
				return c
			}
		}
		t.Fatal("no PCI 3.7.5")
		return Control{}
	}
	if md := RenderMarkdown(r); strings.Contains(string(md), "previous master key still configured") {
		t.Error("a first-time enable says a previous master key is still configured")
	}
	if c := pci375(r); strings.Contains(c.Note, "previous-master-key") {
		t.Errorf("3.7.5 counts a plaintext previous key: %+v", c)
	}
	// A first-time enable after a rolled-back attempt that left its master key:
	// the data was plaintext, so no "still configured" previous key of an
	// earlier encryption; the report says what the data says.
	r.Stores[0].After.PreviousMasterKey = &MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-ear/attempt.key"}
	if md := string(RenderMarkdown(r)); strings.Contains(md, "previous master key still configured") || !strings.Contains(md, "the data was plaintext before") {
		t.Errorf("a first-time enable with a key left by an earlier attempt:\n%s", md)
	}
	r.Kind = KindRotate
	for i := range r.Stores {
		r.Stores[i].Before = StoreState{Method: tikv.MethodAES256CTR, MasterKey: MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-ear/old.key"}}
	}
	r.Stores[0].After.PreviousMasterKey = &MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-ear/old.key"}
	if md := RenderMarkdown(r); !strings.Contains(string(md), "previous master key still configured") {
		t.Error("a real previous master key is not reported")
	}
	if c := pci375(r); c.Status != ControlPartial || !strings.Contains(c.Note, "1 stores still list a previous-master-key") {
		t.Errorf("3.7.5 with one store still naming the old key: %+v", c)
	}
}
