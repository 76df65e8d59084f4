package tikvdisk

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/pingcap/kvproto/pkg/encryptionpb"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// The fixtures below frame kvproto messages by hand from reference §5.1,
// independently of the sim's writers.

func frame(version byte, content []byte) []byte {
	h := make([]byte, tikv.DictHeaderSize, tikv.DictHeaderSize+len(content))
	h[0] = version
	binary.BigEndian.PutUint32(h[4:8], crc32.ChecksumIEEE(content))
	binary.BigEndian.PutUint64(h[8:16], uint64(len(content)))
	return append(h, content...)
}

func marshal(t testing.TB, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func record(t testing.TB, typ byte, name string, fi *encryptionpb.FileInfo) []byte {
	var info []byte
	if fi != nil {
		info = marshal(t, fi)
	}
	body := append([]byte(name), info...)
	r := make([]byte, fileDictRecordHeaderSize)
	binary.BigEndian.PutUint32(r[0:4], crc32.ChecksumIEEE(body))
	binary.BigEndian.PutUint16(r[4:6], uint16(len(name)))
	binary.BigEndian.PutUint16(r[6:8], uint16(len(info)))
	r[8] = typ
	return append(r, body...)
}

func fileInfo(key uint64, m encryptionpb.EncryptionMethod) *encryptionpb.FileInfo {
	return &encryptionpb.FileInfo{KeyId: key, Iv: make([]byte, 16), Method: m}
}

func TestReadKeyDictMetaKMS(t *testing.T) {
	ec := &encryptionpb.EncryptedContent{
		Metadata: map[string][]byte{
			tikv.MetadataMethod: []byte(tikv.MetadataMethodAES256GCM), tikv.MetadataIV: make([]byte, 12), tikv.MetadataAESGCMTag: make([]byte, 16),
			tikv.MetadataKMSVendor: []byte(tikv.StoredVendorAWS), tikv.MetadataKMSCiphertextKey: []byte("wrapped"),
		},
		Content: []byte("ciphertext of a KeyDictionary"),
	}
	m, err := ReadKeyDictMeta(frame(tikv.DictVersionV1, marshal(t, ec)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != tikv.MetadataMethodAES256GCM || m.KeysExposed || m.KMSVendor != "AWS" || !m.HasKMSCiphertextKey || !m.HasIV || !m.HasTag || m.ContentSize != len(ec.Content) || m.Header.Version != 1 {
		t.Errorf("meta = %+v", m)
	}
}

func TestReadKeyDictMetaPlaintextExposed(t *testing.T) {
	kd := &encryptionpb.KeyDictionary{
		Keys: map[uint64]*encryptionpb.DataKey{
			7: {Key: make([]byte, 32), Method: encryptionpb.EncryptionMethod_AES256_CTR, WasExposed: true},
			9: {Key: make([]byte, 32), Method: encryptionpb.EncryptionMethod_AES256_CTR, WasExposed: true},
		},
		CurrentKeyId: 9,
	}
	ec := &encryptionpb.EncryptedContent{Metadata: map[string][]byte{tikv.MetadataMethod: []byte(tikv.MetadataMethodPlaintext)}, Content: marshal(t, kd)}
	m, err := ReadKeyDictMeta(frame(tikv.DictVersionV1, marshal(t, ec)))
	if err != nil {
		t.Fatal(err)
	}
	if !m.KeysExposed || m.DataKeys != 2 || m.CurrentKeyID != 9 || m.KMSVendor != "" || m.HasKMSCiphertextKey {
		t.Errorf("meta = %+v", m)
	}
}

func TestReadKeyDictMetaErrors(t *testing.T) {
	good := frame(tikv.DictVersionV1, marshal(t, &encryptionpb.EncryptedContent{Metadata: map[string][]byte{tikv.MetadataMethod: []byte(tikv.MetadataMethodAES256GCM)}}))
	badCRC := append([]byte(nil), good...)
	badCRC[5] ^= 0xff
	unknownMethod := frame(tikv.DictVersionV1, marshal(t, &encryptionpb.EncryptedContent{Metadata: map[string][]byte{tikv.MetadataMethod: []byte("aes128-gcm")}}))
	cases := map[string]struct {
		data []byte
		want string
	}{
		"short":          {good[:10], "header size mismatch 16 != 10"},
		"version":        {append([]byte{3}, good[1:]...), "unknown version 3"},
		"v1 extra bytes": {append(append([]byte(nil), good...), 0), "content size isn't expected"},
		"crc":            {badCRC, "crc32 mismatch"},
		"v2 key.dict":    {append([]byte{2}, good[1:]...), "always written as version 1"},
		"no method":      {frame(1, nil), `no "method" entry`},
		"unknown method": {unknownMethod, `unknown metadata method "aes128-gcm"`},
		"not protobuf":   {frame(1, []byte{0xff, 0xff, 0xff}), "decoding EncryptedContent"},
	}
	for name, tc := range cases {
		_, err := ReadKeyDictMeta(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "reading key.dict: ") {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestReadFileDictV2WithRecords(t *testing.T) {
	fd := &encryptionpb.FileDictionary{Files: map[string]*encryptionpb.FileInfo{
		"/data/db/000001.sst": fileInfo(0, encryptionpb.EncryptionMethod_PLAINTEXT),
		"/data/db/000002.sst": fileInfo(7, encryptionpb.EncryptionMethod_AES256_CTR),
	}}
	data := frame(tikv.DictVersionV2, marshal(t, fd))
	data = append(data, record(t, tikv.FileDictRecordInsert, "/data/db/000003.sst", fileInfo(7, encryptionpb.EncryptionMethod_AES256_CTR))...)
	data = append(data, record(t, tikv.FileDictRecordInsert, "/data/raft-engine/0000000000000001.raftlog", fileInfo(9, encryptionpb.EncryptionMethod_SM4_CTR))...)
	data = append(data, record(t, tikv.FileDictRecordRemove, "/data/db/000001.sst", nil)...)
	d, err := ReadFileDict(data)
	if err != nil {
		t.Fatal(err)
	}
	if d.Records != 3 || d.Removes != 1 || d.TornTail != "" || len(d.Files) != 3 {
		t.Fatalf("dict = %+v", d)
	}
	if e := d.Files["/data/db/000003.sst"]; e != (FileEntry{KeyID: 7, Method: tikv.MethodAES256CTR, IVLen: 16}) {
		t.Errorf("entry = %+v", e)
	}
	if c := d.MethodCounts(); c[tikv.MethodAES256CTR] != 2 || c[tikv.MethodSM4CTR] != 1 || c[tikv.MethodPlaintext] != 0 {
		t.Errorf("counts = %v", c)
	}
	if p := d.Paths(); p[0] != "/data/db/000002.sst" || len(p) != 3 {
		t.Errorf("paths = %v", p)
	}

	// Torn tails are tolerated, each with TiKV's warning.
	last := record(t, tikv.FileDictRecordInsert, "/data/db/000004.sst", fileInfo(9, encryptionpb.EncryptionMethod_AES256_CTR))
	badCRC := append([]byte(nil), last...)
	badCRC[len(badCRC)-1] ^= 1
	for want, tail := range map[string][]byte{
		WarnTailHeaderTooSmall:  last[:5],
		WarnTailContentTooSmall: last[:len(last)-1],
		WarnTailCRCMismatch:     badCRC,
	} {
		d, err := ReadFileDict(append(append([]byte(nil), data...), tail...))
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if d.TornTail != want || d.TornTailBytes != len(tail) || len(d.Files) != 3 {
			t.Errorf("torn tail %q: got %q, %d bytes, %d files", want, d.TornTail, d.TornTailBytes, len(d.Files))
		}
	}
}

func TestReadFileDictV1(t *testing.T) {
	fd := &encryptionpb.FileDictionary{Files: map[string]*encryptionpb.FileInfo{"/d/db/1.sst": fileInfo(3, encryptionpb.EncryptionMethod_AES128_CTR)}}
	ec := &encryptionpb.EncryptedContent{Metadata: map[string][]byte{tikv.MetadataMethod: []byte(tikv.MetadataMethodPlaintext)}, Content: marshal(t, fd)}
	d, err := ReadFileDict(frame(tikv.DictVersionV1, marshal(t, ec)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Header.Version != 1 || d.Files["/d/db/1.sst"].Method != tikv.MethodAES128CTR {
		t.Errorf("dict = %+v", d)
	}
	ec.Metadata[tikv.MetadataMethod] = []byte(tikv.MetadataMethodAES256GCM)
	if _, err := ReadFileDict(frame(tikv.DictVersionV1, marshal(t, ec))); err == nil || !strings.Contains(err.Error(), "always plaintext") {
		t.Errorf("encrypted V1 file.dict: err = %v", err)
	}
}

func TestReadFileDictRecordErrors(t *testing.T) {
	base := frame(tikv.DictVersionV2, marshal(t, &encryptionpb.FileDictionary{}))
	cases := map[string][]byte{
		"remove a null entry": record(t, tikv.FileDictRecordRemove, "/x", nil),
		"record type is unknown: 5": func() []byte {
			r := record(t, tikv.FileDictRecordInsert, "/x", fileInfo(1, encryptionpb.EncryptionMethod_AES256_CTR))
			r[8] = 5
			return r
		}(),
		"parse file name failed": record(t, tikv.FileDictRecordInsert, "\xff\xfe", fileInfo(1, encryptionpb.EncryptionMethod_AES256_CTR)),
	}
	for want, rec := range cases {
		_, err := ReadFileDict(append(append([]byte(nil), base...), rec...))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "record 1 at byte 16") {
			t.Errorf("%s: err = %v", want, err)
		}
	}
}
