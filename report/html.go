package report

import (
	"bytes"
	"html/template"
	"strings"
	"time"
)

type htmlData struct {
	R         *Report
	Brief     []briefItem
	Works     []storeWork
	Verify    []verifyStep
	Summary   [][2]string
	Ages      []KeyAge
	KeyFacts  []keyFact
	Chart     *chart
	Spans     []phaseSpan
	Findings  []Finding
	Predicate string
	StoreRef  func(uint64) string
	Time      func(time.Time) string
	MasterKey func(MasterKey) string
	Coverage  func(*Coverage) string
	// Verdict renders a store's verdict; VerdictClass is its CSS class.
	Verdict, VerdictClass func(Store) string
	AgeStatus             func(KeyAge) string
	Labels                func(map[string]string) string
	PolicyDays            func(int64) string
	Days                  func(int64) string
	Duration              func(phaseSpan) string
	Evidence              func(string) evidenceRef
}

var htmlTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TiKV encryption at rest: {{.R.Kind}} report, cluster {{.R.Cluster.PDClusterID}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}h3{margin-top:1.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,pre{font-size:.85rem;overflow-wrap:anywhere}
pre{background:#f6f8fa;border:1px solid #ddd;padding:.5rem;white-space:pre-wrap;margin:.3rem 0}
dl.brief{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
dl.brief dt{font-weight:600}dl.brief dd{margin:0}
figure{margin:.5rem 0}figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:.85rem;color:#555}
.supported,.ok,.verdict-proven{color:#1a7f37;font-weight:600}.verdict-failing{color:#cf222e;font-weight:600}.verdict-unknown{color:#9a6700;font-weight:600}.partial,.skipped,.unfinished{color:#9a6700;font-weight:600}
.not-evidenced,.failed,.OVERDUE{color:#cf222e;font-weight:600}
.critical,.high{color:#cf222e;font-weight:600}.medium{color:#9a6700}
.muted{color:#555;font-size:.85rem}.t{white-space:nowrap}
ul.evidence{margin:0;padding-left:1.1rem}table.compliance td:nth-child(3){width:20%}table.compliance td:nth-child(5){width:32%}table.compliance td:nth-child(6){width:22%}
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}}
</style></head><body>
<header>
<h1>TiKV encryption at rest: {{.R.Kind}} report</h1>
<p class="muted">Cluster {{.R.Cluster.PDClusterID}}{{with .R.Cluster.TiUPName}} ({{.}}){{end}}{{with .R.RunID}}, run {{.}}{{end}}. Rendered from <code>report.json</code> (schema <code>{{.R.Schema}}</code>); only report.json is signed.</p>
</header>
<nav aria-label="Contents"><p class="muted">Contents: <a href="#in-brief">In brief</a> · <a href="#what-was-done-to-each-store">Each store</a> · <a href="#timeline">Timeline</a> · <a href="#how-to-verify-this-report">How to verify</a> · <a href="#stores">Stores</a> · <a href="#coverage">Coverage</a> · <a href="#keys-and-ages">Keys</a> · <a href="#rotation-schedule">Schedule</a> · <a href="#faults">Faults</a> · <a href="#findings">Findings</a> · <a href="#compliance-mapping">Compliance</a> · <a href="#event-log">Event log</a></p></nav>
<main>
<section><h2 id="in-brief">In brief</h2>
<dl class="brief">{{range .Brief}}<dt>{{.Label}}</dt><dd>{{.Text}}</dd>
{{end}}</dl></section>
<section><h2 id="what-was-done-to-each-store">What was done to each store</h2>
<table><tr><th scope="col">Store</th><th scope="col">Address (zone)</th><th scope="col">What changed</th><th scope="col">When</th><th scope="col">Master key after</th><th scope="col">Fingerprint after</th></tr>
{{range .Works}}<tr><th scope="row">{{.ID}}</th><td>{{.Address}}{{with .Zone}} ({{.}}){{end}}</td><td>{{.Change}}{{if .KeyChanged}}<br><span class="muted">before: {{.KeyBefore}}{{with .FingerprintBefore}}, {{.}}{{end}}</span>{{end}}</td><td>{{.When}}</td><td>{{.KeyAfter}}</td><td><code>{{.FingerprintAfter}}</code></td></tr>
{{end}}</table></section>
<section><h2 id="timeline">Timeline</h2>
{{with .Chart}}<figure>
<svg id="timeline-chart" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-labelledby="timeline-title timeline-desc" font-family="system-ui,-apple-system,'Segoe UI',sans-serif">
<title id="timeline-title">Per-store phases over time</title>
<desc id="timeline-desc">{{.Desc}}</desc>
<text x="{{.PlotX}}" y="14" font-size="12" fill="#444">Time: {{.AxisTitle}}</text>
{{range .Rows}}{{if .Band}}<rect x="0" y="{{.Y}}" width="{{$.Chart.Width}}" height="36" fill="#f4f4f4"></rect>{{end}}
{{end}}{{range .Ticks}}<line x1="{{.X}}" y1="{{$.Chart.AxisY}}" x2="{{.X}}" y2="{{$.Chart.GridY2}}" stroke="#cfcfcf" stroke-width="1"></line><text x="{{.X}}" y="{{$.Chart.AxisY}}" dy="-4" font-size="11" fill="#444" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .Rows}}<g class="{{.Class}}"{{with .Store}} data-store="{{.}}"{{end}}>
<text x="6" y="{{.LabelY}}" font-size="13" font-weight="600" fill="#222">{{.Label}}</text>{{if .Addr}}<text x="6" y="{{.AddrY}}" font-size="11" fill="#666">{{.Addr}}</text>{{end}}{{if .Total}}<text class="total" x="{{.TotalX}}" y="{{.TotalY}}" font-size="11" fill="#444" text-anchor="{{.TotalAnchor}}">{{.Total}}</text>{{end}}
{{range .Bars}}<g class="phase"><title>{{.Title}}</title><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="3" fill="{{.Fill}}"{{if .Stroke}} stroke="{{.Stroke}}" stroke-width="3"{{else if .Dashed}} stroke="#444" stroke-width="1.5" stroke-dasharray="4 3"{{end}}></rect>{{if .Label}}<text x="{{.TextX}}" y="{{.TextY}}" font-size="12" fill="{{.TextColor}}">{{.Label}}</text>{{end}}</g>
{{end}}{{range .Marks}}{{if eq .Kind "decision"}}<g class="decision"><title>{{.Title}}</title><path d="{{.Path}}" fill="#222" stroke="#fff" stroke-width="1.5"></path></g>
{{else}}<g class="fault"><title>{{.Title}}</title><line x1="{{.X}}" y1="{{.Y}}" x2="{{.X2}}" y2="{{.Y}}" stroke="#c00000" stroke-width="4" stroke-linecap="round"></line><circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="#c00000"></circle></g>
{{end}}{{end}}</g>
{{end}}{{range .Legend}}<g class="legend">{{if eq .Kind "phase"}}<rect x="{{.X}}" y="{{.Y}}" width="14" height="14" rx="2" fill="{{.Fill}}"></rect>{{else if eq .Kind "failed"}}<rect x="{{.X}}" y="{{.Y}}" width="14" height="14" rx="2" fill="#fff" stroke="#c00000" stroke-width="3"></rect>{{else if eq .Kind "skipped"}}<rect x="{{.X}}" y="{{.Y}}" width="14" height="14" rx="2" fill="#fff" stroke="#444" stroke-width="1.5" stroke-dasharray="4 3"></rect>{{else if eq .Kind "fault"}}<line x1="{{.X}}" y1="{{.MidY}}" x2="{{.X2}}" y2="{{.MidY}}" stroke="#c00000" stroke-width="4" stroke-linecap="round"></line>{{else}}<path d="{{.Path}}" fill="#222"></path>{{end}}<text x="{{.TextX}}" y="{{.TextY}}" font-size="12" fill="#222">{{.Label}}</text></g>
{{end}}</svg>
<figcaption>Each bar is one phase of one store, from its start to its end; hover a bar, diamond or red line for exact times. The same data is in the table “Phases per store” below.</figcaption>
</figure>{{else}}<p>No per-store steps recorded.</p>{{end}}
<h3 id="phases-per-store">Phases per store</h3>
{{if .Spans}}<table><tr><th scope="col">Scope</th><th scope="col">Phase</th><th scope="col">Status</th><th scope="col">Start (UTC)</th><th scope="col">End (UTC)</th><th scope="col">Duration</th><th scope="col">Detail</th></tr>
{{range .Spans}}<tr><td class="t">{{call $.StoreRef .Store}}</td><td>{{.Phase}}</td><td class="{{.Status}}">{{.Status}}</td><td class="t">{{call $.Time .Start}}</td><td class="t">{{call $.Time .End}}</td><td>{{call $.Duration .}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
</section>
<section><h2 id="how-to-verify-this-report">How to verify this report</h2>
<ol>{{range .Verify}}<li>{{.Text}}{{with .Command}}<pre><code>{{.}}</code></pre>{{end}}</li>
{{end}}</ol></section>
<section><h2 id="run-details">Run details</h2>
<table>{{range .Summary}}<tr><th scope="row">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table></section>
<section><h2 id="stores">Stores</h2>
<table><tr><th scope="col">Store</th><th scope="col">Address</th><th scope="col">Zone</th><th scope="col">Version</th><th scope="col">Method before → after</th><th scope="col">Master key after</th><th scope="col">Fingerprint</th><th scope="col">Config digest</th><th scope="col">Leaders</th><th scope="col">key.dict</th><th scope="col">Key file</th></tr>
{{range .R.Stores}}<tr><th scope="row">{{.ID}}</th><td>{{.Address}}</td><td>{{.Zone}}</td><td>{{.After.Version}}</td><td>{{.Before.Method}} → {{.After.Method}}</td><td>{{call $.MasterKey .After.MasterKey}}</td><td><code>{{.After.MasterKey.Fingerprint}}</code></td><td><code>{{.After.ConfigDigest}}</code></td><td>{{.Verification.Leaders}}</td><td>{{with .Verification.KeyDict}}{{.Method}} {{.KMSVendor}} ({{.DataKeys}} data keys){{end}}</td><td>{{with .Verification.KeyFile}}{{.Path}} {{.Mode}} {{.Owner}} {{.FSType}}{{end}}</td></tr>
{{end}}</table>
<h3 id="verification-evidence">Verification evidence</h3>
{{range .R.Stores}}<h4>Store {{.ID}} ({{.Address}})</h4><ul>
<li>verdict: <strong class="{{call $.VerdictClass .}}">{{call $.Verdict .}}</strong></li>
{{with .Verification.LogEvidence}}<li>TiKV log since the restart: <strong>{{.}}</strong></li>
{{end}}{{range .Verification.LogLines}}<li>log {{call $.Time .Time}} [{{.Level}}] <code>{{.Message}}</code></li>
{{end}}{{range .Verification.Metrics}}<li>metric <code>{{.Name}}{{call $.Labels .Labels}}</code> = {{.Value}}</li>
{{else}}{{if not .Verification.LogLines}}<li>no log lines or metrics recorded</li>{{end}}
{{end}}</ul>{{end}}</section>
<section><h2 id="coverage">Coverage</h2>
<table><tr><th scope="col">Store</th><th scope="col">Coverage</th><th scope="col">Note</th></tr>
{{range .R.Stores}}<tr><th scope="row">{{.ID}}</th><td>{{call $.Coverage .Verification.Coverage}}</td><td>{{with .Verification.Coverage}}{{.Note}}{{end}}</td></tr>
{{end}}</table></section>
<section><h2 id="keys-and-ages">Keys and ages</h2>
<table><tr><th scope="col">Role</th><th scope="col">Backend</th><th scope="col">Key</th><th scope="col">Latest version</th><th scope="col">Created</th><th scope="col">Age (days)</th><th scope="col">Policy (days)</th><th scope="col">Status</th></tr>
{{range .Ages}}<tr><td>{{.Role}}</td><td>{{.Backend}}</td><td>{{.KeyID}}</td><td>{{.Version}}</td><td>{{call $.Time .Created}}</td><td>{{.AgeDays}}</td><td>{{call $.PolicyDays .PolicyDays}}</td><td class="{{call $.AgeStatus .}}">{{call $.AgeStatus .}}</td></tr>
{{end}}</table>
{{with .KeyFacts}}<h3 id="key-evidence">Key evidence from the backends</h3>
<table><tr><th scope="col">Role</th><th scope="col">Key</th><th scope="col">Fact</th><th scope="col">Value</th></tr>
{{range .}}<tr><td>{{.Role}}</td><td>{{.KeyID}}</td><td>{{.Name}}</td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}</section>
<section><h2 id="rotation-schedule">Rotation schedule</h2>
{{with .R.Schedule}}<table>
<tr><th scope="row">Master key period</th><td>{{.MasterKeyPeriodDays}} days</td></tr>
<tr><th scope="row">Data key rotation period</th><td>{{.DataKeyRotationPeriod}}</td></tr>
<tr><th scope="row">Signing key period</th><td>{{call $.Days .SigningKeyPeriodDays}}</td></tr>
<tr><th scope="row">Last master key rotation</th><td>{{call $.Time .LastMasterKeyRotation}}</td></tr>
<tr><th scope="row">Next due</th><td>{{call $.Time .NextDue}}</td></tr>
<tr><th scope="row">Mechanism</th><td>{{.Mechanism}}</td></tr>
<tr><th scope="row">KMS-native rotation</th><td>{{.KMSNative}}</td></tr>
</table>{{else}}<p>No rotation schedule recorded.</p>{{end}}</section>
<section><h2 id="faults">Faults</h2>
{{if .R.Faults}}<table><tr><th scope="col">Time (UTC)</th><th scope="col">Scope</th><th scope="col">Kind</th><th scope="col">Message</th><th scope="col">Resolution</th><th scope="col">Resolved</th></tr>
{{range .R.Faults}}<tr><td class="t">{{call $.Time .At}}</td><td class="t">{{call $.StoreRef .Store}}</td><td>{{.Kind}}</td><td>{{.Message}}</td><td>{{.Resolution}}</td><td>{{call $.Time .ResolvedAt}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}</section>
<section><h2 id="findings">Findings</h2>
{{if .Findings}}<table><tr><th scope="col">Severity</th><th scope="col">Scope</th><th scope="col">Finding</th><th scope="col">Fix</th></tr>
{{range .Findings}}<tr><td class="{{.Severity}}">{{.Severity}}</td><td>{{call $.StoreRef .Store}}</td><td>{{.Message}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}</section>
<section><h2 id="compliance-mapping">Compliance mapping</h2>
<p class="muted">Requirement texts are paraphrases. Items marked UNCONFIRMED were not checked against the primary source. The status reflects the evidence in this report only; an assessor decides compliance. Each evidence item names the report.json field it comes from and the section of this page that shows it.</p>
<table class="compliance"><tr><th scope="col">Framework</th><th scope="col">Control</th><th scope="col">Requirement</th><th scope="col">Status</th><th scope="col">Evidence</th><th scope="col">Note</th></tr>
{{range .R.Compliance}}<tr><td>{{.Framework}}</td><td>{{.ID}}</td><td>{{.Requirement}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{if .Evidence}}<ul class="evidence">{{range .Evidence}}{{with call $.Evidence .}}<li>{{.What}}{{if .Where}}<br><span class="muted"><code>{{.Where}}</code>{{if .Anchor}}, see <a href="#{{.Anchor}}">{{.Section}}</a>{{end}}</span>{{end}}</li>{{end}}{{end}}</ul>{{else}}—{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</table></section>
<section><h2 id="event-log">Event log</h2>
<p class="muted">Every event of the run as recorded in <code>timeline[*]</code>: each step's start and end, and each decision with who made it.</p>
<table><tr><th scope="col">Time (UTC)</th><th scope="col">Scope</th><th scope="col">Phase</th><th scope="col">Status</th><th scope="col">Detail</th><th scope="col">Decision</th></tr>
{{range .R.Timeline}}<tr><td class="t">{{call $.Time .At}}</td><td class="t">{{call $.StoreRef .Store}}</td><td>{{.Phase}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Detail}}</td><td>{{with .Decision}}{{.Question}} → {{.Choice}} (by {{.DecidedBy}}){{end}}</td></tr>
{{end}}</table></section>
</main>
</body></html>
`))

// RenderHTML renders r as one self-contained HTML page: a plain-words
// summary, what was done to each store, an inline SVG chart of per-store
// phases over time with a table of the same data, how to verify the
// signature, the evidence and the compliance mapping. It uses inline CSS
// only: no scripts and no external assets. Strings are redacted as in
// Canonical and HTML-escaped.
func RenderHTML(in *Report) []byte { return renderHTML(in, signerInfo{}) }

func renderHTML(in *Report, sig signerInfo) []byte {
	r := view(in)
	d := htmlData{
		R: r, Brief: brief(r, sig), Works: storeWorks(r), Verify: verifySteps(sig),
		Summary: summaryRows(r), Ages: KeyAges(r), KeyFacts: keyFacts(r.Keys), Chart: timelineChart(r), Spans: phaseSpans(r),
		Findings: sortedFindings(r.Findings), Predicate: PredicateType,
		StoreRef: storeRef, MasterKey: mkString, Coverage: coverageString, AgeStatus: ageStatus,
		Verdict: verdictString, VerdictClass: func(s Store) string { return "verdict-" + string(StoreVerdict(s).Value) },
		Labels: labelString, PolicyDays: policyString, Days: daysString, Duration: spanDuration, Evidence: parseEvidence,
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
