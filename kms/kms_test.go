package kms

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/tikv-ear/tikv-ear/kms/filekey"
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
