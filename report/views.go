package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/verdict"
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

// NoVerdict is the reason StoreVerdict gives a store whose report records no verdict.
const NoVerdict = "no verdict was recorded for this store"

// StoreVerdict is the verdict the report records for s, or unknown when it
// records none: evidence never judged is not proven.
func StoreVerdict(s Store) verdict.Verdict {
	if v := s.Verification.Verdict; v != nil && v.Value != "" {
		switch v.Value {
		case verdict.Proven, verdict.Failing, verdict.Unknown:
			return *v
		}
		return verdict.Unsure(fmt.Sprintf("the recorded verdict %q is not one of proven, failing, unknown: %s", v.Value, v.Reason))
	}
	return verdict.Unsure(NoVerdict)
}

// VerdictLabel is how the views name a verdict's value: unknown is said to
// be "unknown (not proven)", so that no reader takes it for a pass.
func VerdictLabel(v verdict.Value) string {
	switch v {
	case verdict.Proven:
		return "proven"
	case verdict.Failing:
		return "failing"
	}
	return "unknown (not proven)"
}

// verdictString renders a store's verdict as "label: reason".
func verdictString(s Store) string {
	v := StoreVerdict(s)
	if v.Reason == "" {
		return VerdictLabel(v.Value)
	}
	return VerdictLabel(v.Value) + ": " + v.Reason
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

// keyFact is one fact a key backend reported about a key, for the views.
type keyFact struct{ Role, KeyID, Name, Value string }

// keyFacts lists the backend evidence of each key beyond its age: state,
// rotation status, AWS ARN and location, Vault token accessor and KEK, the
// unreadable reason, and further backend attributes (sorted by name).
func keyFacts(keys []KeyEvidence) []keyFact {
	var out []keyFact
	for _, k := range keys {
		add := func(name, value string) {
			if value != "" {
				out = append(out, keyFact{Role: k.Role, KeyID: k.KeyID, Name: name, Value: value})
			}
		}
		add("state", k.State)
		add("unreadable", k.Unreadable)
		add("automatic rotation", strings.TrimSpace(k.RotationStatus+" "+k.RotationPeriod))
		if !k.NextRotation.IsZero() {
			add("next automatic rotation", k.NextRotation.UTC().Format(time.RFC3339))
		}
		add("key ARN", k.KeyARN)
		add("location", k.Location)
		add("min_decryption_version", k.MinDecryptionVersion)
		add("Vault token accessor", k.TokenAccessor)
		if e := k.KEK; e != nil {
			add("KEK", strings.TrimSpace(e.Key+" "+e.Type))
			add("KEK latest version", e.LatestVersion)
			add("KEK min_decryption_version", e.MinDecryptionVersion)
			add("wrapped with KEK version", e.WrappedWith)
		}
		names := make([]string, 0, len(k.Attributes))
		for n := range k.Attributes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			add(n, k.Attributes[n])
		}
	}
	return out
}
