package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// realisticReport is an apply run over four stores the way cli.BuildReport
// records one: every step as a started/ok pair, a failed restart with its
// fault and the operator's decision, cluster-wide steps, findings, and the
// compliance mapping filled by Sign.
func realisticReport() *Report {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	t := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	r := New(KindApply, t(0))
	r.RunID = "apply-20261127-0900"
	r.Outcome = OutcomeSucceeded
	r.Cluster = Cluster{PDClusterID: "7301845120931826417", PDEndpoints: []string{"http://10.1.0.1:2379", "http://10.1.0.2:2379"}, TiUPName: "prod-east", TiKVVersions: []string{"v8.5.1"}}
	r.Operator = "carol"
	r.Tool = Tool{Name: "tikv-ear", Version: "v0.3.0", Commit: "9f1c2ab"}
	r.PlanDigest = Digest([]byte("plan.toml of prod-east"))
	mk := MasterKeyFromConfig(tikv.MasterKey{Type: tikv.MasterKeyKMS, Vendor: tikv.VendorAWS, KeyID: "alias/tikv-ear-prod-east", Region: "us-east-1"}, "1", Fingerprint([]byte("kms key identity")))
	plain := MasterKey{Type: tikv.MasterKeyPlaintext}

	var tl []Event
	step := func(store uint64, phase string, from, to int, status, detail string) {
		tl = append(tl, Event{At: t(from), Store: store, Phase: phase, Status: "started"}, Event{At: t(to), Store: store, Phase: phase, Status: status, Detail: detail})
	}
	step(0, "preflight", 0, 40, "ok", "3 PD members healthy; 4 stores Up")
	step(0, "prepare-keys", 40, 75, "ok", "AWS KMS key alias/tikv-ear-prod-east checked")
	step(0, "stage", 75, 120, "ok", "config staged on 4 hosts")
	now := 120
	ids := []uint64{1, 4, 5, 7}
	for i, id := range ids {
		evict := 90 + 30*i
		step(id, "evict", now, now+evict, "ok", "leaders moved off")
		now += evict
		step(id, "swap", now, now+15, "ok", "")
		now += 15
		if id == 5 {
			step(id, "restart", now, now+75, "failed", "tikv-server did not start")
			tl = append(tl, Event{At: t(now + 80), Store: id, Phase: "restart", Status: "decision-made",
				Decision: &Decision{Question: "Store 5 failed to start. Retry or roll back?", Options: []string{"retry", "rollback"}, Choice: "retry", DecidedBy: "operator:carol"}})
			r.Faults = append(r.Faults, Fault{At: t(now + 75), Store: id, Kind: "start-failure", Message: "tikv-server exited: disk full on /data1",
				Resolution: "operator freed space and retried", ResolvedAt: t(now + 150)})
			now += 90
		}
		step(id, "restart", now, now+60, "ok", "")
		now += 60
		step(id, "ready", now, now+30, "ok", "port open, PD Up")
		now += 30
		step(id, "verify", now, now+25, "ok", "log line, metrics, key.dict")
		now += 25
		step(id, "release", now, now+10, "ok", "")
		now += 10
		step(id, "settle", now, now+90, "ok", "leaders back")
		now += 90
	}
	step(0, "finalize", now, now+45, "ok", "TiUP meta synced")
	now += 45
	r.Timeline = tl
	r.FinishedAt = t(now + 5)

	for i, id := range ids {
		addr := fmt.Sprintf("10.1.1.%d:20160", 10+i)
		enc, pt := int64(300+40*i), int64(900-40*i)
		r.Stores = append(r.Stores, Store{
			ID: id, Address: addr, Zone: []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"}[i],
			Before: StoreState{Version: "v8.5.1", Method: tikv.MethodPlaintext, MasterKey: plain, ConfigDigest: Digest([]byte(addr + "before"))},
			After: StoreState{Version: "v8.5.1", Method: tikv.MethodAES256CTR, DataKeyRotationPeriod: "7d", MasterKey: mk,
				ConfigDigest: Digest([]byte(addr + "after"))},
			Verification: Verification{
				LogLines: []LogLine{{Time: r.FinishedAt, Level: "INFO", Message: tikvlog.MsgEnabled.Format("Aes256Ctr"), Catalog: tikvlog.MsgEnabled.Name}},
				Metrics:  []Metric{{Name: tikv.MetricIsInitialized, Value: "1"}},
				Leaders:  120 + int64(i),
				KeyDict:  &KeyDict{Method: tikv.MetadataMethodAES256GCM, KMSVendor: tikv.StoredVendorAWS, DataKeys: 1, CurrentDataKeyID: "1"},
				Coverage: &Coverage{FilesEncrypted: enc, FilesPlaintext: pt, BytesEncrypted: enc << 20, BytesPlaintext: pt << 20,
					Note: "only files written after enabling are encrypted; compaction rewrites the rest over time"},
			},
		})
	}
	r.Schedule = &Schedule{MasterKeyPeriodDays: 365, DataKeyRotationPeriod: "7d", SigningKeyPeriodDays: 730,
		LastMasterKeyRotation: t(60), NextDue: t(60).AddDate(1, 0, 0), Mechanism: "systemd", KMSNative: "AWS KMS automatic rotation every 365 days"}
	r.Keys = []KeyEvidence{{Role: "master-key", Backend: "aws-kms", KeyID: "alias/tikv-ear-prod-east", LatestVersion: "1", RotationEnabled: true, RotationPeriod: "365d",
		Versions: []KeyVersion{{Version: "1", CreatedAt: t(60)}}}}
	r.Findings = []Finding{
		{Severity: SeverityMedium, Message: "3,580 data files are still plaintext on disk", Fix: "they are rewritten by compaction; run tikv-ear audit again in a week"},
		{Severity: SeverityInfo, Store: 5, Message: "store 5 needed a retry after its first restart failed", Fix: "keep 20% free space on /data1"},
	}
	return r
}

// chromiumArgs are the flags every headless run needs here: no sandbox (CI
// runs as root), and no background networking so Chromium does not flood the
// closed network; a fresh profile per run.
func chromiumArgs(profile string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--force-color-profile=srgb", "--hide-scrollbars",
		"--user-data-dir=" + profile, "--window-size=1280,2000"}
}

func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, append(chromiumArgs(t.TempDir()), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func hexRGB(s string) [3]uint8 {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	return [3]uint8{uint8(v >> 16), uint8(v >> 8), uint8(v)}
}

func near(c [3]uint8, r, g, b uint32) bool {
	d := func(a uint8, x uint32) int { return int(a) - int(x>>8) }
	abs := func(x int) int { return max(x, -x) }
	return abs(d(c[0], r)) <= 3 && abs(d(c[1], g)) <= 3 && abs(d(c[2], b)) <= 3
}

// TestHTMLInHeadlessChromium opens a signed report's report.html in the real
// browser: it takes a screenshot and checks that the timeline was drawn (the
// phase colours, one band of bars per store), and dumps the DOM to check the
// SVG's rows and store ids. It fails when chromium is not installed.
func TestHTMLInHeadlessChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required for this test (apt-get install chromium; .ci/run installs it): %v", err)
	}
	r := realisticReport()
	files, err := WriteSigned(context.Background(), t.TempDir(), r, newKeygenSigner(t, ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(files.Report, VerifyOptions{KeyPath: files.PublicKey, BundlePath: files.Bundle}); err != nil {
		t.Fatal(err)
	}
	page := "file://" + files.HTML

	// The DOM, as Chromium parsed it.
	dom := string(runChromium(t, bin, "--dump-dom", page))
	svg := regexp.MustCompile(`(?s)<svg id="timeline-chart".*?</svg>`).FindString(dom)
	if svg == "" {
		t.Fatalf("the DOM has no timeline SVG:\n%.2000s", dom)
	}
	rows := regexp.MustCompile(`<g class="store-row" data-store="(\d+)">\s*<text[^>]*>([^<]*)</text>`).FindAllStringSubmatch(svg, -1)
	var got []string
	for _, m := range rows {
		if m[2] != "store "+m[1] {
			t.Errorf("row for store %s is labelled %q", m[1], m[2])
		}
		got = append(got, m[1])
	}
	if strings.Join(got, ",") != "1,4,5,7" {
		t.Errorf("timeline rows are for stores %v, want one per store 1,4,5,7", got)
	}
	if n := strings.Count(svg, `class="cluster-row"`); n != 1 {
		t.Errorf("%d cluster rows", n)
	}
	for _, want := range []string{`class="decision"`, `class="fault"`, `<title id="timeline-title">`, `aria-labelledby="timeline-title timeline-desc"`, "store 5, restart: failed", "in total", "UTC"} {
		if !strings.Contains(svg, want) && !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	for _, want := range []string{`id="phases-per-store"`, "store 5", "tikv-ear enabled encryption at rest on 4 stores (1, 4, 5, 7)", "cosign verify-blob-attestation"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") {
		t.Error("the page has a script")
	}

	// The screenshot.
	shot := filepath.Join(t.TempDir(), "report.png")
	runChromium(t, bin, "--screenshot="+shot, page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Fatalf("screenshot is %v, want 1280x2000", b)
	}
	// REPORT_SCREENSHOT_DIR keeps a copy of the screenshot and the page, to look at.
	if dir := os.Getenv("REPORT_SCREENSHOT_DIR"); dir != "" {
		for src, name := range map[string]string{shot: "report-screenshot.png", files.HTML: "report-screenshot.html"} {
			if data, err := os.ReadFile(src); err == nil {
				_ = os.WriteFile(filepath.Join(dir, name), data, 0o644)
			}
		}
	}
	checkTimelinePixels(t, img, r)
}

// checkTimelinePixels finds the chart's phase colours in the screenshot: at
// least six phases must be visible, the evict colour must form one band per
// store row, and the page must not be blank.
func checkTimelinePixels(t *testing.T, img image.Image, r *Report) {
	t.Helper()
	c := timelineChart(view(r))
	if c == nil {
		t.Fatal("no chart")
	}
	colour := map[string][3]uint8{}
	for i, p := range c.PhasesInLegend {
		colour[p] = hexRGB(phasePalette[i%len(phasePalette)])
	}
	b := img.Bounds()
	counts := map[string]int{}
	evictRows := map[int]bool{}
	nonWhite := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr>>8 < 245 || cg>>8 < 245 || cb>>8 < 245 {
				nonWhite++
			}
			for p, rgb := range colour {
				if near(rgb, cr, cg, cb) {
					counts[p]++
					if p == "evict" {
						evictRows[y] = true
					}
				}
			}
		}
	}
	visible := 0
	for _, p := range c.PhasesInLegend {
		if counts[p] >= 100 {
			visible++
		}
	}
	if visible < 6 {
		t.Errorf("only %d phase colours are visible in the screenshot (pixels per phase: %v)", visible, counts)
	}
	bands, prev := 0, -10
	for y := b.Min.Y; y < b.Max.Y; y++ {
		if evictRows[y] {
			if y > prev+1 {
				bands++
			}
			prev = y
		}
	}
	// One evict bar per store row, plus the evict swatch in the legend.
	if bands != len(r.Stores)+1 {
		t.Errorf("the evict colour forms %d horizontal bands, want %d (one per store and the legend)", bands, len(r.Stores)+1)
	}
	if frac := float64(nonWhite) / float64(b.Dx()*b.Dy()); frac < 0.05 {
		t.Errorf("only %.1f%% of the screenshot is not background", 100*frac)
	}
}
