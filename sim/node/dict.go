package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// These are the sim's WRITERS of TiKV's encryption metadata (tikv-encryption.md §5.1);
// the tool's readers live in cluster/tikv and are written separately.

// header builds the 16-byte encrypted_file header: version u8, 3 reserved bytes,
// crc32 (IEEE, crc32fast) BE over content, content size u64 BE (encrypted_file/header.rs).
func header(version byte, content []byte) []byte {
	h := make([]byte, tikv.DictHeaderSize)
	h[0] = version
	binary.BigEndian.PutUint32(h[4:8], crc32.ChecksumIEEE(content))
	binary.BigEndian.PutUint64(h[8:16], uint64(len(content)))
	return h
}

// parseHeader splits a dictionary file into version, content and the bytes after it.
func parseHeader(b []byte) (version byte, content, rest []byte, err error) {
	if len(b) < tikv.DictHeaderSize {
		return 0, nil, nil, fmt.Errorf("file too short for the %d-byte header", tikv.DictHeaderSize)
	}
	size := binary.BigEndian.Uint64(b[8:16])
	if uint64(len(b)-tikv.DictHeaderSize) < size {
		return 0, nil, nil, fmt.Errorf("content size %d exceeds the file", size)
	}
	content = b[tikv.DictHeaderSize : tikv.DictHeaderSize+int(size)]
	if crc32.ChecksumIEEE(content) != binary.BigEndian.Uint32(b[4:8]) {
		return 0, nil, nil, fmt.Errorf("crc32 mismatch")
	}
	return b[0], content, b[tikv.DictHeaderSize+int(size):], nil
}

// atomicWrite writes data to dir/<stem>.<rand u64>.tmp and renames it over dir/name
// (encrypted_file/mod.rs: set_extension("<rand>.tmp"), rename, fsync of the directory).
func (n *Node) atomicWrite(path string, data []byte) error {
	_, err := n.atomicWriteTmp(path, data)
	return err
}

// atomicWriteTmp is atomicWrite that also returns the temporary file's path.
func (n *Node) atomicWriteTmp(path string, data []byte) (string, error) {
	if n.diskFull(path) {
		return "", fmt.Errorf("writing %s: %w", path, syscall.ENOSPC)
	}
	dir := filepath.Dir(path)
	stem := filepath.Base(path)
	stem = stem[:len(stem)-len(filepath.Ext(stem))]
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, stem+"."+strconv.FormatUint(binary.LittleEndian.Uint64(r[:]), 10)+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return tmp, nil
}

// encodeKeyDict renders key.dict: header V1 + EncryptedContent (the KeyDictionary
// sealed by the master key).
func encodeKeyDict(c *encryptionpb.EncryptedContent) ([]byte, error) {
	content, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return append(header(tikv.DictVersionV1, content), content...), nil
}

// decodeKeyDict parses key.dict back into its EncryptedContent.
func decodeKeyDict(b []byte) (*encryptionpb.EncryptedContent, error) {
	_, content, _, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	var c encryptionpb.EncryptedContent
	if err := c.Unmarshal(content); err != nil {
		return nil, err
	}
	return &c, nil
}

// encodeFileDict renders a full file.dict: V2 = header V2 + FileDictionary (records
// follow by appending); V1 = header V1 + EncryptedContent{method=plaintext}.
func encodeFileDict(files map[string]*encryptionpb.FileInfo, v2 bool) ([]byte, error) {
	fd := &encryptionpb.FileDictionary{Files: files}
	body, err := fd.Marshal()
	if err != nil {
		return nil, err
	}
	if v2 {
		return append(header(tikv.DictVersionV2, body), body...), nil
	}
	c, _ := plaintextBackend{}.encrypt(context.Background(), body)
	content, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return append(header(tikv.DictVersionV1, content), content...), nil
}

// encodeRecord renders one V2 log record: crc32 BE | name_len u16 BE | info_len u16 BE |
// type u8 | name | FileInfo, the crc over name+info (file_dict_file.rs).
func encodeRecord(typ byte, name string, info *encryptionpb.FileInfo) ([]byte, error) {
	var infoBytes []byte
	if info != nil {
		var err error
		if infoBytes, err = info.Marshal(); err != nil {
			return nil, err
		}
	}
	rec := make([]byte, 9, 9+len(name)+len(infoBytes))
	binary.BigEndian.PutUint16(rec[4:6], uint16(len(name)))
	binary.BigEndian.PutUint16(rec[6:8], uint16(len(infoBytes)))
	rec[8] = typ
	rec = append(rec, name...)
	rec = append(rec, infoBytes...)
	binary.BigEndian.PutUint32(rec[0:4], crc32.ChecksumIEEE(rec[9:]))
	return rec, nil
}

// decodeFileDict reads the sim's own file.dict (either version), replaying V2 records
// and dropping a torn tail as TiKV does.
func decodeFileDict(b []byte) (map[string]*encryptionpb.FileInfo, error) {
	version, content, rest, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	var fd encryptionpb.FileDictionary
	switch version {
	case tikv.DictVersionV1:
		var c encryptionpb.EncryptedContent
		if err := c.Unmarshal(content); err != nil {
			return nil, err
		}
		if err := fd.Unmarshal(c.Content); err != nil {
			return nil, err
		}
	case tikv.DictVersionV2:
		if err := fd.Unmarshal(content); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown version %d", version)
	}
	files := fd.Files
	if files == nil {
		files = map[string]*encryptionpb.FileInfo{}
	}
	for len(rest) >= 9 {
		nl := int(binary.BigEndian.Uint16(rest[4:6]))
		il := int(binary.BigEndian.Uint16(rest[6:8]))
		if len(rest) < 9+nl+il || crc32.ChecksumIEEE(rest[9:9+nl+il]) != binary.BigEndian.Uint32(rest[0:4]) {
			break // torn tail
		}
		name := string(rest[9 : 9+nl])
		switch rest[8] {
		case tikv.FileDictRecordInsert:
			var fi encryptionpb.FileInfo
			if err := fi.Unmarshal(rest[9+nl : 9+nl+il]); err != nil {
				return nil, err
			}
			files[name] = &fi
		case tikv.FileDictRecordRemove:
			delete(files, name)
		}
		rest = rest[9+nl+il:]
	}
	return files, nil
}
