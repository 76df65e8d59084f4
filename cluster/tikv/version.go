package tikv

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a TiKV release (major.minor.patch). A leading "v" and any
// pre-release or build suffix are ignored, so "v9.0.0-beta.2" gates as 9.0.0.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses "8.5.2", "v6.1.2" or "9.0.0-beta.2".
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q: want major.minor.patch, e.g. v8.5.2", s)
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

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool { return !v.Less(o) }

// String renders v as "v8.5.2".
func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Version gates, as TiKV release tags (reference tikv-encryption.md §2.4, §2.7, §8).
const (
	// GateEncryption: encryption at rest, v4.0.0 (tikv/tikv PR #6990).
	GateEncryption = "v4.0.0"
	// GateFileDictLog: enable-file-dictionary-log, v4.0.9 (components/encryption/src/config.rs comment).
	GateFileDictLog = "v4.0.9"
	// GateRaftEngineEncrypted: Raft Engine files encrypted, v5.4.0 (PR #10937).
	GateRaftEngineEncrypted = "v5.4.0"
	// GateRaftEngineDefault: Raft Engine on by default, v6.1.0 (etc/config-template.toml@v6.1.0).
	GateRaftEngineDefault = "v6.1.0"
	// GateRaftEngineFix: "Nonce + Counter" crash fixed, v6.2.0 (PR #12272; tikv/tikv#12162).
	GateRaftEngineFix = "v6.2.0"
	// GateSM4Code: sm4-ctr present in the code, v6.2.0 (PR #12927).
	GateSM4Code = "v6.2.0"
	// GateSM4Docs: sm4-ctr supported per the docs, v6.3.0 (pingcap/docs encryption-at-rest.md).
	GateSM4Docs = "v6.3.0"
	// GateAzure: vendor = "azure", first tag v7.2.0 (PR #14819).
	GateAzure = "v7.2.0"
	// GateGCP: vendor = "gcp", v8.0.0, experimental (pingcap/docs releases/release-8.0.0.md).
	GateGCP = "v8.0.0"
	// GateAWSTable: [master-key.aws] access-key/secret-access-key, v8.4.0 (PR #17387).
	GateAWSTable = "v8.4.0"
)

// gate parses one of the Gate constants.
func gate(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(fmt.Sprintf("bad version gate %q: %v", s, err))
	}
	return v
}
