package steps

import (
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
)

func TestRollbackConfigKeepsEveryKeyThatMayOpenKeyDict(t *testing.T) {
	fileA := tikv.MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-keys/master-g1.key"}
	fileB := tikv.MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-keys/master-g2.key"}
	plain := []byte("[server]\naddr = \"0.0.0.0:20160\"\n")
	keyed, err := TOMLEditor(plain, tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: fileA})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(b []byte) tikv.Encryption {
		cfg, err := tikvconf.ParseConfig("tikv.toml", b)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Encryption
	}
	// First enable failed after TiKV created key.dict: keep the new key, method plaintext.
	got := parse(RollbackConfig(plain, tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: fileA}, true, TOMLEditor))
	if got.EffectiveMethod() != tikv.MethodPlaintext || got.MasterKey.Path != fileA.Path {
		t.Fatalf("first enable rollback = %+v", got)
	}
	// Nothing created yet: the original, byte for byte.
	if string(RollbackConfig(plain, tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: fileA}, false, TOMLEditor)) != string(plain) {
		t.Fatal("without key.dict the original config comes back unchanged")
	}
	// A rotation A→B failed: master A again, B kept as previous-master-key.
	got = parse(RollbackConfig(keyed, tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: fileB, PreviousMasterKey: fileA}, true, TOMLEditor))
	if got.MasterKey.Path != fileA.Path || got.PreviousMasterKey.Path != fileB.Path || got.EffectiveMethod() != tikv.MethodAES256CTR {
		t.Fatalf("rotation rollback = %+v", got)
	}
	// Same key (a method change): the original, byte for byte.
	if string(RollbackConfig(keyed, tikv.Encryption{Method: tikv.MethodAES128CTR, MasterKey: fileA}, true, TOMLEditor)) != string(keyed) {
		t.Fatal("a method change rolls back to the original config")
	}
}
