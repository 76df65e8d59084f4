package tikvconf

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

func TestEncryptionEditsRoundTrip(t *testing.T) {
	orig := []byte("# my tikv\n[server]\naddr = \"0.0.0.0:20160\"\n\n[security.encryption]\ndata-encryption-method = \"plaintext\"\n")
	want := tikv.Encryption{Method: tikv.MethodAES256CTR, DataKeyRotationPeriod: "7d",
		MasterKey:         tikv.MasterKey{Type: tikv.MasterKeyKMS, KeyID: "arn:aws:kms:us-west-2:111122223333:key/k2", Region: "us-west-2", Endpoint: "http://127.0.0.1:4566", Vendor: tikv.VendorAWS},
		PreviousMasterKey: tikv.MasterKey{Type: tikv.MasterKeyFile, Path: "/run/tikv-keys/master-g1.key"}}
	out, err := ApplyEdits(orig, EncryptionEdits(want)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "# my tikv\n[server]\naddr = \"0.0.0.0:20160\"\n") {
		t.Fatalf("unrelated bytes changed:\n%s", out)
	}
	cfg, err := ParseConfig("tikv.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Encryption
	if got.Method != want.Method || got.DataKeyRotationPeriod != "7d" || got.MasterKey.KeyID != want.MasterKey.KeyID ||
		got.MasterKey.Vendor != "aws" || got.PreviousMasterKey.Path != want.PreviousMasterKey.Path {
		t.Fatalf("re-parsed %+v", got)
	}
	// Dropping the previous key removes its table; applying twice changes nothing.
	want.PreviousMasterKey = tikv.MasterKey{}
	out2, err := ApplyEdits(out, EncryptionEdits(want)...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out2), "previous-master-key") {
		t.Fatalf("previous-master-key should be gone:\n%s", out2)
	}
	out3, _ := ApplyEdits(out2, EncryptionEdits(want)...)
	if string(out3) != string(out2) {
		t.Fatal("edits are not idempotent")
	}
}
