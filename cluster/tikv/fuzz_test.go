package tikv

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/pingcap/kvproto/pkg/encryptionpb"
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

func FuzzReadKeyDictMeta(f *testing.F) {
	ec := &encryptionpb.EncryptedContent{Metadata: map[string][]byte{
		MetadataMethod: []byte(MetadataMethodAES256GCM), MetadataKMSVendor: []byte("AWS"), MetadataKMSCiphertextKey: []byte("k"),
	}, Content: []byte("x")}
	f.Add(frame(1, marshal(f, ec)))
	kd := &encryptionpb.KeyDictionary{Keys: map[uint64]*encryptionpb.DataKey{1: {Key: []byte("0123456789abcdef")}}, CurrentKeyId: 1}
	f.Add(frame(1, marshal(f, &encryptionpb.EncryptedContent{Metadata: map[string][]byte{MetadataMethod: []byte("plaintext")}, Content: marshal(f, kd)})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadKeyDictMeta(data)
		if err == nil && m.Method != MetadataMethodAES256GCM && m.Method != MetadataMethodPlaintext {
			t.Fatalf("accepted method %q", m.Method)
		}
	})
}

func FuzzReadFileDict(f *testing.F) {
	fd := &encryptionpb.FileDictionary{Files: map[string]*encryptionpb.FileInfo{"/a.sst": fileInfo(1, encryptionpb.EncryptionMethod_AES256_CTR)}}
	v2 := frame(2, marshal(f, fd))
	v2 = append(v2, record(f, FileDictRecordInsert, "/b.sst", fileInfo(2, encryptionpb.EncryptionMethod_SM4_CTR))...)
	v2 = append(v2, record(f, FileDictRecordRemove, "/a.sst", nil)...)
	f.Add(v2)
	f.Add(v2[:len(v2)-3])
	f.Add(frame(1, marshal(f, &encryptionpb.EncryptedContent{Metadata: map[string][]byte{MetadataMethod: []byte("plaintext")}, Content: marshal(f, fd)})))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadFileDict(data)
		if err != nil {
			return
		}
		total := 0
		for _, n := range d.MethodCounts() {
			total += n
		}
		if total != len(d.Files) || len(d.Paths()) != len(d.Files) {
			t.Fatalf("counts %d, paths %d, files %d", total, len(d.Paths()), len(d.Files))
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
			edits = append(edits, SetTable("security.encryption.master-key", Field{"type", "file"}, Field{"path", path}))
		case 2:
			edits = append(edits, Remove("security.encryption.master-key"), SetTable("security.encryption.previous-master-key", Field{"type", "kms"}, Field{"key-id", path}))
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

func FuzzParseTrailerListing(f *testing.F) {
	f.Add("4096\t/data/db/000012.sst\tf7 cf f4 85 b7 41 e2 88\n")
	f.Add("1024\t/data/raft-engine/0000000000000001.raftlog\t524146542d4c4f472d46494c452d4845\n0\t/data/db/000013.sst\t\n")
	f.Add("\n\n12\t/a b/c.sst\t00\n")
	f.Add("-1\t/x.sst\t00\n")
	f.Add("12\t\t00\n")
	f.Add("12\t/x.sst\tzz\n")
	f.Fuzz(func(t *testing.T, listing string) {
		entries, err := ParseTrailerListing(strings.NewReader(listing))
		if err != nil {
			if !strings.Contains(err.Error(), "trailer listing") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		var again strings.Builder
		for _, e := range entries {
			if e.Path == "" || e.Size < 0 || len(e.Probe) > 16 || strings.ContainsAny(e.Path, "\t\n") {
				t.Fatalf("accepted entry %+v", e)
			}
			fmt.Fprintf(&again, "%d\t%s\t%x\n", e.Size, e.Path, e.Probe)
		}
		// What was accepted renders back to a listing that reads the same.
		back, err := ParseTrailerListing(strings.NewReader(again.String()))
		if err != nil || len(back) != len(entries) {
			t.Fatalf("re-read %d entries (%v), want %d", len(back), err, len(entries))
		}
		for i := range back {
			if back[i].Path != entries[i].Path || back[i].Size != entries[i].Size || !bytes.Equal(back[i].Probe, entries[i].Probe) {
				t.Fatalf("entry %d: %+v became %+v", i, entries[i], back[i])
			}
		}
		_ = ProveListing(entries, ProveOptions{})
	})
}
