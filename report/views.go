package report

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// view prepares r for rendering: normalized (redacted, UTC) with compliance filled.
func view(r *Report) *Report {
	cp, err := normalized(r)
	if err != nil {
		// normalized only fails on values json cannot encode; render what is safe.
		cp = &Report{Schema: r.Schema, Kind: r.Kind, Outcome: r.Outcome, Stores: []Store{},
			Findings: []Finding{{Severity: SeverityHigh, Message: Redact(err.Error())}}}
	}
	if len(cp.Compliance) == 0 {
		cp.Compliance = MapCompliance(cp)
	}
	return cp
}

// KeyAge is a managed key's age against the policy period.
type KeyAge struct {
	Role, Backend, KeyID, Version string
	Created                       time.Time
	AgeDays, PolicyDays           int64 // PolicyDays 0 = no policy recorded
	Overdue                       bool
}

// KeyAges computes the age of the latest version of every key in r at the
// report's finish time (start time when unfinished), against the schedule.
func KeyAges(r *Report) []KeyAge {
	at := asOf(r)
	var out []KeyAge
	for _, k := range r.Keys {
		a := KeyAge{Role: k.Role, Backend: k.Backend, KeyID: k.KeyID, Version: k.LatestVersion}
		for _, v := range k.Versions {
			if v.Version == k.LatestVersion || (k.LatestVersion == "" && v.CreatedAt.After(a.Created)) {
				a.Created = v.CreatedAt
			}
		}
		if !a.Created.IsZero() && at.After(a.Created) {
			a.AgeDays = int64(at.Sub(a.Created) / (24 * time.Hour))
		}
		if s := r.Schedule; s != nil {
			switch k.Role {
			case "master-key":
				a.PolicyDays = s.MasterKeyPeriodDays
			case "signing-key":
				a.PolicyDays = s.SigningKeyPeriodDays
			}
		}
		a.Overdue = a.PolicyDays > 0 && !a.Created.IsZero() && a.AgeDays >= a.PolicyDays
		out = append(out, a)
	}
	return out
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "<br>")
	s = strings.ReplaceAll(s, "|", `\|`)
	if s == "" {
		return "—"
	}
	return s
}

func mdRow(b *bytes.Buffer, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + mdCell(c) + " |")
	}
	b.WriteString("\n")
}

func mdHeader(b *bytes.Buffer, cells ...string) {
	mdRow(b, cells...)
	b.WriteString("|" + strings.Repeat("---|", len(cells)) + "\n")
}

func storeRef(id uint64) string {
	if id == 0 {
		return "cluster"
	}
	return "store " + strconv.FormatUint(id, 10)
}

func mkString(k MasterKey) string {
	parts := []string{k.Type}
	for _, p := range []string{k.Vendor, k.KeyID, k.Path} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if k.KeyVersion != "" {
		parts = append(parts, "v"+k.KeyVersion)
	}
	return strings.Join(parts, " ")
}

func coverageString(c *Coverage) string {
	if c == nil {
		return "not measured"
	}
	files, bytes := c.FilesEncrypted+c.FilesPlaintext, c.BytesEncrypted+c.BytesPlaintext
	if files == 0 {
		return "no data files found"
	}
	return fmt.Sprintf("%d of %d files (%s) and %s of %s (%s) encrypted", c.FilesEncrypted, files, percent(c.FilesEncrypted, files),
		humanBytes(c.BytesEncrypted), humanBytes(bytes), percent(c.BytesEncrypted, bytes))
}

// percent is part/whole rounded down, so that anything short of all is below 100%.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "—"
	}
	return strconv.FormatInt(part*100/whole, 10) + "%"
}

// humanBytes writes n in binary units with one decimal: "512 B", "1.5 KiB", "1.2 GiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v, unit = v/1024, u
		if v < 1024 {
			break
		}
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

func summaryRows(r *Report) [][2]string {
	rows := [][2]string{
		{"Kind", string(r.Kind)},
		{"Outcome", r.Outcome},
		{"PD cluster id", r.Cluster.PDClusterID},
		{"PD endpoints", strings.Join(r.Cluster.PDEndpoints, ", ")},
		{"TiUP cluster", r.Cluster.TiUPName},
		{"Operator", r.Operator},
		{"Tool", strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version + " " + r.Tool.Commit)},
		{"Plan digest", r.PlanDigest},
		{"Started", rfc3339(r.StartedAt)},
		{"Finished", rfc3339(r.FinishedAt)},
	}
	enc := 0
	for _, s := range r.Stores {
		if s.After.Method != "plaintext" {
			enc++
		}
	}
	rows = append(rows, [2]string{"Stores encrypted", fmt.Sprintf("%d of %d", enc, len(r.Stores))})
	return rows
}

// RenderMarkdown renders r as Markdown: a plain-words summary (what was
// done to which stores, when, by whom, with which master key by identity and
// fingerprint, problems, signature), what was done to each store, the
// timeline with phase durations, how to verify the signature, then the
// evidence: stores, verification, coverage, key ages vs policy, schedule,
// faults, findings and the compliance table, whose evidence items point at
// their report.json fields and sections. Strings are redacted as in
// Canonical. Output is deterministic.
func RenderMarkdown(in *Report) []byte { return renderMarkdown(in, signerInfo{}) }

func renderMarkdown(in *Report, sig signerInfo) []byte {
	r := view(in)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# TiKV encryption at rest: %s report\n\n", r.Kind)
	fmt.Fprintf(&b, "Cluster %s", r.Cluster.PDClusterID)
	if r.Cluster.TiUPName != "" {
		fmt.Fprintf(&b, " (%s)", r.Cluster.TiUPName)
	}
	if r.RunID != "" {
		fmt.Fprintf(&b, ", run %s", r.RunID)
	}
	fmt.Fprintf(&b, ". Rendered from `report.json` (schema `%s`); only report.json is signed.\n\n", r.Schema)

	b.WriteString("## In brief\n\n")
	for _, it := range brief(r, sig) {
		fmt.Fprintf(&b, "- **%s:** %s\n", it.Label, it.Text)
	}

	b.WriteString("\n## What was done to each store\n\n")
	mdHeader(&b, "Store", "Address (zone)", "What changed", "When", "Master key after", "Fingerprint after")
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
		mdRow(&b, strconv.FormatUint(w.ID, 10), where, change, w.When, w.KeyAfter, w.FingerprintAfter)
	}

	b.WriteString("\n## Timeline\n\n### Phases per store\n\n")
	if spans := phaseSpans(r); len(spans) == 0 {
		b.WriteString("None.\n")
	} else {
		mdHeader(&b, "Scope", "Phase", "Status", "Start (UTC)", "End (UTC)", "Duration", "Detail")
		for _, p := range spans {
			mdRow(&b, storeRef(p.Store), p.Phase, p.Status, rfc3339(p.Start), rfc3339(p.End), spanDuration(p), p.Detail)
		}
	}
	b.WriteString("\n## How to verify this report\n\n")
	for i, st := range verifySteps(sig) {
		fmt.Fprintf(&b, "%d. %s\n", i+1, st.Text)
		if st.Command != "" {
			fmt.Fprintf(&b, "\n   ```sh\n   %s\n   ```\n\n", st.Command)
		}
	}

	b.WriteString("\n## Run details\n\n")
	mdHeader(&b, "Field", "Value")
	for _, row := range summaryRows(r) {
		mdRow(&b, row[0], row[1])
	}

	b.WriteString("\n## Stores\n\n")
	mdHeader(&b, "Store", "Address", "Zone", "Version", "Method before → after", "Master key after", "Fingerprint", "Leaders", "key.dict", "Key file")
	for _, s := range r.Stores {
		kd, kf := "—", "—"
		if s.Verification.KeyDict != nil {
			kd = strings.TrimSpace(s.Verification.KeyDict.Method + " " + s.Verification.KeyDict.KMSVendor)
		}
		if f := s.Verification.KeyFile; f != nil {
			kf = strings.TrimSpace(fmt.Sprintf("%s %s %s %s", f.Path, f.Mode, f.Owner, f.FSType))
		}
		mdRow(&b, strconv.FormatUint(s.ID, 10), s.Address, s.Zone, s.After.Version,
			s.Before.Method+" → "+s.After.Method, mkString(s.After.MasterKey), s.After.MasterKey.Fingerprint,
			strconv.FormatInt(s.Verification.Leaders, 10), kd, kf)
	}
	b.WriteString("\n### Verification evidence\n\n")
	for _, s := range r.Stores {
		fmt.Fprintf(&b, "**Store %d** (%s)\n\n", s.ID, mdCell(s.Address))
		if len(s.Verification.LogLines) == 0 && len(s.Verification.Metrics) == 0 {
			b.WriteString("- no log lines or metrics recorded\n")
		}
		for _, l := range s.Verification.LogLines {
			fmt.Fprintf(&b, "- log %s [%s] `%s`\n", rfc3339(l.Time), l.Level, strings.ReplaceAll(l.Message, "`", "'"))
		}
		for _, m := range s.Verification.Metrics {
			fmt.Fprintf(&b, "- metric `%s%s` = %s\n", m.Name, labelString(m.Labels), m.Value)
		}
		b.WriteString("\n")
	}

	b.WriteString("## Coverage\n\n")
	mdHeader(&b, "Store", "Coverage", "Note")
	for _, s := range r.Stores {
		note := ""
		if s.Verification.Coverage != nil {
			note = s.Verification.Coverage.Note
		}
		mdRow(&b, strconv.FormatUint(s.ID, 10), coverageString(s.Verification.Coverage), note)
	}

	b.WriteString("\n## Keys and ages\n\n")
	mdHeader(&b, "Role", "Backend", "Key", "Latest version", "Created", "Age (days)", "Policy (days)", "Status")
	for _, a := range KeyAges(r) {
		mdRow(&b, a.Role, a.Backend, a.KeyID, a.Version, rfc3339(a.Created), strconv.FormatInt(a.AgeDays, 10), policyString(a.PolicyDays), ageStatus(a))
	}

	b.WriteString("\n## Rotation schedule\n\n")
	if s := r.Schedule; s != nil {
		mdHeader(&b, "Setting", "Value")
		mdRow(&b, "Master key period", fmt.Sprintf("%d days", s.MasterKeyPeriodDays))
		mdRow(&b, "Data key rotation period", s.DataKeyRotationPeriod)
		mdRow(&b, "Signing key period", daysString(s.SigningKeyPeriodDays))
		mdRow(&b, "Last master key rotation", rfc3339(s.LastMasterKeyRotation))
		mdRow(&b, "Next due", rfc3339(s.NextDue))
		mdRow(&b, "Mechanism", s.Mechanism)
		mdRow(&b, "KMS-native rotation", s.KMSNative)
	} else {
		b.WriteString("No rotation schedule recorded.\n")
	}

	b.WriteString("\n## Faults\n\n")
	if len(r.Faults) == 0 {
		b.WriteString("None.\n")
	} else {
		mdHeader(&b, "Time", "Scope", "Kind", "Message", "Resolution", "Resolved")
		for _, f := range r.Faults {
			mdRow(&b, rfc3339(f.At), storeRef(f.Store), f.Kind, f.Message, f.Resolution, rfc3339(f.ResolvedAt))
		}
	}

	b.WriteString("\n## Findings\n\n")
	if len(r.Findings) == 0 {
		b.WriteString("None.\n")
	} else {
		mdHeader(&b, "Severity", "Scope", "Finding", "Fix")
		for _, f := range sortedFindings(r.Findings) {
			mdRow(&b, f.Severity, storeRef(f.Store), f.Message, f.Fix)
		}
	}

	b.WriteString("\n## Compliance mapping\n\n")
	b.WriteString("Requirement texts are paraphrases. Items marked UNCONFIRMED were not checked against the primary source. The status reflects the evidence in this report only; an assessor decides compliance. Each evidence item names the report.json field it comes from and the section of this report that shows it.\n\n")
	mdHeader(&b, "Framework", "Control", "Requirement", "Status", "Evidence", "Note")
	for _, c := range r.Compliance {
		ev := make([]string, len(c.Evidence))
		for i, e := range c.Evidence {
			ev[i] = evidenceText(e)
		}
		mdRow(&b, c.Framework, c.ID, c.Requirement, c.Status, strings.Join(ev, "\n"), c.Note)
	}
	b.WriteString("\n## Event log\n\nEvery event of the run as recorded in `timeline[*]`: each step's start and end, and each decision with who made it.\n\n")
	mdHeader(&b, "Time (UTC)", "Scope", "Phase", "Status", "Detail", "Decision")
	for _, e := range r.Timeline {
		dec := ""
		if d := e.Decision; d != nil {
			dec = fmt.Sprintf("%s → %s (by %s)", d.Question, d.Choice, d.DecidedBy)
		}
		mdRow(&b, rfc3339(e.At), storeRef(e.Store), e.Phase, e.Status, e.Detail, dec)
	}

	return b.Bytes()
}

func policyString(days int64) string {
	if days <= 0 {
		return ""
	}
	return strconv.FormatInt(days, 10)
}

// daysString is "730 days", or "" when no period is recorded.
func daysString(days int64) string {
	if days <= 0 {
		return ""
	}
	return strconv.FormatInt(days, 10) + " days"
}

func ageStatus(a KeyAge) string {
	switch {
	case a.Created.IsZero():
		return "creation time unknown"
	case a.PolicyDays == 0:
		return "no policy"
	case a.Overdue:
		return "OVERDUE"
	}
	return "within policy"
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func severityRank(s string) int {
	for i, v := range []string{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo} {
		if v == s {
			return i
		}
	}
	return 99
}

func sortedFindings(in []Finding) []Finding {
	out := append([]Finding(nil), in...)
	sort.SliceStable(out, func(i, j int) bool { return severityRank(out[i].Severity) < severityRank(out[j].Severity) })
	return out
}
