package steps

import (
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
)

// RollbackChoice is the config a rollback writes back, whether it is the
// original file byte for byte, and why, in words an operator reads in the
// event, the headless output and the wizard.
type RollbackChoice struct {
	Config   []byte
	Original bool   // Config is the store's original tikv.toml, byte for byte
	Reason   string // why this config (always set)
}

// ChooseRollback returns the config to restore on a store that failed after
// its config was swapped, from the backup of its original tikv.toml.
//
// The original file comes back byte for byte unless TiKV may no longer start
// on it:
//   - a store that had no master key and now has a key.dict (keyDictWritten:
//     TiKV wrote it under the new master key at a start, so files may be
//     encrypted) keeps the new master key with the method set to plaintext:
//     without a master key TiKV cannot open key.dict and fails every start
//     with KV:Encryption:BothMasterKeyFail (reference tikv-encryption.md §2.5;
//     docs/disable.md, the same rule when turning encryption off);
//   - a store that ran with another master key (a rotation) gets its original
//     master key back with the new one as previous-master-key, because TiKV
//     may already have re-wrapped key.dict under the new key and falls back to
//     the previous master key when the current one cannot open it.
func ChooseRollback(original []byte, desired tikv.Encryption, keyDictWritten bool, edit Editor) RollbackChoice {
	asIs := RollbackChoice{Config: original, Original: true, Reason: "the original tikv.toml is back, byte for byte"}
	cfg, err := tikvconf.ParseConfig("tikv.toml", original)
	if err != nil {
		asIs.Reason += " (it could not be parsed, so nothing else was considered)"
		return asIs
	}
	cur := cfg.Encryption
	if cur.MasterKey.EffectiveType() != tikv.MasterKeyPlaintext {
		if sameKey(cur.MasterKey, desired.MasterKey) {
			return asIs // a method change: key.dict stays under the same key
		}
		back := cur
		back.PreviousMasterKey = desired.MasterKey
		edited, err := edit(original, back)
		if err != nil {
			asIs.Reason += " (adding the new key as previous-master-key failed: " + err.Error() + ")"
			return asIs
		}
		return RollbackChoice{Config: edited, Reason: "the original master key is back, with the new key kept as previous-master-key: " +
			"TiKV may already have re-wrapped key.dict under the new key, and falls back to the previous master key when the current one cannot open it"}
	}
	if !keyDictWritten {
		return asIs
	}
	safe := desired
	safe.Method = tikv.MethodPlaintext
	safe.PreviousMasterKey = tikv.MasterKey{}
	edited, err := edit(original, safe)
	if err != nil {
		asIs.Reason += " (keeping the master key failed: " + err.Error() + "; the store may not start: key.dict exists)"
		return asIs
	}
	return RollbackChoice{Config: edited, Reason: "the new master key stays and the method is back to plaintext: " +
		"the store already wrote key.dict under the new master key, and without it TiKV cannot open key.dict and fails every start " +
		"(KV:Encryption:BothMasterKeyFail); new files are written unencrypted"}
}
