package core

import (
	"bytes"
	"strings"
	"testing"
)

func TestEncodeAndCheckFileKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	c, err := EncodeFileKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 65 || string(c) != strings.Repeat("ab", 32)+"\n" {
		t.Fatalf("encoded = %q", c)
	}
	if err := CheckFileKey(c); err != nil {
		t.Fatal(err)
	}
	if _, err := EncodeFileKey(raw[:16]); err == nil {
		t.Fatal("16-byte key accepted")
	}
	for _, tc := range []struct{ in, want string }{
		{strings.Repeat("ab", 32), "expected 65, actual 64"},
		{strings.Repeat("ab", 32) + "\r\n", "expected 65, actual 66"},
		{strings.Repeat("ab", 32) + "x", "should end with newline"},
		{"zz" + strings.Repeat("ab", 31) + "\n", "failed to decode master key from file"},
	} {
		err := CheckFileKey([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "abab") {
			t.Errorf("CheckFileKey(%d bytes) = %v, want %q without key bytes", len(tc.in), err, tc.want)
		}
	}
	if fp := Fingerprint(c); !strings.HasPrefix(fp, "sha256:") || len(fp) != 7+64 {
		t.Fatalf("fingerprint %q", fp)
	}
}

func TestVersionGates(t *testing.T) {
	for _, tc := range []struct {
		v   string
		bug bool
	}{
		{"v6.5.10", true}, {"v6.5.11", false}, {"v7.1.5", true}, {"v7.1.6", false}, {"v7.5.4", false},
		{"v7.2.0", true}, {"v8.0.0", true}, {"8.1.0", true}, {"v8.1.1", false}, {"v8.3.0", true},
		{"v8.4.0", false}, {"v9.0.0-beta.2", false}, {"v5.4.0", true},
	} {
		if got := HasKMSRotationBug(MustVersion(tc.v)); got != tc.bug {
			t.Errorf("HasKMSRotationBug(%s) = %t, want %t", tc.v, got, tc.bug)
		}
	}
	vs, fs := VersionFindings([]string{"v7.1.0", "nope", "v8.5.0"})
	if len(vs) != 2 || len(fs) != 1 || !strings.Contains(fs[0].Message, `"nope"`) {
		t.Fatalf("versions %v findings %+v", vs, fs)
	}
	if b := Below(vs, MinAzure); len(b) != 1 || b[0] != "v7.1.0" {
		t.Fatalf("below azure = %v", b)
	}
	if f := KMSRotationFinding(vs); f == nil || !strings.Contains(f.Message, "v7.1.0") || strings.Contains(f.Message, "v8.5.0") {
		t.Fatalf("rotation finding = %+v", f)
	}
}
