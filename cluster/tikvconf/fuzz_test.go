package tikvconf

import (
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fileKeyConfig), "v8.5.2")
	f.Add([]byte("[security.encryption.master-key]\ntype = \"kms\"\nvendor = \"gcp\"\nkey-id = \"x\"\n[security.encryption.master-key.azure]\nclient_secret = 1\n"), "v6.1.0")
	f.Add([]byte("security = { encryption = { data-encryption-method = \"sm4-ctr\", data-key-rotation-period = \"1x\" } }\n"), "")
	f.Add([]byte("[security]\nencryption = 5\n"), "nightly")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		c, err := ParseConfig("f.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.toml") && !strings.HasPrefix(err.Error(), "parsing f.toml") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, p := range c.Validate(version) {
			if p.File != "f.toml" || p.Message == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}

func FuzzApplyEdits(f *testing.F) {
	f.Add([]byte(fileKeyConfig), "aes128-ctr", "/k", uint8(0))
	f.Add([]byte("[security]\nencryption.master-key = { type = \"file\" }\n"), "sm4-ctr", "/p", uint8(1))
	f.Add([]byte("# [security.encryption.master-key]\n# type = \"plaintext\"\n[a]\nb = 1\n"), "x\"y", "q", uint8(2))
	f.Add([]byte("a = { b = 1, c = [1, 2] }\n[[t]]\nx = 1\n"), "plaintext", "", uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, method, path string, which uint8) {
		var probe map[string]any
		if toml.Unmarshal(data, &probe) != nil {
			return
		}
		edits := []Edit{Set("security.encryption.data-encryption-method", method)}
		switch which % 4 {
		case 1:
			edits = append(edits, SetTable("security.encryption.master-key", Field{Key: "type", Value: "file"}, Field{Key: "path", Value: path}))
		case 2:
			edits = append(edits, Remove("security.encryption.master-key"), SetTable("security.encryption.previous-master-key", Field{Key: "type", Value: "kms"}, Field{Key: "key-id", Value: path}))
		case 3:
			edits = []Edit{Remove("security.encryption")}
		}
		out, err := ApplyEdits(data, edits...)
		if err != nil {
			return
		}
		c, err := ParseConfig("f.toml", out)
		if err != nil {
			t.Fatalf("edited document does not parse: %v\n%q", err, out)
		}
		switch which % 4 {
		case 0:
			if c.Encryption.Method != method {
				t.Fatalf("method = %q, want %q", c.Encryption.Method, method)
			}
		case 1:
			if c.Encryption.Method != method || c.Encryption.MasterKey.Type != "file" || c.Encryption.MasterKey.Path != path {
				t.Fatalf("encryption = %+v", c.Encryption)
			}
		case 2:
			if c.Encryption.MasterKey.Type != "" || c.Encryption.PreviousMasterKey.KeyID != path {
				t.Fatalf("encryption = %+v", c.Encryption)
			}
		case 3:
			if c.Encryption.Method != "" {
				t.Fatalf("encryption not removed: %+v", c.Encryption)
			}
		}
		again, err := ApplyEdits(out, edits...)
		if err != nil || string(again) != string(out) {
			t.Fatalf("second apply differs (err %v)", err)
		}
		if (UnifiedDiff("a", "b", data, out) == "") != (string(data) == string(out)) {
			t.Fatal("diff disagrees with byte equality")
		}
	})
}
