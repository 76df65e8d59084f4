package steps

import (
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
)

// RollbackConfig returns the config to restore on a store that failed after its
// config was swapped. A store that already ran with a master key gets its
// original config back, with the new key as previous-master-key when the run
// changed keys (TiKV may have re-wrapped key.dict already). A store
// that had no master key but now has a key.dict (the failed start created it,
// so files may be encrypted) keeps the new master key with the method switched
// to plaintext, as TiKV requires (reference tikv-encryption.md §2.5).
func RollbackConfig(original []byte, desired tikv.Encryption, keyDictNow bool, edit Editor) []byte {
	cfg, err := tikvconf.ParseConfig("tikv.toml", original)
	if err != nil || !keyDictNow {
		return original
	}
	if cur := cfg.Encryption; cur.MasterKey.EffectiveType() != tikv.MasterKeyPlaintext {
		// A keyed store: during a rotation TiKV may already have re-wrapped
		// key.dict under the new key, so the new key stays as previous-master-key
		// and TiKV falls back to it if the original key no longer opens key.dict.
		if sameKey(cur.MasterKey, desired.MasterKey) {
			return original
		}
		back := cur
		back.PreviousMasterKey = desired.MasterKey
		if edited, err := edit(original, back); err == nil {
			return edited
		}
		return original
	}
	safe := desired
	safe.Method = tikv.MethodPlaintext
	safe.PreviousMasterKey = tikv.MasterKey{}
	if edited, err := edit(original, safe); err == nil {
		return edited
	}
	return original
}
