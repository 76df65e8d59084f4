package steps

import "github.com/tikv-ear/tikv-ear/cluster/tikv"

// RollbackConfig returns the config to restore on a store that failed after its
// config was swapped. A store that already ran with a master key gets its
// original config back byte for byte: that key still opens its key.dict. A store
// that had no master key but now has a key.dict (the failed start created it,
// so files may be encrypted) keeps the new master key with the method switched
// to plaintext, as TiKV requires (reference tikv-encryption.md §2.5).
func RollbackConfig(original []byte, desired tikv.Encryption, keyDictNow bool, edit Editor) []byte {
	cfg, err := tikv.ParseConfig("tikv.toml", original)
	if err != nil || cfg.Encryption.MasterKey.EffectiveType() != tikv.MasterKeyPlaintext || !keyDictNow {
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
