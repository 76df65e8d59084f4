package tikvdisk

import (
	"testing"

	"github.com/pingcap/kvproto/pkg/encryptionpb"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

func FuzzReadKeyDictMeta(f *testing.F) {
	ec := &encryptionpb.EncryptedContent{Metadata: map[string][]byte{
		tikv.MetadataMethod: []byte(tikv.MetadataMethodAES256GCM), tikv.MetadataKMSVendor: []byte("AWS"), tikv.MetadataKMSCiphertextKey: []byte("k"),
	}, Content: []byte("x")}
	f.Add(frame(1, marshal(f, ec)))
	kd := &encryptionpb.KeyDictionary{Keys: map[uint64]*encryptionpb.DataKey{1: {Key: []byte("0123456789abcdef")}}, CurrentKeyId: 1}
	f.Add(frame(1, marshal(f, &encryptionpb.EncryptedContent{Metadata: map[string][]byte{tikv.MetadataMethod: []byte("plaintext")}, Content: marshal(f, kd)})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadKeyDictMeta(data)
		if err == nil && m.Method != tikv.MetadataMethodAES256GCM && m.Method != tikv.MetadataMethodPlaintext {
			t.Fatalf("accepted method %q", m.Method)
		}
	})
}

func FuzzReadFileDict(f *testing.F) {
	fd := &encryptionpb.FileDictionary{Files: map[string]*encryptionpb.FileInfo{"/a.sst": fileInfo(1, encryptionpb.EncryptionMethod_AES256_CTR)}}
	v2 := frame(2, marshal(f, fd))
	v2 = append(v2, record(f, tikv.FileDictRecordInsert, "/b.sst", fileInfo(2, encryptionpb.EncryptionMethod_SM4_CTR))...)
	v2 = append(v2, record(f, tikv.FileDictRecordRemove, "/a.sst", nil)...)
	f.Add(v2)
	f.Add(v2[:len(v2)-3])
	f.Add(frame(1, marshal(f, &encryptionpb.EncryptedContent{Metadata: map[string][]byte{tikv.MetadataMethod: []byte("plaintext")}, Content: marshal(f, fd)})))
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
