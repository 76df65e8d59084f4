package core

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a TiKV release version (major.minor.patch); pre-release suffixes
// such as "-beta.2" are ignored for gating.
type Version struct{ Major, Minor, Patch int }

// ParseVersion accepts "v8.5.0", "8.5.0", "v9.0.0-beta.2" and "v8.5".
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("parsing tikv version %q: want vMAJOR.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("parsing tikv version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustVersion is ParseVersion for constants; it panics on a malformed literal.
func MustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Less orders versions.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// AtLeast reports v >= o.
func (v Version) AtLeast(o Version) bool { return !v.Less(o) }

// String renders "vX.Y.Z".
func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Version gates (reference tikv-encryption.md §2.7 and §8).
const (
	// MinAzure: vendor = "azure" first tag v7.2.0 (PR #14819).
	MinAzure = "v7.2.0"
	// MinGCP: vendor = "gcp" v8.0.0, experimental (pingcap/docs releases/release-8.0.0.md).
	MinGCP = "v8.0.0"
	// MinAWSSubtable: [master-key.aws] access-key/secret-access-key, v8.4.0 (PR #17387).
	MinAWSSubtable = "v8.4.0"
)

// kmsRotationFixes are the first versions per release line with PR #17413, the
// fix for tikv/tikv#17410 (KMS→KMS master-key rotation fails); v8.4.0 and later
// carry it on every line.
func kmsRotationFixes() []Version {
	return []Version{{6, 5, 11}, {7, 1, 6}, {7, 5, 4}, {8, 1, 1}}
}

// KMSRotationFixedIn lists the fix versions of tikv/tikv#17410 for messages.
const KMSRotationFixedIn = "v6.5.11, v7.1.6, v7.5.4, v8.1.1, v8.4.0+"

// HasKMSRotationBug reports whether v lacks the fix for tikv/tikv#17410: it is
// below v8.4.0 and not at or above the cherry-pick in its own release line.
// Lines without a cherry-pick (e.g. 7.2, 8.0) count as affected (DERIVED: the
// fix landed in v8.4.0 and was cherry-picked only to the lines listed).
func HasKMSRotationBug(v Version) bool {
	if v.AtLeast(Version{8, 4, 0}) {
		return false
	}
	for _, f := range kmsRotationFixes() {
		if v.Major == f.Major && v.Minor == f.Minor {
			return v.Less(f)
		}
	}
	return true
}

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
