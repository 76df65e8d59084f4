package tikv

// Bug gates by TiKV version (reference tikv-encryption.md §2.4, §2.7, §8). This
// is the one place the tool decides which releases carry which fix; preflight
// (package steps) and the key backends (package kms) both ask here.

// MustVersion parses a version literal; it panics on a malformed one.
func MustVersion(s string) Version { return gate(s) }

// fixedIn reports whether v carries a fix that was cherry-picked to some release
// lines: v is fixed at or above the fix of its own minor line, and every line at
// or above the last entry (the first mainline release with the fix) is fixed.
func fixedIn(v Version, fixes ...string) bool {
	for _, f := range fixes {
		fv := gate(f)
		if v.Major == fv.Major && v.Minor == fv.Minor {
			return v.AtLeast(fv)
		}
	}
	return v.AtLeast(gate(fixes[len(fixes)-1]))
}

// KMSRotationFixVersions lists the releases with the tikv/tikv#17410 fix (PR #17413), for messages.
const KMSRotationFixVersions = "v6.5.11, v7.1.6, v7.5.4, v8.1.1 or v8.4.0+"

// KMSRotationBug reports tikv/tikv#17410: KMS→KMS master-key rotation fails
// ("decrypt encrypted key failed"). Fixed in v6.5.11, v7.1.6, v7.5.4, v8.1.1 and
// v8.4.0+; lines without a cherry-pick (e.g. 7.2, 8.0) count as affected (DERIVED).
func KMSRotationBug(v Version) bool {
	return !fixedIn(v, "v6.5.11", "v7.1.6", "v7.5.4", "v8.1.1", "v8.4.0")
}

// RaftEngineNonceBug reports tikv/tikv#12162/#12919: enabling encryption on a node
// whose Raft Engine holds plaintext files crashes at start (v5.4.0 ≤ v < v6.2.0;
// no 6.1.x tag is fixed).
func RaftEngineNonceBug(v Version) bool {
	return v.AtLeast(gate(GateRaftEngineEncrypted)) && v.Less(gate(GateRaftEngineFix))
}

// RaftEngineDefaultOn reports whether Raft Engine is on by default (v6.1.0+).
func RaftEngineDefaultOn(v Version) bool { return v.AtLeast(gate(GateRaftEngineDefault)) }

// RaftEngineKeyLeakBug reports tikv/tikv#12890 (Raft Engine WAL file keys never
// cleaned): fixed in v6.1.1 and v6.2.0.
func RaftEngineKeyLeakBug(v Version) bool {
	return v.AtLeast(gate(GateRaftEngineEncrypted)) && !fixedIn(v, "v6.1.1", "v6.2.0")
}

// RaftLogMetaRaceBug reports tikv/tikv#14761 (race deleting encryption metadata and
// a raft log file; the node cannot boot): fixed in v6.1.7, v6.5.3, v7.1.1, v7.2.0.
func RaftLogMetaRaceBug(v Version) bool {
	return v.AtLeast(gate(GateRaftEngineEncrypted)) && !fixedIn(v, "v6.1.7", "v6.5.3", "v7.1.1", "v7.2.0")
}

// KMSFirstAccessBug reports tikv/tikv#9488 (a failed first KMS access leaves a
// corrupt dictionary and TiKV crash-loops): fixed by PR #9540, first tag v5.0.0.
func KMSFirstAccessBug(v Version) bool { return v.Less(gate("v5.0.0")) }
