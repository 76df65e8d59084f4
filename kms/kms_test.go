package kms

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
)

func TestNewFromTOML(t *testing.T) {
	var spec Spec
	doc := "backend = \"file\"\n[file]\nkey-dir = \"" + filepath.ToSlash(t.TempDir()) + "\"\n"
	if err := toml.Unmarshal([]byte(doc), &spec); err != nil {
		t.Fatal(err)
	}
	b, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "file" {
		t.Fatalf("name = %q", b.Name())
	}
	if _, ok := b.(*filekey.Backend); !ok {
		t.Fatalf("backend type %T", b)
	}
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{}, "backend is empty"},
		{Spec{Backend: "hsm"}, `"hsm" is unknown`},
		{Spec{Backend: "vault"}, "[key.vault] table is missing"},
	} {
		if _, err := New(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.spec, err, tc.want)
		}
	}
}

func TestSpecRotated(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		get  func(Spec) (id, next string)
	}{
		{Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/a", NextKeyID: "alias/b", Region: "us-west-2"}},
			func(s Spec) (string, string) { return s.AWS.KeyID, s.AWS.NextKeyID }},
		{Spec{Backend: "gcp", GCP: &gcpkms.Config{KeyID: "projects/p/locations/l/keyRings/r/cryptoKeys/a", NextKeyID: "projects/p/locations/l/keyRings/r/cryptoKeys/b"}},
			func(s Spec) (string, string) { return s.GCP.KeyID, s.GCP.NextKeyID }},
		{Spec{Backend: "azure", Azure: &azurekms.Config{KeyID: "a", NextKeyID: "b"}},
			func(s Spec) (string, string) { return s.Azure.KeyID, s.Azure.NextKeyID }},
	} {
		oldID, oldNext := tc.get(tc.spec)
		got := tc.spec.Rotated(KeyRef{Backend: tc.spec.Backend, ID: "the-new-key"})
		if id, next := tc.get(got); id != "the-new-key" || next != "" {
			t.Errorf("%s: Rotated gives key-id %q next-key-id %q, want the new key and none", tc.spec.Backend, id, next)
		}
		if id, next := tc.get(tc.spec); id != oldID || next != oldNext {
			t.Errorf("%s: Rotated modified the receiver: %q %q", tc.spec.Backend, id, next)
		}
	}
	file := Spec{Backend: "file", File: &filekey.Config{KeyDir: "/k"}}
	if got := file.Rotated(KeyRef{Backend: "file", ID: "/k/master-g2.key", Generation: 2}); got.File != file.File {
		t.Error("Rotated changed a file spec")
	}
}

func TestSameKey(t *testing.T) {
	a := KeyRef{Backend: "aws", ID: "arn:1"}
	if !SameKey(a, a) || SameKey(a, KeyRef{Backend: "aws", ID: "arn:2"}) {
		t.Error("aws keys compare by id")
	}
	g1 := KeyRef{Backend: "vault", ID: "secret/x", Version: "1", Generation: 1}
	g2 := KeyRef{Backend: "vault", ID: "secret/x", Version: "2", Generation: 2}
	if SameKey(g1, g2) {
		t.Error("two vault generations at one KV path are different keys")
	}
}
