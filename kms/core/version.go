package core

import (
	"fmt"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Version is a TiKV release version; parsing and every bug gate live in
// cluster/tikv (gates.go), shared with preflight.
type Version = tikv.Version

// ParseVersion accepts "v8.5.0", "8.5.0" and "v9.0.0-beta.2".
func ParseVersion(s string) (Version, error) { return tikv.ParseVersion(s) }

// MustVersion is ParseVersion for constants; it panics on a malformed literal.
func MustVersion(s string) Version { return tikv.MustVersion(s) }

// Version gates (reference tikv-encryption.md §2.7 and §8).
const (
	// MinAzure: vendor = "azure" first tag v7.2.0 (PR #14819).
	MinAzure = "v7.2.0"
	// MinGCP: vendor = "gcp" v8.0.0, experimental (pingcap/docs releases/release-8.0.0.md).
	MinGCP = "v8.0.0"
	// MinAWSSubtable: [master-key.aws] access-key/secret-access-key, v8.4.0 (PR #17387).
	MinAWSSubtable = "v8.4.0"
)

// KMSRotationFixedIn lists the fix versions of tikv/tikv#17410 for messages.
const KMSRotationFixedIn = tikv.KMSRotationFixVersions

// HasKMSRotationBug reports whether v lacks the fix for tikv/tikv#17410.
func HasKMSRotationBug(v Version) bool { return tikv.KMSRotationBug(v) }

// VersionFindings parses the cluster's versions; unparsable ones become error
// findings and are dropped from the result.
func VersionFindings(tikvVersions []string) ([]Version, []Finding) {
	var vs []Version
	var fs []Finding
	for _, s := range tikvVersions {
		v, err := ParseVersion(s)
		if err != nil {
			fs = append(fs, Finding{Severity: SeverityError, Code: "tikv-version", Message: err.Error(), Fix: "use the version TiKV reports, e.g. v8.5.0"})
			continue
		}
		vs = append(vs, v)
	}
	return vs, fs
}

// Below returns the versions older than min (a version literal such as
// MinAzure), as strings, for messages.
func Below(vs []Version, min string) []string {
	m := MustVersion(min)
	var out []string
	for _, v := range vs {
		if v.Less(m) {
			out = append(out, v.String())
		}
	}
	return out
}

// KMSRotationFinding is the shared warning for KMS backends when any version
// lacks the tikv/tikv#17410 fix; nil otherwise.
func KMSRotationFinding(vs []Version) *Finding {
	var bad []string
	for _, v := range vs {
		if HasKMSRotationBug(v) {
			bad = append(bad, v.String())
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Finding{
		Severity: SeverityWarn,
		Code:     "kms-rotation-bug",
		Message: fmt.Sprintf("tikv %s cannot rotate from one KMS key to another (previous-master-key is not tried: "+
			"\"Cloud KMS error … decrypt encrypted key failed\")", strings.Join(bad, ", ")),
		Fix:    "rotate the CMK natively (transparent to TiKV), or upgrade to " + KMSRotationFixedIn + " before switching to a new key id",
		Source: "tikv/tikv#17410, fixed by PR #17413",
	}
}
