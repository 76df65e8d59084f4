package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// mdTable is one Markdown table: a header row and the data rows, each cell
// escaped by mdCell when rendered.
type mdTable struct {
	Header []string
	Rows   [][]string
}

// row appends one data row.
func (t *mdTable) row(cells ...string) { t.Rows = append(t.Rows, cells) }

// markdown renders the table, header and separator first.
func (t *mdTable) markdown() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdCell(c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.Header)
	b.WriteString("|" + strings.Repeat("---|", len(t.Header)) + "\n")
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}

// mdStoreEvidence is one store's block of "Verification evidence".
type mdStoreEvidence struct {
	ID      uint64
	Address string
	Lines   []string
}

// mdData is everything the Markdown template shows, prepared from the report.
type mdData struct {
	R                                  *Report
	Brief                              []briefItem
	Verify                             []verifyStep
	Works, Spans, Summary, Stores      *mdTable
	Coverage, Keys, KeyFacts, Schedule *mdTable
	Faults, Findings, Compliance       *mdTable
	Events                             *mdTable
	Evidence                           []mdStoreEvidence
}

// mdTmpl lays the report out; every table comes from mdData.
var mdTmpl = template.Must(template.New("report.md").Funcs(template.FuncMap{
	"table": func(t *mdTable) string { return t.markdown() },
	"cell":  mdCell,
	"inc":   func(i int) int { return i + 1 },
}).Parse(`# TiKV encryption at rest: {{.R.Kind}} report

Cluster {{.R.Cluster.PDClusterID}}{{with .R.Cluster.TiUPName}} ({{.}}){{end}}{{with .R.RunID}}, run {{.}}{{end}}. Rendered from ` + "`report.json`" + ` (schema ` + "`{{.R.Schema}}`" + `); only report.json is signed.

## In brief

{{range .Brief}}- **{{.Label}}:** {{.Text}}
{{end}}
## What was done to each store

{{table .Works}}
## Timeline

### Phases per store

{{if .Spans}}{{table .Spans}}{{else}}None.
{{end}}
## How to verify this report

{{range $i, $s := .Verify}}{{inc $i}}. {{$s.Text}}
{{with $s.Command}}
   ` + "```sh" + `
   {{.}}
   ` + "```" + `

{{end}}{{end}}
## Run details

{{table .Summary}}
## Stores

{{table .Stores}}
### Verification evidence

{{range .Evidence}}**Store {{.ID}}** ({{cell .Address}})

{{range .Lines}}- {{.}}
{{end}}
{{end}}## Coverage

{{table .Coverage}}
## Keys and ages

{{table .Keys}}{{with .KeyFacts}}
### Key evidence from the backends

{{table .}}{{end}}
## Rotation schedule

{{with .Schedule}}{{table .}}{{else}}No rotation schedule recorded.
{{end}}
## Faults

{{with .Faults}}{{table .}}{{else}}None.
{{end}}
## Findings

{{with .Findings}}{{table .}}{{else}}None.
{{end}}
## Compliance mapping

Requirement texts are paraphrases. Items marked UNCONFIRMED were not checked against the primary source. The status reflects the evidence in this report only; an assessor decides compliance. Each evidence item names the report.json field it comes from and the section of this report that shows it.

{{table .Compliance}}
## Event log

Every event of the run as recorded in ` + "`timeline[*]`" + `: each step's start and end, and each decision with who made it.

{{table .Events}}`))

// RenderMarkdown renders r as Markdown: a plain-words summary (what was
// done to which stores, when, by whom, with which master key by identity and
// fingerprint, problems, signature), what was done to each store, the
// timeline with phase durations, how to verify the signature, then the
// evidence: stores, verification, coverage, key ages vs policy, the key
// backends' evidence, schedule, faults, findings and the compliance table,
// whose evidence items point at their report.json fields and sections.
// Strings are redacted as in Canonical. Output is deterministic.
func RenderMarkdown(in *Report) []byte { return renderMarkdown(in, signerInfo{}) }

func renderMarkdown(in *Report, sig signerInfo) []byte {
	var b bytes.Buffer
	if err := mdTmpl.Execute(&b, markdownData(view(in), sig)); err != nil {
		// The template and its data are fixed by this package; a failure is a bug.
		panic(fmt.Sprintf("report.md template: %v", err))
	}
	return b.Bytes()
}

// markdownData prepares the tables of report.md from r (already normalized by view).
func markdownData(r *Report, sig signerInfo) mdData {
	d := mdData{R: r, Brief: brief(r, sig), Verify: verifySteps(sig)}

	d.Works = &mdTable{Header: []string{"Store", "Address (zone)", "What changed", "When", "Master key after", "Fingerprint after"}}
	for _, w := range storeWorks(r) {
		change := w.Change
		if w.KeyChanged {
			change += "\nbefore: " + w.KeyBefore
			if w.FingerprintBefore != "" {
				change += ", " + w.FingerprintBefore
			}
		}
		where := w.Address
		if w.Zone != "" {
			where += " (" + w.Zone + ")"
		}
		d.Works.row(strconv.FormatUint(w.ID, 10), where, change, w.When, w.KeyAfter, w.FingerprintAfter)
	}

	if spans := phaseSpans(r); len(spans) > 0 {
		d.Spans = &mdTable{Header: []string{"Scope", "Phase", "Status", "Start (UTC)", "End (UTC)", "Duration", "Detail"}}
		for _, p := range spans {
			d.Spans.row(storeRef(p.Store), p.Phase, p.Status, rfc3339(p.Start), rfc3339(p.End), spanDuration(p), p.Detail)
		}
	}

	d.Summary = &mdTable{Header: []string{"Field", "Value"}}
	for _, row := range summaryRows(r) {
		d.Summary.row(row[0], row[1])
	}

	d.Stores = &mdTable{Header: []string{"Store", "Address", "Zone", "Version", "Method before → after", "Master key after", "Fingerprint", "Leaders", "key.dict", "Key file"}}
	d.Coverage = &mdTable{Header: []string{"Store", "Coverage", "Note"}}
	for _, s := range r.Stores {
		kd, kf := "—", "—"
		if s.Verification.KeyDict != nil {
			kd = strings.TrimSpace(s.Verification.KeyDict.Method + " " + s.Verification.KeyDict.KMSVendor)
		}
		if f := s.Verification.KeyFile; f != nil {
			kf = strings.TrimSpace(fmt.Sprintf("%s %s %s %s", f.Path, f.Mode, f.Owner, f.FSType))
		}
		d.Stores.row(strconv.FormatUint(s.ID, 10), s.Address, s.Zone, s.After.Version,
			s.Before.Method+" → "+s.After.Method, mkString(s.After.MasterKey), s.After.MasterKey.Fingerprint,
			strconv.FormatInt(s.Verification.Leaders, 10), kd, kf)

		ev := mdStoreEvidence{ID: s.ID, Address: s.Address, Lines: []string{"verdict: **" + strings.ReplaceAll(verdictString(s), "*", "\\*") + "**"}}
		if l := s.Verification.LogEvidence(); l != "" {
			ev.Lines = append(ev.Lines, "TiKV log since the restart: **"+l+"**")
		}
		if len(s.Verification.LogLines) == 0 && len(s.Verification.Metrics) == 0 {
			ev.Lines = append(ev.Lines, "no log lines or metrics recorded")
		}
		for _, l := range s.Verification.LogLines {
			ev.Lines = append(ev.Lines, fmt.Sprintf("log %s [%s] `%s`", rfc3339(l.Time), l.Level, strings.ReplaceAll(l.Message, "`", "'")))
		}
		for _, m := range s.Verification.Metrics {
			ev.Lines = append(ev.Lines, fmt.Sprintf("metric `%s%s` = %s", m.Name, labelString(m.Labels), m.Value))
		}
		d.Evidence = append(d.Evidence, ev)

		note := ""
		if s.Verification.Coverage != nil {
			note = s.Verification.Coverage.Note
		}
		d.Coverage.row(strconv.FormatUint(s.ID, 10), coverageString(s.Verification.Coverage), note)
	}

	d.Keys = &mdTable{Header: []string{"Role", "Backend", "Key", "Latest version", "Created", "Age (days)", "Policy (days)", "Status"}}
	for _, a := range KeyAges(r) {
		d.Keys.row(a.Role, a.Backend, a.KeyID, a.Version, rfc3339(a.Created), strconv.FormatInt(a.AgeDays, 10), policyString(a.PolicyDays), ageStatus(a))
	}
	if facts := keyFacts(r.Keys); len(facts) > 0 {
		d.KeyFacts = &mdTable{Header: []string{"Role", "Key", "Fact", "Value"}}
		for _, f := range facts {
			d.KeyFacts.row(f.Role, f.KeyID, f.Name, f.Value)
		}
	}

	if s := r.Schedule; s != nil {
		d.Schedule = &mdTable{Header: []string{"Setting", "Value"}}
		for _, row := range scheduleRows(s) {
			d.Schedule.row(row[0], row[1])
		}
	}

	if len(r.Faults) > 0 {
		d.Faults = &mdTable{Header: []string{"Time", "Scope", "Kind", "Message", "Resolution", "Resolved"}}
		for _, f := range r.Faults {
			d.Faults.row(rfc3339(f.At), storeRef(f.Store), f.Kind, f.Message, f.Resolution, rfc3339(f.ResolvedAt))
		}
	}
	if len(r.Findings) > 0 {
		d.Findings = &mdTable{Header: []string{"Severity", "Scope", "Finding", "Fix"}}
		for _, f := range sortedFindings(r.Findings) {
			d.Findings.row(f.Severity, storeRef(f.Store), f.Message, f.Fix)
		}
	}

	d.Compliance = &mdTable{Header: []string{"Framework", "Control", "Requirement", "Status", "Evidence", "Note"}}
	for _, c := range r.Compliance {
		ev := make([]string, len(c.Evidence))
		for i, e := range c.Evidence {
			ev[i] = evidenceText(e)
		}
		d.Compliance.row(c.Framework, c.ID, c.Requirement, c.Status, strings.Join(ev, "\n"), c.Note)
	}

	d.Events = &mdTable{Header: []string{"Time (UTC)", "Scope", "Phase", "Status", "Detail", "Decision"}}
	for _, e := range r.Timeline {
		dec := ""
		if d := e.Decision; d != nil {
			dec = fmt.Sprintf("%s → %s (by %s)", d.Question, d.Choice, d.DecidedBy)
		}
		d.Events.row(rfc3339(e.At), storeRef(e.Store), e.Phase, e.Status, e.Detail, dec)
	}
	return d
}

// scheduleRows are the rotation schedule's settings, for both views.
func scheduleRows(s *Schedule) [][2]string {
	return [][2]string{
		{"Master key period", fmt.Sprintf("%d days", s.MasterKeyPeriodDays)},
		{"Data key rotation period", s.DataKeyRotationPeriod},
		{"Signing key period", daysString(s.SigningKeyPeriodDays)},
		{"Last master key rotation", rfc3339(s.LastMasterKeyRotation)},
		{"Next due", rfc3339(s.NextDue)},
		{"Mechanism", s.Mechanism},
		{"KMS-native rotation", s.KMSNative},
	}
}
