package node

import (
	"strconv"
	"strings"
)

// semver is a parsed TiKV version "major.minor.patch" (pre-release suffixes ignored).
type semver [3]int

func parseVersion(v string) semver {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	var s semver
	for i, p := range strings.SplitN(v, ".", 3) {
		n, _ := strconv.Atoi(p)
		s[i] = n
	}
	return s
}

func (s semver) atLeast(maj, min, patch int) bool {
	o := semver{maj, min, patch}
	for i := range s {
		if s[i] != o[i] {
			return s[i] > o[i]
		}
	}
	return true
}

// Feature gates (tikv-encryption.md §2.7, §2.4, §2.2).
func (s semver) hasSM4() bool        { return s.atLeast(6, 2, 0) } // PR #12927 is in tag v6.2.0 (docs: v6.3.0)
func (s semver) hasAzure() bool      { return s.atLeast(7, 2, 0) } // PR #14819
func (s semver) hasGCP() bool        { return s.atLeast(8, 0, 0) } // release-8.0.0
func (s semver) hasAWSTable() bool   { return s.atLeast(8, 4, 0) } // PR #17387
func (s semver) raftEngineBug() bool { return s.atLeast(5, 4, 0) && !s.atLeast(6, 2, 0) }

// kmsDecryptFixed reports whether a KMS decrypt failure is classified as
// WrongMasterKey (PR #17413: v6.5.11, v7.1.6, v7.5.4, v8.1.1, v8.4.0+; tikv/tikv#17410).
func (s semver) kmsDecryptFixed() bool {
	switch {
	case s.atLeast(8, 4, 0):
		return true
	case s[0] == 8 && s[1] == 1:
		return s[2] >= 1
	case s[0] == 7 && s[1] == 5:
		return s[2] >= 4
	case s[0] == 7 && s[1] == 1:
		return s[2] >= 6
	case s[0] == 6 && s[1] == 5:
		return s[2] >= 11
	}
	return false
}
