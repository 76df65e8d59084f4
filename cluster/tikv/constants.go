package tikv

// Encryption methods as tikv.toml spells them (components/encryption/src/config.rs;
// reference tikv-encryption.md §1.1). Parsed case-insensitively by TiKV.
const (
	MethodPlaintext = "plaintext"
	MethodAES128CTR = "aes128-ctr"
	MethodAES192CTR = "aes192-ctr"
	MethodAES256CTR = "aes256-ctr"
	MethodSM4CTR    = "sm4-ctr"
)

// Methods lists the user-selectable values of data-encryption-method.
func Methods() []string {
	return []string{MethodPlaintext, MethodAES128CTR, MethodAES192CTR, MethodAES256CTR, MethodSM4CTR}
}

// MethodDebugName is the Rust Debug form TiKV prints in log lines
// ("encryption is enabled. method = Aes256Ctr"; reference §3).
func MethodDebugName(method string) string {
	switch method {
	case MethodPlaintext:
		return "Plaintext"
	case MethodAES128CTR:
		return "Aes128Ctr"
	case MethodAES192CTR:
		return "Aes192Ctr"
	case MethodAES256CTR:
		return "Aes256Ctr"
	case MethodSM4CTR:
		return "Sm4Ctr"
	}
	return "Unknown"
}

// MethodFromDebugName is the inverse of MethodDebugName; "" when unknown.
func MethodFromDebugName(name string) string {
	for _, m := range Methods() {
		if MethodDebugName(m) == name {
			return m
		}
	}
	return ""
}

// MethodKeyLen is the data-key length in bytes per method (crypter.rs get_method_key_length).
func MethodKeyLen(method string) int {
	switch method {
	case MethodAES128CTR, MethodSM4CTR:
		return 16
	case MethodAES192CTR:
		return 24
	case MethodAES256CTR:
		return 32
	}
	return 0
}

// Master-key types ([security.encryption.master-key] type; MasterKeyConfig in config.rs).
const (
	MasterKeyPlaintext = "plaintext"
	MasterKeyFile      = "file"
	MasterKeyKMS       = "kms"
)

// KMS vendors accepted in master-key.vendor (components/encryption/export/src/lib.rs create_cloud_backend).
const (
	VendorAWS   = "aws"
	VendorAzure = "azure"
	VendorGCP   = "gcp"
)

// Vendor names TiKV stores in key.dict metadata kms_vendor (components/cloud/*/src/kms.rs fn name).
const (
	StoredVendorAWS   = "AWS"
	StoredVendorAzure = "azure"
	StoredVendorGCP   = "gcp"
	StoredVendorGCPv2 = "gcp_v2"
)

// Default values (components/encryption/src/config.rs).
const (
	DefaultDataKeyRotationPeriod          = "7d"
	DefaultFileDictionaryRewriteThreshold = 1000000
	// FileKeySize is the exact size of a file master key: 64 hex + LF (master_key/file.rs).
	FileKeySize = 65
)

// On-disk names and formats (reference §5.1, §6).
const (
	KeyDictName  = "key.dict"  // components/encryption/src/manager/mod.rs KEY_DICT_NAME
	FileDictName = "file.dict" // components/encryption/src/manager/mod.rs FILE_DICT_NAME
	// DictHeaderSize is the encrypted_file header: version u8, 3 reserved, crc32 u32 BE, size u64 BE (encrypted_file/header.rs).
	DictHeaderSize = 16
	// DictVersionV1 is content only; DictVersionV2 is content followed by log records (file_dict_file.rs).
	DictVersionV1 = 1
	DictVersionV2 = 2
	// FileDictRecordInsert and FileDictRecordRemove are the log record types in file.dict V2.
	FileDictRecordInsert = 1
	FileDictRecordRemove = 2
	// MetadataMethod etc. are the EncryptedContent metadata keys (master_key/metadata.rs).
	MetadataMethod           = "method"
	MetadataIV               = "iv"
	MetadataAESGCMTag        = "aes_gcm_tag"
	MetadataKMSVendor        = "kms_vendor"
	MetadataKMSCiphertextKey = "kms_ciphertext_key"
	// MetadataMethodAES256GCM and MetadataMethodPlaintext are the values of metadata "method".
	MetadataMethodAES256GCM = "aes256-gcm"
	MetadataMethodPlaintext = "plaintext"
	// SSTMagic is kBlockBasedTableMagicNumber, little-endian in the last 8 bytes of a plaintext SST
	// (tikv/rocksdb table/block_based/block_based_table_builder.cc:201).
	SSTMagic uint64 = 0x88e241b785f4cff7
	// SSTLegacyMagic is the legacy block-based magic (0xdb4775248b80fb57).
	SSTLegacyMagic uint64 = 0xdb4775248b80fb57
	// RaftLogHeader starts every plaintext Raft Engine file (tikv/raft-engine src/file_pipe_log/format.rs).
	RaftLogHeader = "RAFT-LOG-FILE-HEADER-9986AB3E47F320B394C8E84916EB0ED5"
	// CurrentFileName is RocksDB's CURRENT, always plaintext since v5.0 (tikv/rocksdb encryption/encryption.cc).
	CurrentFileName = "CURRENT"
)

// Metric names (components/encryption/src/metrics.rs; components/raftstore/src/coprocessor/metrics.rs).
const (
	MetricDataKeyStorageTotal = "tikv_encryption_data_key_storage_total"
	MetricFileNum             = "tikv_encryption_file_num"
	MetricIsInitialized       = "tikv_encryption_is_initialized"
	MetricWriteReadFileDur    = "tikv_encryption_write_read_file_duration_seconds"
	MetricMetaFileSizeBytes   = "tikv_encryption_meta_file_size_bytes"
	MetricRegionCount         = "tikv_raftstore_region_count"
	// LabelType with values "leader" and "region" on MetricRegionCount.
	LabelType = "type"
)

// TiUPHeader is the first line TiUP writes into every rendered tikv.toml (pingcap/tiup spec/server_config.go Merge2Toml).
const TiUPHeader = "# WARNING: This file is auto-generated. Do not edit! All your modification will be overwritten!"
