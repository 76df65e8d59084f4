package steps

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a TiKV release version (major.minor.patch; a leading "v" and any
// pre-release or build suffix are ignored for gate comparisons).
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "8.5.2", "v6.1.2" or "9.0.0-beta.2".
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q: want major.minor.patch", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustVersion parses a version known at compile time.
func MustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Less reports whether v < o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// AtLeast reports whether v >= o.
func (v Version) AtLeast(o Version) bool { return !v.Less(o) }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// fixedIn reports whether v contains a fix that was cherry-picked to the given
// release lines: v is fixed when it is at least the fix version of its own
// minor line, or at least the first fixed version of a later line (the last entry
// is the first mainline release with the fix).
func fixedIn(v Version, fixes ...string) bool {
	for _, f := range fixes {
		fv := MustVersion(f)
		if v.Major == fv.Major && v.Minor == fv.Minor {
			return v.AtLeast(fv)
		}
	}
	last := MustVersion(fixes[len(fixes)-1])
	return v.AtLeast(last)
}

// Feature and bug gates, each from reference tikv-encryption.md §2.7 and §8.
var (
	// gateEncryption: encryption at rest is new in v4.0.0 (pingcap/docs encryption-at-rest.md).
	gateEncryption = MustVersion("4.0.0")
	// gateFileDictLog: enable-file-dictionary-log (file.dict V2) since v4.0.9 (config.rs comment).
	gateFileDictLog = MustVersion("4.0.9")
	// gateRaftEngineEncrypted: Raft Engine files are encrypted since v5.4.0 (PR #10937).
	gateRaftEngineEncrypted = MustVersion("5.4.0")
	// gateRaftEngineNonceFixed: tikv#12162/#12919 fixed by PR #12272, first tag v6.2.0; no 6.1.x fixed.
	gateRaftEngineNonceFixed = MustVersion("6.2.0")
	// gateRaftEngineDefault: Raft Engine enabled by default from v6.1.0 (etc/config-template.toml@v6.1.0).
	gateRaftEngineDefault = MustVersion("6.1.0")
	// gateSM4: docs say v6.3.0 and later (code is in v6.2.0).
	gateSM4 = MustVersion("6.3.0")
	// gateAzure: vendor "azure" first tag v7.2.0 (PR #14819).
	gateAzure = MustVersion("7.2.0")
	// gateGCP: vendor "gcp" since v8.0.0, experimental (release-8.0.0 notes).
	gateGCP = MustVersion("8.0.0")
	// gateAWSSubTable: [master-key.aws] access-key/secret-access-key since v8.4.0 (PR #17387).
	gateAWSSubTable = MustVersion("8.4.0")
	// gateKMSFirstAccess: tikv#9488 (corrupt dict after first KMS failure) fixed by PR #9540, first tag v5.0.0.
	gateKMSFirstAccess = MustVersion("5.0.0")
)

// RaftEngineNonceBug reports whether v has tikv#12162: enabling encryption on a node whose Raft
// Engine holds plaintext files crashes at start (v5.4.0 ≤ v < v6.2.0).
func RaftEngineNonceBug(v Version) bool {
	return v.AtLeast(gateRaftEngineEncrypted) && v.Less(gateRaftEngineNonceFixed)
}

// RaftEngineDefaultOn reports whether Raft Engine is on by default in v (v6.1.0+).
func RaftEngineDefaultOn(v Version) bool { return v.AtLeast(gateRaftEngineDefault) }

// KMSRotationBug reports whether v has tikv#17410 (KMS→KMS master-key rotation fails);
// fixed in v6.5.11, v7.1.6, v7.5.4, v8.1.1 and v8.4.0+ (PR #17413).
func KMSRotationBug(v Version) bool {
	return !fixedIn(v, "6.5.11", "7.1.6", "7.5.4", "8.1.1", "8.4.0")
}

// KMSRotationFixVersions lists the releases with the tikv#17410 fix, for hints.
const KMSRotationFixVersions = "v6.5.11, v7.1.6, v7.5.4, v8.1.1 or v8.4.0+"

// RaftEngineKeyLeakBug reports tikv#12890 (WAL keys never cleaned with Raft Engine): fixed in v6.1.1 and v6.2.0.
func RaftEngineKeyLeakBug(v Version) bool {
	return v.AtLeast(gateRaftEngineEncrypted) && !fixedIn(v, "6.1.1", "6.2.0")
}

// RaftLogMetaRaceBug reports tikv#14761 (metadata/raft log deletion race, node cannot boot):
// fixed in v6.1.7, v6.5.3, v7.1.1, v7.2.0.
func RaftLogMetaRaceBug(v Version) bool {
	return v.AtLeast(gateRaftEngineEncrypted) && !fixedIn(v, "6.1.7", "6.5.3", "7.1.1", "7.2.0")
}
