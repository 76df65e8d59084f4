package kms

import (
	"fmt"
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

// TestFieldsMapOntoEachBackendsConfig: every backend has form fields, each
// field is a setting of its [key.<backend>] table, and a form's answers make
// the spec whose values read back the same.
func TestFieldsMapOntoEachBackendsConfig(t *testing.T) {
	for _, backend := range []string{"file", "aws", "vault", "gcp", "azure"} {
		fields := Fields(backend)
		if len(fields) == 0 {
			t.Errorf("%s: no fields", backend)
			continue
		}
		answers := map[string]string{}
		for i, f := range fields {
			if f.Format == "yesno" {
				answers[f.Key] = "yes"
			} else {
				answers[f.Key] = fmt.Sprintf("v%d", i)
			}
			if f.Placeholder != "" && f.Placeholder == f.Default {
				t.Errorf("%s %s: the placeholder %q is also the default", backend, f.Key, f.Placeholder)
			}
		}
		spec, err := SpecFromFields(backend, answers)
		if err != nil {
			t.Fatalf("%s: %v", backend, err)
		}
		back := FieldValues(spec)
		for k, v := range answers {
			if back[k] != v {
				t.Errorf("%s %s: %q read back as %q", backend, k, v, back[k])
			}
		}
	}
	if _, err := SpecFromFields("azure", map[string]string{"key-id": "k", "no-such": "x"}); err == nil {
		t.Error("an unknown setting was accepted")
	}
	if _, err := SpecFromFields("vault", map[string]string{"create-kek": "maybe"}); err == nil {
		t.Error("create-kek = maybe was accepted")
	}
	spec, err := SpecFromFields("gcp", map[string]string{"key-id": "projects/p/locations/l/keyRings/r/cryptoKeys/k", "credential-file-path": "/run/k/g.json"})
	if err != nil || spec.GCP == nil || spec.GCP.CredentialFilePath != "/run/k/g.json" || spec.Azure != nil {
		t.Fatalf("gcp spec %+v: %v", spec.GCP, err)
	}
}
