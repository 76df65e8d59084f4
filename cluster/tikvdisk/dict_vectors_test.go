package tikvdisk

import (
	"encoding/hex"
	"hash/crc32"
	"testing"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// The vectors below are written with literal offsets and values taken from
// upstream, never from this package's constants, so that a wrong constant in
// the reader cannot hide behind the same constant in the fixture:
//   - header: components/encryption/src/encrypted_file/header.rs (version u8,
//     3 reserved bytes, crc32fast (CRC-32/IEEE) u32 BE, content size u64 BE:
//     SIZE = 1 + 3 + 4 + 8);
//   - log records: components/encryption/src/file_dict_file.rs
//     convert_record_to_bytes (crc32 u32 BE over name+info, name_len u16 BE,
//     info_len u16 BE, type u8: 1 insert, 2 remove; RECORD_HEADER_SIZE = 4+2+2+1);
//   - metadata keys: components/encryption/src/master_key/metadata.rs
//     ("method", "iv", "aes_gcm_tag", "kms_vendor", "kms_ciphertext_key";
//     values "plaintext", "aes256-gcm");
//   - protobufs: kvproto's encryptionpb, marshalled by its generated code.

// literalHeader frames content as upstream's Header::new(content, version).to_bytes().
func literalHeader(version byte, content []byte) []byte {
	crc := crc32.ChecksumIEEE(content)
	n := uint64(len(content))
	h := []byte{version, 0, 0, 0,
		byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc),
		byte(n >> 56), byte(n >> 48), byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(h, content...)
}

// literalRecord is upstream's convert_record_to_bytes.
func literalRecord(t *testing.T, name string, info *encryptionpb.FileInfo) []byte {
	t.Helper()
	content := []byte(name)
	typ := byte(2)
	var infoLen int
	if info != nil {
		b, err := info.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		content, typ, infoLen = append(content, b...), 1, len(b)
	}
	crc := crc32.ChecksumIEEE(content)
	h := []byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc),
		byte(len(name) >> 8), byte(len(name)), byte(infoLen >> 8), byte(infoLen), typ}
	return append(h, content...)
}

func TestDictHeaderVectors(t *testing.T) {
	// The empty header of upstream's test_empty_header, and "123456789", whose
	// CRC-32/IEEE is the standard check value 0xcbf43926.
	for _, c := range []struct {
		version byte
		content string
		hex     string
	}{
		{1, "", "01000000" + "00000000" + "0000000000000000"},
		{2, "123456789", "02000000" + "cbf43926" + "0000000000000009"},
	} {
		got := hex.EncodeToString(literalHeader(c.version, []byte(c.content))[:16])
		if got != c.hex {
			t.Fatalf("literal header %s, want %s", got, c.hex)
		}
		raw, _ := hex.DecodeString(c.hex)
		h, content, rest, err := parseDictHeader(append(raw, c.content...))
		if err != nil || h.Version != c.version || string(content) != c.content || len(rest) != 0 || h.CRC32 != crc32.ChecksumIEEE([]byte(c.content)) || h.Size != uint64(len(c.content)) {
			t.Errorf("parse %s: %+v %q %q %v", c.hex, h, content, rest, err)
		}
	}
	if _, _, _, err := parseDictHeader([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil || err.Error() != "unknown version 3" {
		t.Errorf("version 3: %v (upstream: box_err!(\"unknown version {:x}\"))", err)
	}
}

// TestFileDictUpstreamScenario replays upstream's test_file_dict_file_normal
// (file_dict_file.rs) as the bytes a V2 file.dict holds: an empty
// FileDictionary, then the log records of its inserts and removes; once
// without a rewrite and once with the rewrite TiKV makes when the removes pass
// the threshold (2 in that test). Both must give upstream's final dictionary.
func TestFileDictUpstreamScenario(t *testing.T) {
	info := func(id uint64, m encryptionpb.EncryptionMethod) *encryptionpb.FileInfo {
		return &encryptionpb.FileInfo{KeyId: id, Method: m} // create_file_info
	}
	info1 := info(1, encryptionpb.EncryptionMethod_AES256_CTR)
	info2 := info(2, encryptionpb.EncryptionMethod_UNKNOWN)
	info3 := info(3, encryptionpb.EncryptionMethod_AES128_CTR)
	info4 := info(4, encryptionpb.EncryptionMethod_AES128_CTR)
	info5 := info(3, encryptionpb.EncryptionMethod_AES128_CTR)
	empty, err := (&encryptionpb.FileDictionary{}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var log []byte
	for _, r := range []struct {
		name string
		info *encryptionpb.FileInfo
	}{{"info1", info1}, {"info2", info2}, {"info3", info3}, {"info2", nil}, {"info1", nil}, {"info2", info4}, {"info5", info5}, {"info3", nil}} {
		log = append(log, literalRecord(t, r.name, r.info)...)
	}
	plain := append(literalHeader(2, empty), log...)

	rewrittenBase, err := (&encryptionpb.FileDictionary{Files: map[string]*encryptionpb.FileInfo{"info2": info4, "info3": info3}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rewritten := append(literalHeader(2, rewrittenBase), literalRecord(t, "info5", info5)...)
	rewritten = append(rewritten, literalRecord(t, "info3", nil)...)

	want := map[string]FileEntry{"info2": {KeyID: 4, Method: tikv.MethodAES128CTR}, "info5": {KeyID: 3, Method: tikv.MethodAES128CTR}}
	for name, data := range map[string][]byte{"log only": plain, "after a rewrite": rewritten} {
		d, err := ReadFileDict(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(d.Files) != len(want) || d.TornTail != "" {
			t.Fatalf("%s: files %v, torn %q", name, d.Files, d.TornTail)
		}
		for k, w := range want {
			if got := d.Files[k]; got.KeyID != w.KeyID || got.Method != w.Method {
				t.Errorf("%s: %s = %+v, want %+v", name, k, got, w)
			}
		}
	}
	// A record cut short at the end is a torn tail TiKV discards with a warning.
	d, err := ReadFileDict(plain[:len(plain)-3])
	if err != nil || d.TornTail == "" || len(d.Files) != 3 {
		t.Errorf("torn tail: %+v, %v", d, err)
	}
}

// TestFileDictV1Vector reads a file.dict written with enable-file-dictionary-log
// = false: EncryptedFile::write with PlaintextBackend, i.e. header V1 and an
// EncryptedContent whose metadata "method" is "plaintext" around the
// FileDictionary (file_dict_file.rs rewrite, master_key/mod.rs PlaintextBackend).
func TestFileDictV1Vector(t *testing.T) {
	fd, err := (&encryptionpb.FileDictionary{Files: map[string]*encryptionpb.FileInfo{
		"/data/db/000012.sst": {KeyId: 9, Iv: make([]byte, 16), Method: encryptionpb.EncryptionMethod_AES256_CTR},
		"/data/db/CURRENT":    {Method: encryptionpb.EncryptionMethod_PLAINTEXT},
	}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ec, err := (&encryptionpb.EncryptedContent{Metadata: map[string][]byte{"method": []byte("plaintext")}, Content: fd}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ReadFileDict(literalHeader(1, ec))
	if err != nil {
		t.Fatal(err)
	}
	if d.Files["/data/db/000012.sst"].Method != tikv.MethodAES256CTR || d.Files["/data/db/000012.sst"].IVLen != 16 || d.Files["/data/db/CURRENT"].Method != tikv.MethodPlaintext || d.Header.Version != 1 {
		t.Errorf("V1 file.dict = %+v", d)
	}
}

// TestKeyDictVectors reads key.dict metadata framed with upstream's literal
// metadata keys, for a KMS key and for exposed (plaintext) data keys.
func TestKeyDictVectors(t *testing.T) {
	kms, err := (&encryptionpb.EncryptedContent{Metadata: map[string][]byte{
		"method": []byte("aes256-gcm"), "iv": make([]byte, 12), "aes_gcm_tag": make([]byte, 16),
		"kms_vendor": []byte("AWS"), "kms_ciphertext_key": []byte("wrapped data key"),
	}, Content: []byte("sealed KeyDictionary")}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadKeyDictMeta(literalHeader(1, kms))
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != "aes256-gcm" || m.KeysExposed || m.KMSVendor != "AWS" || !m.HasKMSCiphertextKey || !m.HasIV || !m.HasTag || m.ContentSize != len("sealed KeyDictionary") {
		t.Errorf("KMS key.dict = %+v", m)
	}
	kd, err := (&encryptionpb.KeyDictionary{Keys: map[uint64]*encryptionpb.DataKey{
		11: {Key: make([]byte, 16), Method: encryptionpb.EncryptionMethod_AES128_CTR, CreationTime: 1700000000, WasExposed: true},
	}, CurrentKeyId: 11}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	exposed, err := (&encryptionpb.EncryptedContent{Metadata: map[string][]byte{"method": []byte("plaintext")}, Content: kd}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err = ReadKeyDictMeta(literalHeader(1, exposed))
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != "plaintext" || !m.KeysExposed || m.DataKeys != 1 || m.CurrentKeyID != 11 {
		t.Errorf("exposed key.dict = %+v", m)
	}
	// A flipped content byte fails the CRC as upstream's Header::parse does.
	bad := literalHeader(1, exposed)
	bad[len(bad)-1] ^= 0xff
	if _, err := ReadKeyDictMeta(bad); err == nil {
		t.Error("corrupted key.dict accepted")
	}
}
