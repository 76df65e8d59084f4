package report

import (
	"crypto/ecdsa"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// signerInfo names the key report.json was signed with, for the views. It is
// known when the views are rendered by WriteSigned; RenderMarkdown and
// RenderHTML alone leave it empty.
type signerInfo struct {
	KeyID     string // "sha256:<hex>" of the PKIX public key (KeyIDOf)
	Algorithm Algorithm
}

func signerInfoOf(s Signer) signerInfo {
	pub := s.Public()
	id, err := KeyIDOf(pub)
	if err != nil {
		return signerInfo{}
	}
	alg := Ed25519
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		alg = ECDSAP256
	}
	return signerInfo{KeyID: id, Algorithm: alg}
}

func (a Algorithm) human() string {
	switch a {
	case ECDSAP256:
		return "ECDSA P-256, SHA-256"
	case Ed25519:
		return "Ed25519"
	}
	return string(a)
}

// briefItem is one line of the plain-words summary: a label and a sentence.
type briefItem struct{ Label, Text string }

// kindDone says in plain words what a run of kind k did.
func kindDone(k Kind) string {
	switch k {
	case KindApply:
		return "enabled encryption at rest"
	case KindRotate:
		return "rotated the encryption master key"
	case KindAudit:
		return "audited encryption at rest (read only: nothing was changed)"
	case KindDisable:
		return "disabled encryption at rest"
	case KindChangeMethod:
		return "changed the data encryption method"
	}
	return string(k)
}

// longTime is t in UTC as "2006-01-02 15:04:05 UTC"; "" when t is zero.
func longTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// timeRange is "<from> to <to> (<duration>)", with the date written once when both fall on one day.
func timeRange(from, to time.Time) string {
	switch {
	case from.IsZero():
		return "not recorded"
	case to.IsZero():
		return "from " + longTime(from) + " (not finished)"
	case from.UTC().Format(time.DateOnly) == to.UTC().Format(time.DateOnly):
		return fmt.Sprintf("%s to %s UTC (%s)", from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("15:04:05"), fmtDuration(to.Sub(from)))
	}
	return fmt.Sprintf("%s to %s (%s)", longTime(from), longTime(to), fmtDuration(to.Sub(from)))
}

// mkDescribe names a master key by identity in plain words (never its material).
func mkDescribe(k MasterKey) string {
	var s string
	switch k.Type {
	case "", tikv.MasterKeyPlaintext:
		return "no master key (plaintext)"
	case tikv.MasterKeyFile:
		s = "file key " + k.Path
		if k.KeyID != "" {
			s += " (from " + k.KeyID + ")"
		}
	case tikv.MasterKeyKMS:
		vendor := map[string]string{tikv.VendorAWS: "AWS KMS", tikv.VendorGCP: "GCP Cloud KMS", tikv.VendorAzure: "Azure Key Vault"}[k.Vendor]
		if vendor == "" {
			vendor = k.Vendor + " KMS"
		}
		s = vendor + " key " + k.KeyID
		if k.Region != "" {
			s += " in " + k.Region
		}
	default:
		s = k.Type + " key"
	}
	if k.KeyVersion != "" {
		s += ", version " + k.KeyVersion
	}
	return s
}

func isPlaintextKey(k MasterKey) bool { return k.Type == "" || k.Type == tikv.MasterKeyPlaintext }

func sameKey(a, b MasterKey) bool {
	if a.Fingerprint != "" || b.Fingerprint != "" {
		return a.Fingerprint == b.Fingerprint
	}
	return mkString(a) == mkString(b)
}

// storeChange says what happened to one store's encryption, from its before and after states.
func storeChange(k Kind, s Store) string {
	b, a := s.Before, s.After
	var parts []string
	switch {
	case b.Method == a.Method && a.Method == tikv.MethodPlaintext:
		parts = append(parts, "not encrypted (plaintext before and after)")
	case b.Method == a.Method:
		parts = append(parts, "stays encrypted with "+a.Method)
	case b.Method == tikv.MethodPlaintext || b.Method == "":
		parts = append(parts, "encryption enabled with "+a.Method)
	case a.Method == tikv.MethodPlaintext:
		parts = append(parts, "encryption disabled (was "+b.Method+")")
	default:
		parts = append(parts, "method changed from "+b.Method+" to "+a.Method)
	}
	switch {
	case a.MasterKey.Type == "" || a.MasterKey.Type == tikv.MasterKeyPlaintext:
	case sameKey(b.MasterKey, a.MasterKey):
		parts = append(parts, "master key unchanged")
	case b.MasterKey.Type == "" || b.MasterKey.Type == tikv.MasterKeyPlaintext:
		parts = append(parts, "master key configured")
	default:
		parts = append(parts, "master key replaced")
	}
	switch {
	case !a.HasPreviousMasterKey():
	case b.Method == "" || b.Method == tikv.MethodPlaintext:
		// The data was plaintext before: no earlier encryption used this key.
		// It is one an earlier, rolled-back attempt left configured (key.dict
		// was written under it), kept so TiKV can open that key.dict.
		parts = append(parts, "the data was plaintext before; a master key left by an earlier attempt ("+mkString(*a.PreviousMasterKey)+") stays as previous-master-key so TiKV can open the key.dict written under it")
	default:
		parts = append(parts, "previous master key still configured")
	}
	if k == KindAudit {
		return "checked: " + strings.Join(parts, "; ")
	}
	return strings.Join(parts, "; ")
}

// storeWork is one row of "What was done to each store".
type storeWork struct {
	ID                                  uint64
	Address, Zone                       string
	Change, When                        string
	KeyBefore, KeyAfter                 string
	FingerprintBefore, FingerprintAfter string
	KeyChanged                          bool // replaced an earlier master key (KeyBefore)
	Coverage                            string
}

func storeWorks(r *Report) []storeWork {
	first, last := map[uint64]time.Time{}, map[uint64]time.Time{}
	for _, e := range r.Timeline {
		if e.Store == 0 || e.At.IsZero() {
			continue
		}
		if f, ok := first[e.Store]; !ok || e.At.Before(f) {
			first[e.Store] = e.At
		}
		if l, ok := last[e.Store]; !ok || e.At.After(l) {
			last[e.Store] = e.At
		}
	}
	var out []storeWork
	for _, s := range r.Stores {
		w := storeWork{ID: s.ID, Address: s.Address, Zone: s.Zone, Change: storeChange(r.Kind, s),
			KeyBefore: mkDescribe(s.Before.MasterKey), KeyAfter: mkDescribe(s.After.MasterKey),
			FingerprintBefore: s.Before.MasterKey.Fingerprint, FingerprintAfter: s.After.MasterKey.Fingerprint,
			KeyChanged: !sameKey(s.Before.MasterKey, s.After.MasterKey) && !isPlaintextKey(s.Before.MasterKey), Coverage: coverageString(s.Verification.Coverage)}
		w.When = "no step recorded for this store"
		if f, ok := first[s.ID]; ok {
			w.When = timeRange(f, last[s.ID])
		}
		out = append(out, w)
	}
	return out
}

// brief is the plain-words summary at the top of both views: what was done,
// to which stores, when, by whom, with which key (by identity and
// fingerprint), with what outcome and problems, and how the report is signed.
func brief(r *Report, sig signerInfo) []briefItem {
	cluster := "cluster " + r.Cluster.PDClusterID
	if r.Cluster.TiUPName != "" {
		cluster = "cluster " + r.Cluster.TiUPName + " (PD cluster id " + r.Cluster.PDClusterID + ")"
	}
	ids := make([]string, len(r.Stores))
	enc := 0
	methods := set{}
	for i, s := range r.Stores {
		ids[i] = strconv.FormatUint(s.ID, 10)
		if s.After.Method != "" && s.After.Method != tikv.MethodPlaintext {
			enc++
			methods.add(s.After.Method)
		}
	}
	storeList := "no stores"
	switch len(ids) {
	case 0:
	case 1:
		storeList = "store " + ids[0]
	default:
		storeList = fmt.Sprintf("%d stores (%s)", len(ids), strings.Join(ids, ", "))
	}
	items := []briefItem{
		{"What", fmt.Sprintf("tikv-ear %s on %s of TiKV %s.", kindDone(r.Kind), storeList, cluster)},
		{"When", timeRange(r.StartedAt, r.FinishedAt) + "."},
	}
	who := "Operator " + orDash(r.Operator) + ", using " + strings.TrimSpace(r.Tool.Name+" "+r.Tool.Version)
	if r.Tool.Commit != "" {
		who += " (commit " + r.Tool.Commit + ")"
	}
	if r.PlanDigest != "" {
		who += ", following the plan with digest " + r.PlanDigest
	}
	items = append(items, briefItem{"Who", who + "."})
	out := fmt.Sprintf("%s. After the run %d of %d stores are encrypted", orDash(r.Outcome), enc, len(r.Stores))
	if m := methods.list(); len(m) > 0 {
		out += " (" + strings.Join(m, ", ") + ")"
	}
	items = append(items, briefItem{"Outcome", out + "."})

	// Master keys after the run, grouped by identity.
	type group struct {
		desc, fp string
		stores   []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, s := range r.Stores {
		k := mkDescribe(s.After.MasterKey) + "\x00" + s.After.MasterKey.Fingerprint
		g := byKey[k]
		if g == nil {
			g = &group{desc: mkDescribe(s.After.MasterKey), fp: s.After.MasterKey.Fingerprint}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.stores = append(g.stores, strconv.FormatUint(s.ID, 10))
	}
	var keys []string
	for _, g := range groups {
		t := g.desc
		if g.fp != "" {
			t += ", fingerprint " + g.fp
		}
		if len(groups) > 1 {
			t += " on stores " + strings.Join(g.stores, ", ")
		}
		keys = append(keys, t)
	}
	if len(keys) > 0 {
		items = append(items, briefItem{"Master key", "After the run: " + strings.Join(keys, "; ") +
			". Keys are recorded by identity and fingerprint only; no key material is in this report."})
	}

	var probs []string
	resolved := 0
	for _, f := range r.Faults {
		if !f.ResolvedAt.IsZero() {
			resolved++
		}
	}
	if n := len(r.Faults); n > 0 {
		probs = append(probs, fmt.Sprintf("%s (%d resolved)", countNoun(n, "fault"), resolved))
	}
	decisions := 0
	for _, e := range r.Timeline {
		if e.Decision != nil {
			decisions++
		}
	}
	if decisions > 0 {
		probs = append(probs, countNoun(decisions, "decision"))
	}
	if len(r.Findings) > 0 {
		counts := map[string]int{}
		for _, f := range r.Findings {
			counts[f.Severity]++
		}
		var sev []string
		for _, s := range []string{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo} {
			if counts[s] > 0 {
				sev = append(sev, fmt.Sprintf("%d %s", counts[s], s))
			}
		}
		probs = append(probs, countNoun(len(r.Findings), "finding")+" ("+strings.Join(sev, ", ")+")")
	}
	if len(probs) == 0 {
		probs = []string{"no faults, decisions or findings"}
	}
	items = append(items, briefItem{"Problems", strings.Join(probs, "; ") + "."})

	signed := "report.json is signed with the key in pub.pem; check its fingerprint against the one the operator published."
	if sig.KeyID != "" {
		signed = fmt.Sprintf("report.json is signed with the key %s (%s), whose public half is pub.pem.", sig.KeyID, sig.Algorithm.human())
	}
	items = append(items, briefItem{"Signature", signed + " This page is a view of report.json and is not signed itself; see \"How to verify this report\"."})
	return items
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// verifyStep is one step of "How to verify this report": prose and an optional command.
type verifyStep struct{ Text, Command string }

func verifySteps(sig signerInfo) []verifyStep {
	fp := "the fingerprint the operator published"
	if sig.KeyID != "" {
		fp = strings.TrimPrefix(sig.KeyID, "sha256:") + " (the signing key above)"
	}
	return []verifyStep{
		{Text: "Get pub.pem from the operator out of band (change ticket, a wiki page the operator cannot edit), not only from this directory, and check its fingerprint. The command must print " + fp + ".",
			Command: "openssl pkey -pubin -in pub.pem -outform DER | sha256sum"},
		{Text: "Verify with tikv-ear. It lists every check it makes and fails if one byte of report.json changed.",
			Command: "tikv-ear report verify report.json --key pub.pem"},
		{Text: "Or verify with cosign v3, offline. It prints \"Verified OK\".",
			Command: cosignCommand},
		{Text: "Or verify with openssl alone: rebuild the DSSE pre-authentication encoding from report.intoto.jsonl and check the signature and the subject digest, as docs/audit.md shows step by step."},
		{Text: "A valid signature proves that the holder of the signing key produced report.json unchanged since. Compare the report's PD cluster id with the cluster's own (GET /pd/api/v1/cluster) to be sure it is about the cluster you audit."},
	}
}

// cosignCommand is the offline cosign v3 check of a report directory (reference kms-and-evidence.md §4.3, §4.7).
const cosignCommand = "cosign verify-blob-attestation --key pub.pem --bundle report.sigstore.json --insecure-ignore-tlog=true --type " + PredicateType + " report.json"

// evidenceRef splits a compliance evidence item "<where>: <what>" into what
// it shows, where it is in report.json (or which file), and the view section
// that shows it.
type evidenceRef struct {
	What, Where     string
	Section, Anchor string
}

// reportSections maps report.json locations (longest prefix first) to the view section showing them.
var reportSections = []struct{ prefix, section, anchor string }{
	{"stores[*].verification.coverage", "Coverage", "coverage"},
	{"stores[*].verification.log_lines", "Verification evidence", "verification-evidence"},
	{"stores[*].verification.metrics", "Verification evidence", "verification-evidence"},
	{"stores[*]", "Stores", "stores"},
	{"keys[*]", "Keys and ages", "keys-and-ages"},
	{"schedule", "Rotation schedule", "rotation-schedule"},
	{"timeline[*]", "Event log", "event-log"},
	{"faults[*]", "Faults", "faults"},
	{FileBundle, "How to verify this report", "how-to-verify-this-report"},
	{FileEnvelope, "How to verify this report", "how-to-verify-this-report"},
}

func parseEvidence(item string) evidenceRef {
	where, what, ok := strings.Cut(item, ": ")
	if !ok || strings.Contains(strings.ReplaceAll(where, ", ", ","), " ") {
		return evidenceRef{What: item}
	}
	ref := evidenceRef{What: what, Where: where}
	for _, s := range reportSections {
		if strings.HasPrefix(where, s.prefix) {
			ref.Section, ref.Anchor = s.section, s.anchor
			break
		}
	}
	return ref
}

// evidenceText renders a compliance evidence item for Markdown: the fact,
// then where it is in report.json and the section of this view.
func evidenceText(item string) string {
	e := parseEvidence(item)
	if e.Where == "" {
		return e.What
	}
	s := e.What + " — `" + e.Where + "`"
	if e.Section != "" {
		s += " (see [" + e.Section + "](#" + e.Anchor + "))"
	}
	return s
}
