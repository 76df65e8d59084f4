package steps

import (
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

func TestClassifyHighlightsEncryptionLines(t *testing.T) {
	line := "[2026/11/27 10:00:00.000 +00:00] [INFO] [mod.rs:496] [\"" + tikvlog.MsgBeingEnabled.Format("Aes256Ctr") + "\"]"
	if l := ClassifyLog(line); l.Catalog == "" || l.Fatal || l.Text != "10:00:00 INFO encryption is being enabled. method = Aes256Ctr" {
		t.Fatalf("%+v", l)
	}
	fatal := "[2026/11/27 10:00:00.000 +00:00] [FATAL] [common.rs:272] [\"" + tikv.EncryptionInitFailed("IO error x", tikv.CodeIO) + "\"]"
	if l := ClassifyLog(fatal); l.Catalog == "" || !l.Fatal {
		t.Fatalf("%+v", l)
	}
	if l := ClassifyLog("[2026/11/27 10:00:00.000 +00:00] [INFO] [server.rs:1] [\"Welcome to TiKV\"]"); l.Catalog != "" || l.Fatal {
		t.Fatalf("%+v", l)
	}
}
