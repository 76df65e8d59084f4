package tikvconf

import (
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// enableEdits turns encryption on with a file master key.
func enableEdits() []Edit {
	return []Edit{
		Set("security.encryption.data-encryption-method", tikv.MethodAES256CTR),
		Set("security.encryption.data-key-rotation-period", "7d"),
		SetTable("security.encryption.master-key", Field{Key: "type", Value: "file"}, Field{Key: "path", Value: "/secure/master.key"}),
	}
}

// changedLines returns the -/+ lines of a unified diff.
func changedLines(diff string) []string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++") {
			continue
		}
		if strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+") {
			out = append(out, l)
		}
	}
	return out
}

func mustApply(t *testing.T, data []byte, edits ...Edit) []byte {
	t.Helper()
	out, err := ApplyEdits(data, edits...)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ApplyEdits(out, edits...)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Fatalf("not idempotent:\n%s", UnifiedDiff("once", "twice", out, again))
	}
	return out
}

func TestApplyEditsTemplateRoundTrip(t *testing.T) {
	data := upstreamFile(t, "config-template.toml")
	out := mustApply(t, data, enableEdits()...)
	diff := UnifiedDiff("a/tikv.toml", "b/tikv.toml", data, out)
	want := []string{
		`+data-encryption-method = "aes256-ctr"`,
		`+data-key-rotation-period = "7d"`,
		`+[security.encryption.master-key]`,
		`+type = "file"`,
		`+path = "/secure/master.key"`,
	}
	if got := changedLines(diff); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff touches other lines:\n%s", diff)
	}
	// The comment lines stay and the new key follows its commented template line.
	if !strings.Contains(string(out), "# data-encryption-method = \"plaintext\"\ndata-encryption-method = \"aes256-ctr\"\n") {
		t.Errorf("key not placed after its commented template line")
	}
	if !strings.Contains(string(out), "# [security.encryption.master-key]\n# type = \"plaintext\"\n[security.encryption.master-key]\ntype = \"file\"\npath = \"/secure/master.key\"\n\n## Specifies the old master key") {
		t.Errorf("master-key table not placed after its commented block")
	}
	c, err := ParseConfig("tikv.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Encryption
	if e.Method != tikv.MethodAES256CTR || e.DataKeyRotationPeriod != "7d" || e.MasterKey != (tikv.MasterKey{Type: "file", Path: "/secure/master.key"}) {
		t.Errorf("re-parsed encryption = %+v", e)
	}
	if ps := c.Validate("v8.5.2"); len(ps) != 0 {
		t.Errorf("problems after edit: %v", ps)
	}
	if !strings.HasPrefix(diff, "--- a/tikv.toml\n+++ b/tikv.toml\n@@ -") {
		t.Errorf("diff header: %q", diff[:40])
	}
}

func TestApplyEditsTemplateSwitchToKMSAndRotate(t *testing.T) {
	data := mustApply(t, upstreamFile(t, "config-template.toml"), enableEdits()...)
	out := mustApply(t, data,
		SetTable("security.encryption.master-key", Field{Key: "type", Value: "kms"}, Field{Key: "key-id", Value: "alias/tikv"}, Field{Key: "region", Value: "us-west-2"}),
		SetTable("security.encryption.previous-master-key", Field{Key: "type", Value: "file"}, Field{Key: "path", Value: "/secure/master.key"}),
	)
	c, err := ParseConfig("tikv.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Encryption
	if e.MasterKey != (tikv.MasterKey{Type: "kms", KeyID: "alias/tikv", Region: "us-west-2"}) {
		t.Errorf("master = %+v", e.MasterKey)
	}
	if e.PreviousMasterKey != (tikv.MasterKey{Type: "file", Path: "/secure/master.key"}) {
		t.Errorf("previous = %+v", e.PreviousMasterKey)
	}
	got := changedLines(UnifiedDiff("a", "b", data, out))
	want := []string{`-type = "file"`, `-path = "/secure/master.key"`, `+type = "kms"`, `+key-id = "alias/tikv"`, `+region = "us-west-2"`,
		`+[security.encryption.previous-master-key]`, `+type = "file"`, `+path = "/secure/master.key"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changed lines:\n%s", strings.Join(got, "\n"))
	}
	// Disable again: remove the method; the table and comments stay.
	off := mustApply(t, out, Remove("security.encryption.data-encryption-method"), Remove("security.encryption.previous-master-key"))
	if strings.Contains(string(off), "\ndata-encryption-method =") || strings.Contains(string(off), "\n[security.encryption.previous-master-key]") {
		t.Error("remove left the key or table")
	}
	if !strings.Contains(string(off), "# data-encryption-method = \"plaintext\"\n") {
		t.Error("remove dropped the template comment")
	}
}

func TestApplyEditsTiUPSample(t *testing.T) {
	data := corpusFile(t, "synthetic/tikv-toml", "tiup-rendered-plaintext.toml")
	out := mustApply(t, data, enableEdits()...)
	if !strings.HasPrefix(string(out), string(data)) {
		t.Fatal("existing bytes changed")
	}
	added := string(out[len(data):])
	want := "\n[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\ndata-key-rotation-period = \"7d\"\n\n[security.encryption.master-key]\ntype = \"file\"\npath = \"/secure/master.key\"\n"
	if added != want {
		t.Errorf("appended:\n%q\nwant\n%q", added, want)
	}
	if !tikv.DetectTiUP(out) {
		t.Error("TiUP header lost")
	}
}

func TestApplyEditsDottedAndInline(t *testing.T) {
	cases := []struct {
		name, in, want string
		edits          []Edit
	}{
		{"dotted keys in [security]",
			"[security]\nencryption.data-encryption-method = \"plaintext\" # off\nca-path = \"\"\n",
			"[security]\nencryption.data-encryption-method = \"aes128-ctr\" # off\nencryption.master-key.type = \"file\"\nencryption.master-key.path = \"/k\"\nca-path = \"\"\n",
			[]Edit{Set("security.encryption.data-encryption-method", "aes128-ctr"), SetTable("security.encryption.master-key", Field{Key: "type", Value: "file"}, Field{Key: "path", Value: "/k"})}},
		{"inline table",
			"[security.encryption]\nmaster-key = { type = \"file\", path = \"/old\" }\n",
			"[security.encryption]\nmaster-key = { type = \"kms\", key-id = \"k\" }\n",
			[]Edit{SetTable("security.encryption.master-key", Field{Key: "type", Value: "kms"}, Field{Key: "key-id", Value: "k"})}},
		{"empty inline table",
			"[security.encryption]\nmaster-key = {}\n",
			"[security.encryption]\nmaster-key = { type = \"file\", path = \"/k\" }\n",
			[]Edit{SetTable("security.encryption.master-key", Field{Key: "type", Value: "file"}, Field{Key: "path", Value: "/k"})}},
		{"remove inline member",
			"a = { b = 1, c = 2, d = 3 }\n",
			"a = { b = 1, d = 3 }\n",
			[]Edit{Remove("a.c")}},
		{"sub-table before parent",
			"[security.encryption.master-key]\ntype = \"file\"\npath = \"/k\"\n",
			"[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n\n[security.encryption.master-key]\ntype = \"file\"\npath = \"/k\"\n",
			[]Edit{Set("security.encryption.data-encryption-method", "aes256-ctr")}},
		{"new table after parent family",
			"[security]\nca-path = \"\"\n\n[security.x]\ny = 1\n\n## import docs\n[import]\nnum-threads = 8\n",
			"[security]\nca-path = \"\"\n\n[security.x]\ny = 1\n\n[security.encryption]\ndata-encryption-method = \"sm4-ctr\"\n\n## import docs\n[import]\nnum-threads = 8\n",
			[]Edit{Set("security.encryption.data-encryption-method", "sm4-ctr")}},
		{"aws sub-table removed on switch to file",
			"[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"k\"\n\n[security.encryption.master-key.aws]\naccess-key = \"a\"\n",
			"[security.encryption.master-key]\ntype = \"file\"\npath = \"/k\"\n\n",
			[]Edit{SetTable("security.encryption.master-key", Field{Key: "type", Value: "file"}, Field{Key: "path", Value: "/k"})}},
		{"quoting and CRLF kept",
			"[security.encryption]\r\ndata-encryption-method = 'plaintext'\r\n",
			"[security.encryption]\r\ndata-encryption-method = \"a\\\"b\"\r\ndata-key-rotation-period = \"7d\"\r\n",
			[]Edit{Set("security.encryption.data-encryption-method", "a\"b"), Set("security.encryption.data-key-rotation-period", "7d")}},
		{"bool and int",
			"[security.encryption]\nenable-file-dictionary-log = true\n",
			"[security.encryption]\nenable-file-dictionary-log = false\nfile-dictionary-rewrite-threshold = 1000000\n",
			[]Edit{Set("security.encryption.enable-file-dictionary-log", false), Set("security.encryption.file-dictionary-rewrite-threshold", uint64(1000000))}},
		{"no trailing newline",
			"[a]\nb = 1",
			"[a]\nb = 1\nc = \"x\"\n",
			[]Edit{Set("a.c", "x")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustApply(t, []byte(tc.in), tc.edits...)
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestApplyEditsErrors(t *testing.T) {
	cases := []struct {
		in   string
		edit Edit
		want string
	}{
		{"[a]\nb = 1\n", Set("a", "x"), "is a table"},
		{"[a]\nb = 1\n", Set("a.b.c", "x"), "is a value"},
		{"[a]\nb = 1\n", Set("a.b", []int{1}), "not supported"},
		{"[a]\nb = 1\n", Set("a..b", 1), "empty part"},
		{"[a\n", Set("a.b", 1), "parsing document"},
	}
	for _, tc := range cases {
		_, err := ApplyEdits([]byte(tc.in), tc.edit)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v on %q: err = %v, want %q", tc.edit, tc.in, err, tc.want)
		}
	}
}

func TestEditStringRedactsSecrets(t *testing.T) {
	e := SetTable("security.encryption.master-key.aws", Field{Key: "access-key", Value: "AKIA1"}, Field{Key: "secret-access-key", Value: "SECRET1"})
	if s := e.String(); strings.Contains(s, "SECRET1") || strings.Contains(s, "AKIA1") {
		t.Errorf("String() leaks: %s", s)
	}
	_, err := ApplyEdits([]byte("[a]\nb = 1\n"), Set("a.b.client-secret", "SECRET2"))
	if err == nil || strings.Contains(err.Error(), "SECRET2") {
		t.Errorf("error leaks or is nil: %v", err)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	b := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\nsixteen"
	got := UnifiedDiff("a", "b", []byte(a), []byte(b))
	want := `--- a
+++ b
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
@@ -13,3 +13,4 @@
 13
 14
 15
+sixteen
\ No newline at end of file
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if UnifiedDiff("a", "b", []byte(a), []byte(a)) != "" {
		t.Error("equal inputs gave a diff")
	}
	if got := UnifiedDiff("a", "b", nil, []byte("x\n")); got != "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n" {
		t.Errorf("insert into empty: %q", got)
	}
}
