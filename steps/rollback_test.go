package steps

import (
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvconf"
)

func TestChooseRollbackKeepsEveryKeyThatMayOpenKeyDict(t *testing.T) {
	fileA := tikv.MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-keys/master-g1.key"}
	fileB := tikv.MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-keys/master-g2.key"}
	plain := []byte("# hand-written\n[server]\naddr = \"0.0.0.0:20160\"   # keep this comment\n")
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
	enable := tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: fileA}
	// First enable failed after TiKV created key.dict: keep the new key, method plaintext, and say why.
	c := ChooseRollback(plain, enable, true, TOMLEditor)
	if got := parse(c.Config); c.Original || got.EffectiveMethod() != tikv.MethodPlaintext || got.MasterKey.Path != fileA.Path {
		t.Fatalf("first enable rollback with key.dict = %+v (original %v)", got, c.Original)
	}
	if c.Reason == "" {
		t.Fatal("a rollback that keeps the master key must say why")
	}
	// First enable failed before TiKV wrote key.dict (e.g. the KMS could not be reached): the original, byte for byte.
	c = ChooseRollback(plain, enable, false, TOMLEditor)
	if !c.Original || string(c.Config) != string(plain) {
		t.Fatalf("without key.dict the original config comes back unchanged, got:\n%s", c.Config)
	}
	// A rotation A→B failed: master A again, B kept as previous-master-key.
	c = ChooseRollback(keyed, tikv.Encryption{Method: tikv.MethodAES256CTR, MasterKey: fileB, PreviousMasterKey: fileA}, true, TOMLEditor)
	if got := parse(c.Config); got.MasterKey.Path != fileA.Path || got.PreviousMasterKey.Path != fileB.Path || got.EffectiveMethod() != tikv.MethodAES256CTR {
		t.Fatalf("rotation rollback = %+v", got)
	}
	// Same key (a method change): the original, byte for byte.
	if c = ChooseRollback(keyed, tikv.Encryption{Method: tikv.MethodAES128CTR, MasterKey: fileA}, true, TOMLEditor); !c.Original || string(c.Config) != string(keyed) {
		t.Fatal("a method change rolls back to the original config")
	}
}
