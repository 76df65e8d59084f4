package report

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"
)

// svg chart geometry (pixels).
const (
	chartWidth  = 900
	chartLabelW = 110
	chartRowH   = 24
	chartTop    = 24
)

// phasePalette colours timeline phases; phases are assigned colours in order of first appearance.
var phasePalette = [...]string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

type svgBar struct {
	X, Y, W, H  int
	Fill, Title string
}

type svgRow struct {
	Y     int
	Label string
}

type svgLegend struct {
	X, Y  int
	Fill  string
	Phase string
}

type chart struct {
	Width, Height int
	Rows          []svgRow
	Bars          []svgBar
	Legend        []svgLegend
	Start, End    string
	EndX          int
}

// timelineChart lays out one row per store with a bar per phase, from each
// store event to the store's next event (or the end of the run).
func timelineChart(r *Report) *chart {
	byStore := map[uint64][]Event{}
	for _, e := range r.Timeline {
		if e.Store != 0 && !e.At.IsZero() {
			byStore[e.Store] = append(byStore[e.Store], e)
		}
	}
	if len(byStore) == 0 {
		return nil
	}
	start, end := r.StartedAt, asOf(r)
	for _, es := range byStore {
		for _, e := range es {
			if e.At.Before(start) {
				start = e.At
			}
			if e.At.After(end) {
				end = e.At
			}
		}
	}
	span := end.Sub(start)
	if span <= 0 {
		span = 1
	}
	plotW := chartWidth - chartLabelW - 10
	x := func(t int64) int { return chartLabelW + int(t*int64(plotW)/int64(span)) }
	ids := make([]uint64, 0, len(byStore))
	for id := range byStore {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	colors := map[string]string{}
	var phases []string
	c := &chart{Width: chartWidth, Start: rfc3339(start), End: rfc3339(end), EndX: chartWidth - 10}
	for i, id := range ids {
		es := byStore[id]
		sort.SliceStable(es, func(a, b int) bool { return es[a].At.Before(es[b].At) })
		y := chartTop + i*chartRowH
		c.Rows = append(c.Rows, svgRow{Y: y + chartRowH/2 + 4, Label: "store " + strconv.FormatUint(id, 10)})
		for j, e := range es {
			stop := end
			if j+1 < len(es) {
				stop = es[j+1].At
			}
			if _, ok := colors[e.Phase]; !ok {
				colors[e.Phase] = phasePalette[len(phases)%len(phasePalette)]
				phases = append(phases, e.Phase)
			}
			x0, x1 := x(int64(e.At.Sub(start))), x(int64(stop.Sub(start)))
			fill := colors[e.Phase]
			if e.Status == "failed" {
				fill = "#d62728"
			}
			c.Bars = append(c.Bars, svgBar{X: x0, Y: y + 2, W: max(x1-x0, 2), H: chartRowH - 4, Fill: fill,
				Title: fmt.Sprintf("store %d %s %s %s → %s", id, e.Phase, e.Status, rfc3339(e.At), rfc3339(stop))})
		}
	}
	ly := chartTop + len(ids)*chartRowH + 20
	for i, p := range phases {
		c.Legend = append(c.Legend, svgLegend{X: chartLabelW + (i%6)*130, Y: ly + (i/6)*18, Fill: colors[p], Phase: p})
	}
	c.Height = ly + ((len(phases)+5)/6)*18 + 10
	return c
}

type htmlData struct {
	R          *Report
	Summary    [][2]string
	Ages       []KeyAge
	Chart      *chart
	Findings   []Finding
	Predicate  string
	StoreRef   func(uint64) string
	Time       func(time.Time) string
	MasterKey  func(MasterKey) string
	Coverage   func(*Coverage) string
	AgeStatus  func(KeyAge) string
	Labels     func(map[string]string) string
	PolicyDays func(int64) string
}

var htmlTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TiKV encryption at rest: {{.R.Kind}} report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}code{font-size:.85rem;word-break:break-all}
.supported,.ok{color:#1a7f37;font-weight:600}.partial{color:#9a6700;font-weight:600}
.not-evidenced,.failed,.OVERDUE{color:#cf222e;font-weight:600}
.critical,.high{color:#cf222e;font-weight:600}.medium{color:#9a6700}
.muted{color:#666;font-size:.85rem}
@media print{body{margin:0}}
</style></head><body>
<h1>TiKV encryption at rest: {{.R.Kind}} report</h1>
<p class="muted">Schema <code>{{.R.Schema}}</code>. Verify offline with <code>tikv-ear report verify report.json --key pub.pem</code> or
<code>cosign verify-blob-attestation --key pub.pem --bundle report.sigstore.json --insecure-ignore-tlog=true --type {{.Predicate}} report.json</code>.</p>
<h2>Summary</h2>
<table>{{range .Summary}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<h2>Timeline</h2>
{{with .Chart}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="per-store phases over time">
<text x="110" y="14" font-size="11" fill="#666">{{.Start}}</text>
<text x="{{.EndX}}" y="14" font-size="11" fill="#666" text-anchor="end">{{.End}}</text>
{{range .Rows}}<text x="4" y="{{.Y}}" font-size="12">{{.Label}}</text>
{{end}}{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Fill}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Legend}}<rect x="{{.X}}" y="{{.Y}}" width="12" height="12" fill="{{.Fill}}"></rect><text x="{{.X}}" dx="16" y="{{.Y}}" dy="10" font-size="11">{{.Phase}}</text>
{{end}}</svg>{{else}}<p>No per-store steps recorded.</p>{{end}}
<table><tr><th>Time</th><th>Scope</th><th>Phase</th><th>Status</th><th>Detail</th><th>Decision</th></tr>
{{range .R.Timeline}}<tr><td>{{call $.Time .At}}</td><td>{{call $.StoreRef .Store}}</td><td>{{.Phase}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Detail}}</td><td>{{with .Decision}}{{.Question}} → {{.Choice}} (by {{.DecidedBy}}){{end}}</td></tr>
{{end}}</table>
<h2>Stores</h2>
<table><tr><th>Store</th><th>Address</th><th>Zone</th><th>Version</th><th>Method before → after</th><th>Master key after</th><th>Fingerprint</th><th>Config digest</th><th>Leaders</th><th>key.dict</th><th>Key file</th></tr>
{{range .R.Stores}}<tr><td>{{.ID}}</td><td>{{.Address}}</td><td>{{.Zone}}</td><td>{{.After.Version}}</td><td>{{.Before.Method}} → {{.After.Method}}</td><td>{{call $.MasterKey .After.MasterKey}}</td><td><code>{{.After.MasterKey.Fingerprint}}</code></td><td><code>{{.After.ConfigDigest}}</code></td><td>{{.Verification.Leaders}}</td><td>{{with .Verification.KeyDict}}{{.Method}} {{.KMSVendor}} ({{.DataKeys}} data keys){{end}}</td><td>{{with .Verification.KeyFile}}{{.Path}} {{.Mode}} {{.Owner}} {{.FSType}}{{end}}</td></tr>
{{end}}</table>
{{range .R.Stores}}<h3>Store {{.ID}} verification</h3><ul>
{{range .Verification.LogLines}}<li>log {{call $.Time .Time}} [{{.Level}}] <code>{{.Message}}</code></li>
{{end}}{{range .Verification.Metrics}}<li>metric <code>{{.Name}}{{call $.Labels .Labels}}</code> = {{.Value}}</li>
{{end}}</ul>{{end}}
<h2>Coverage</h2>
<table><tr><th>Store</th><th>Coverage</th><th>Note</th></tr>
{{range .R.Stores}}<tr><td>{{.ID}}</td><td>{{call $.Coverage .Verification.Coverage}}</td><td>{{with .Verification.Coverage}}{{.Note}}{{end}}</td></tr>
{{end}}</table>
<h2>Keys and ages</h2>
<table><tr><th>Role</th><th>Backend</th><th>Key</th><th>Latest version</th><th>Created</th><th>Age (days)</th><th>Policy (days)</th><th>Status</th></tr>
{{range .Ages}}<tr><td>{{.Role}}</td><td>{{.Backend}}</td><td>{{.KeyID}}</td><td>{{.Version}}</td><td>{{call $.Time .Created}}</td><td>{{.AgeDays}}</td><td>{{call $.PolicyDays .PolicyDays}}</td><td class="{{call $.AgeStatus .}}">{{call $.AgeStatus .}}</td></tr>
{{end}}</table>
<h2>Rotation schedule</h2>
{{with .R.Schedule}}<table>
<tr><th>Master key period</th><td>{{.MasterKeyPeriodDays}} days</td></tr>
<tr><th>Data key rotation period</th><td>{{.DataKeyRotationPeriod}}</td></tr>
<tr><th>Signing key period</th><td>{{call $.PolicyDays .SigningKeyPeriodDays}}</td></tr>
<tr><th>Last master key rotation</th><td>{{call $.Time .LastMasterKeyRotation}}</td></tr>
<tr><th>Next due</th><td>{{call $.Time .NextDue}}</td></tr>
<tr><th>Mechanism</th><td>{{.Mechanism}}</td></tr>
<tr><th>KMS-native rotation</th><td>{{.KMSNative}}</td></tr>
</table>{{else}}<p>No rotation schedule recorded.</p>{{end}}
<h2>Faults</h2>
{{if .R.Faults}}<table><tr><th>Time</th><th>Scope</th><th>Kind</th><th>Message</th><th>Resolution</th><th>Resolved</th></tr>
{{range .R.Faults}}<tr><td>{{call $.Time .At}}</td><td>{{call $.StoreRef .Store}}</td><td>{{.Kind}}</td><td>{{.Message}}</td><td>{{.Resolution}}</td><td>{{call $.Time .ResolvedAt}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Findings</h2>
{{if .Findings}}<table><tr><th>Severity</th><th>Scope</th><th>Finding</th><th>Fix</th></tr>
{{range .Findings}}<tr><td class="{{.Severity}}">{{.Severity}}</td><td>{{call $.StoreRef .Store}}</td><td>{{.Message}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Compliance mapping</h2>
<p class="muted">Requirement texts are paraphrases. Items marked UNCONFIRMED were not checked against the primary source. The status reflects the evidence in this report only; an assessor decides compliance.</p>
<table><tr><th>Framework</th><th>Control</th><th>Requirement</th><th>Status</th><th>Evidence</th><th>Note</th></tr>
{{range .R.Compliance}}<tr><td>{{.Framework}}</td><td>{{.ID}}</td><td>{{.Requirement}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{range .Evidence}}{{.}}<br>{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</table>
</body></html>
`))

// RenderHTML renders r as one self-contained HTML page: inline CSS, an inline
// SVG chart of per-store phases over time, no scripts and no external assets.
// Strings are redacted as in Canonical and HTML-escaped.
func RenderHTML(in *Report) []byte {
	r := view(in)
	d := htmlData{
		R: r, Summary: summaryRows(r), Ages: KeyAges(r), Chart: timelineChart(r),
		Findings: sortedFindings(r.Findings), Predicate: PredicateType,
		StoreRef: storeRef, MasterKey: mkString, Coverage: coverageString, AgeStatus: ageStatus,
		Labels: labelString, PolicyDays: policyString,
		Time: func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return rfc3339(t)
		},
	}
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, d); err != nil {
		return []byte("<!DOCTYPE html><p>rendering failed: " + template.HTMLEscapeString(err.Error()) + "</p>")
	}
	return []byte(strings.TrimSpace(b.String()) + "\n")
}
