package tikvdisk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
	"unicode/utf8"

	"github.com/pingcap/kvproto/pkg/encryptionpb"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Error texts of TiKV's dictionary readers, quoted so operators can match
// them with TiKV's own logs (components/encryption/src/encrypted_file/header.rs
// Header::parse; components/encryption/src/file_dict_file.rs).
const (
	ErrDictHeaderSizeFmt     = "file corrupted! header size mismatch %d != %d"
	ErrDictUnknownVersionFmt = "unknown version %x"
	ErrDictContentSizeFmt    = "file corrupted! content size isn't expected: %d, expected: %d"
	ErrDictContentSmallFmt   = "file corrupted! content size is too small: %d, expected: %d"
	ErrDictCRCFmt            = "file corrupted! crc32 mismatch %d != %d"
	ErrRecordTypeFmt         = "file corrupted! record type is unknown: %d"
	ErrRecordRemoveNullFmt   = "Try to recovery from log file but remove a null entry, file name: %s"
	// The three warnings TiKV logs when it discards a torn tail record.
	WarnTailHeaderTooSmall  = "file corrupted! record header size is too small, discarded the tail record"
	WarnTailContentTooSmall = "file corrupted! record content size is too small, discarded the tail record"
	WarnTailCRCMismatch     = "file corrupted! crc32 mismatch, discarded the tail record"
)

// fileDictRecordHeaderSize is crc32 u32 | name_len u16 | info_len u16 | type u8
// (file_dict_file.rs RECORD_HEADER_SIZE; reference §5.1).
const fileDictRecordHeaderSize = 4 + 2 + 2 + 1

// DictHeader is the 16-byte header of key.dict and file.dict.
type DictHeader struct {
	Version uint8
	CRC32   uint32
	Size    uint64
}

// parseDictHeader splits an encrypted_file into header, content and the rest
// (log records, V2 only), checking size and crc32 as Header::parse does.
func parseDictHeader(data []byte) (DictHeader, []byte, []byte, error) {
	if len(data) < tikv.DictHeaderSize {
		return DictHeader{}, nil, nil, fmt.Errorf(ErrDictHeaderSizeFmt, tikv.DictHeaderSize, len(data))
	}
	h := DictHeader{Version: data[0], CRC32: binary.BigEndian.Uint32(data[4:8]), Size: binary.BigEndian.Uint64(data[8:16])}
	if h.Version != tikv.DictVersionV1 && h.Version != tikv.DictVersionV2 {
		return h, nil, nil, fmt.Errorf(ErrDictUnknownVersionFmt, h.Version)
	}
	remained := uint64(len(data) - tikv.DictHeaderSize)
	if h.Version == tikv.DictVersionV1 && remained != h.Size {
		return h, nil, nil, fmt.Errorf(ErrDictContentSizeFmt, remained, h.Size)
	}
	if h.Version == tikv.DictVersionV2 && remained < h.Size {
		return h, nil, nil, fmt.Errorf(ErrDictContentSmallFmt, remained, h.Size)
	}
	content := data[tikv.DictHeaderSize : tikv.DictHeaderSize+int(h.Size)]
	if sum := crc32.ChecksumIEEE(content); sum != h.CRC32 {
		return h, nil, nil, fmt.Errorf(ErrDictCRCFmt, h.CRC32, sum)
	}
	return h, content, data[tikv.DictHeaderSize+int(h.Size):], nil
}

// KeyDictMeta is what key.dict says about itself without the master key: its
// header and the EncryptedContent metadata (master_key/metadata.rs).
type KeyDictMeta struct {
	Header DictHeader
	// Method is metadata "method": "aes256-gcm" (encrypted by the master key)
	// or "plaintext" (the data keys are exposed on disk).
	Method string
	// KeysExposed is true when Method is plaintext.
	KeysExposed bool
	// KMSVendor is metadata "kms_vendor" ("AWS", "azure", "gcp", "gcp_v2"), "" for a file key.
	KMSVendor string
	// HasKMSCiphertextKey reports metadata "kms_ciphertext_key" (the wrapped KMS data key).
	HasKMSCiphertextKey bool
	// HasIV and HasTag report the AES-GCM "iv" and "aes_gcm_tag" metadata.
	HasIV, HasTag bool
	// ContentSize is the size of the (encrypted) KeyDictionary.
	ContentSize int
	// When KeysExposed, DataKeys and CurrentKeyID are read from the plaintext
	// KeyDictionary (counts and ids only; key bytes are never kept).
	DataKeys     int
	CurrentKeyID uint64
}

// ReadKeyDictMeta reads key.dict's header and metadata. It never needs, and
// never returns, key material.
func ReadKeyDictMeta(data []byte) (KeyDictMeta, error) {
	h, content, _, err := parseDictHeader(data)
	if err != nil {
		return KeyDictMeta{}, fmt.Errorf("reading %s: %w", tikv.KeyDictName, err)
	}
	if h.Version != tikv.DictVersionV1 {
		return KeyDictMeta{}, fmt.Errorf("reading %s: header version %d, but key.dict is always written as version 1", tikv.KeyDictName, h.Version)
	}
	var ec encryptionpb.EncryptedContent
	if err := ec.Unmarshal(content); err != nil {
		return KeyDictMeta{}, fmt.Errorf("reading %s: decoding EncryptedContent: %w", tikv.KeyDictName, err)
	}
	md := ec.GetMetadata()
	m := KeyDictMeta{Header: h, Method: string(md[tikv.MetadataMethod]), KMSVendor: string(md[tikv.MetadataKMSVendor]), ContentSize: len(ec.GetContent())}
	_, m.HasKMSCiphertextKey = md[tikv.MetadataKMSCiphertextKey]
	_, m.HasIV = md[tikv.MetadataIV]
	_, m.HasTag = md[tikv.MetadataAESGCMTag]
	switch m.Method {
	case tikv.MetadataMethodAES256GCM:
	case tikv.MetadataMethodPlaintext:
		m.KeysExposed = true
		var kd encryptionpb.KeyDictionary
		if err := kd.Unmarshal(ec.GetContent()); err != nil {
			return KeyDictMeta{}, fmt.Errorf("reading %s: metadata says plaintext but the content is not a KeyDictionary: %w", tikv.KeyDictName, err)
		}
		m.DataKeys, m.CurrentKeyID = len(kd.GetKeys()), kd.GetCurrentKeyId()
		for _, k := range kd.GetKeys() {
			clear(k.Key) // do not keep key bytes around
		}
	case "":
		return KeyDictMeta{}, fmt.Errorf("reading %s: metadata has no %q entry", tikv.KeyDictName, tikv.MetadataMethod)
	default:
		return KeyDictMeta{}, fmt.Errorf("reading %s: unknown metadata method %q (want %s or %s)", tikv.KeyDictName, m.Method, tikv.MetadataMethodAES256GCM, tikv.MetadataMethodPlaintext)
	}
	return m, nil
}

// FileEntry is one file.dict entry.
type FileEntry struct {
	KeyID  uint64
	Method string // tikv.toml spelling ("aes256-ctr", "plaintext"), or "unknown"
	IVLen  int
}

// FileDict is file.dict after replaying its log records.
type FileDict struct {
	Header DictHeader
	// Files maps the path as TiKV opened it (absolute) to its entry.
	Files map[string]FileEntry
	// Records is the number of log records applied (V2), Removes of them removals.
	Records, Removes int
	// TornTail is TiKV's warning text when a torn tail record was discarded
	// (TiKV starts anyway), and TornTailBytes the bytes discarded.
	TornTail      string
	TornTailBytes int
}

// MethodCounts counts entries per method.
func (d FileDict) MethodCounts() map[string]int {
	out := map[string]int{}
	for _, e := range d.Files {
		out[e.Method]++
	}
	return out
}

// Paths returns the tracked paths, sorted.
func (d FileDict) Paths() []string {
	out := make([]string, 0, len(d.Files))
	for p := range d.Files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// MethodFromPB maps kvproto's EncryptionMethod to the tikv.toml spelling.
func MethodFromPB(m encryptionpb.EncryptionMethod) string {
	switch m {
	case encryptionpb.EncryptionMethod_PLAINTEXT:
		return tikv.MethodPlaintext
	case encryptionpb.EncryptionMethod_AES128_CTR:
		return tikv.MethodAES128CTR
	case encryptionpb.EncryptionMethod_AES192_CTR:
		return tikv.MethodAES192CTR
	case encryptionpb.EncryptionMethod_AES256_CTR:
		return tikv.MethodAES256CTR
	case encryptionpb.EncryptionMethod_SM4_CTR:
		return tikv.MethodSM4CTR
	}
	return tikv.MethodUnknown
}

func entryFromPB(fi *encryptionpb.FileInfo) FileEntry {
	return FileEntry{KeyID: fi.GetKeyId(), Method: MethodFromPB(fi.GetMethod()), IVLen: len(fi.GetIv())}
}

// ReadFileDict reads file.dict: V1 (EncryptedContent with plaintext
// metadata around a FileDictionary) or V2 (FileDictionary followed by
// insert/remove records). A torn tail record is tolerated like TiKV does.
func ReadFileDict(data []byte) (FileDict, error) {
	h, content, rest, err := parseDictHeader(data)
	if err != nil {
		return FileDict{}, fmt.Errorf("reading %s: %w", tikv.FileDictName, err)
	}
	d := FileDict{Header: h, Files: map[string]FileEntry{}}
	var fd encryptionpb.FileDictionary
	if h.Version == tikv.DictVersionV1 {
		var ec encryptionpb.EncryptedContent
		if err := ec.Unmarshal(content); err != nil {
			return FileDict{}, fmt.Errorf("reading %s: decoding EncryptedContent: %w", tikv.FileDictName, err)
		}
		if m := string(ec.GetMetadata()[tikv.MetadataMethod]); m != tikv.MetadataMethodPlaintext {
			return FileDict{}, fmt.Errorf("reading %s: metadata method %q, but file.dict is always plaintext", tikv.FileDictName, m)
		}
		content = ec.GetContent()
	}
	if err := fd.Unmarshal(content); err != nil {
		return FileDict{}, fmt.Errorf("reading %s: decoding FileDictionary: %w", tikv.FileDictName, err)
	}
	for name, fi := range fd.GetFiles() {
		d.Files[name] = entryFromPB(fi)
	}
	for len(rest) > 0 {
		n, err := d.applyRecord(rest)
		if err != nil {
			return FileDict{}, fmt.Errorf("reading %s: record %d at byte %d: %w", tikv.FileDictName, d.Records+1, len(data)-len(rest), err)
		}
		if n == 0 {
			d.TornTailBytes = len(rest)
			break
		}
		rest = rest[n:]
	}
	return d, nil
}

// applyRecord parses and applies one log record; it returns the bytes used,
// or 0 with TornTail set when the tail record is torn.
func (d *FileDict) applyRecord(buf []byte) (int, error) {
	if len(buf) < fileDictRecordHeaderSize {
		d.TornTail = WarnTailHeaderTooSmall
		return 0, nil
	}
	sum := binary.BigEndian.Uint32(buf[0:4])
	nameLen := int(binary.BigEndian.Uint16(buf[4:6]))
	infoLen := int(binary.BigEndian.Uint16(buf[6:8]))
	typ := buf[8]
	body := buf[fileDictRecordHeaderSize:]
	if len(body) < nameLen+infoLen {
		d.TornTail = WarnTailContentTooSmall
		return 0, nil
	}
	if crc32.ChecksumIEEE(body[:nameLen+infoLen]) != sum {
		d.TornTail = WarnTailCRCMismatch
		return 0, nil
	}
	nameBytes := body[:nameLen]
	if !utf8.Valid(nameBytes) {
		return 0, fmt.Errorf("parse file name failed: not UTF-8")
	}
	name := string(nameBytes)
	switch typ {
	case tikv.FileDictRecordInsert:
		var fi encryptionpb.FileInfo
		if err := fi.Unmarshal(body[nameLen : nameLen+infoLen]); err != nil {
			return 0, fmt.Errorf("decoding FileInfo of %s: %w", name, err)
		}
		d.Files[name] = entryFromPB(&fi)
	case tikv.FileDictRecordRemove:
		if _, ok := d.Files[name]; !ok {
			return 0, fmt.Errorf(ErrRecordRemoveNullFmt, name)
		}
		delete(d.Files, name)
		d.Removes++
	default:
		return 0, fmt.Errorf(ErrRecordTypeFmt, typ)
	}
	d.Records++
	return fileDictRecordHeaderSize + nameLen + infoLen, nil
}
