package tikv

// Error texts and codes TiKV produces when encryption fails to initialise
// (reference tikv-encryption.md §1.3, §2.6; components/encryption/src/master_key/file.rs,
// components/encryption/src/errors.rs, components/error_code/src/encryption.rs).
const (
	// ErrKeyFileSizeFmt is file.rs's size check: format with the actual size.
	ErrKeyFileSizeFmt = "mismatch master key file size, expected 65, actual %d."
	// ErrKeyFileNoNewline is file.rs's trailing-LF check.
	ErrKeyFileNoNewline = "master key file should end with newline."
	// ErrKeyFileDecodePrefix prefixes file.rs's hex decode failure.
	ErrKeyFileDecodePrefix = "failed to decode master key from file: "
	// ErrInsecureMasterKey is returned when a cipher method is configured with a plaintext master key.
	ErrInsecureMasterKey = "encryption is to enable but master key is either absent or insecure."
	// ErrFallbackEmptyDicts is returned when the previous-key fallback found no dictionaries.
	ErrFallbackEmptyDicts = "Fallback to previous master key but find dictionaries to be empty."
	// ErrKeyIDEmpty is KmsConfig::to_cloud_config's check (components/encryption/src/config.rs).
	ErrKeyIDEmpty = "key id should not be empty"
	// ErrAzureInvalid is returned for vendor "azure" without a usable [azure] table.
	ErrAzureInvalid = "invalid configurations for Azure KMS"
	// ErrGCPInvalid is returned for vendor "gcp" without a [gcp] table.
	ErrGCPInvalid = "invalid configurations for GCP KMS"
	// ErrProviderNotFoundPrefix prefixes the unknown-vendor error: "provider not found <vendor>".
	ErrProviderNotFoundPrefix = "provider not found "
	// ErrInvalidMethod is serde's message for an unknown data-encryption-method.
	ErrInvalidMethod = "expected valid encryption method"
	// ErrSM4Dynamic is returned for sm4-ctr on a build without the sm4 feature (components/encryption/src/io.rs).
	ErrSM4Dynamic = "sm4-ctr is not supported by dynamically linked openssl"
	// ErrRaftEngineNonce is the Raft Engine open error on v5.4.0–v6.1.x (tikv/tikv#12162).
	ErrRaftEngineNonce = "Nonce + Counter must be 12/16 bytes, 0"
	// ErrKMSDecryptFailed is the KMS unwrap failure text (components/cloud/aws/src/kms.rs; tikv/tikv#17410).
	ErrKMSDecryptFailed = "decrypt encrypted key failed"
	// ErrDurationParse is ReadableDuration's parse error (components/tikv_util/src/config.rs).
	ErrDurationParse = "valid duration, only d, h, m, s, ms, us are supported."
)

// Error display wrappers (components/encryption/src/errors.rs).
const (
	ErrDisplayOther      = "Other error %s"
	ErrDisplayIO         = "IO error %s"
	ErrDisplayWrongKey   = "Wrong master key error %s"
	ErrDisplayBothFailed = "Both master key failed, current key %s, previous key %s."
	ErrDisplayCloudKMS   = "Cloud KMS error %s"
)

// Error codes (components/error_code/src/encryption.rs; KV:Unknown for Error::Other; KV:Cloud:* for cloud errors).
const (
	CodeUnknown           = "KV:Unknown"
	CodeIO                = "KV:Encryption:Io"
	CodeWrongMasterKey    = "KV:Encryption:WrongMasterKey"
	CodeBothMasterKeyFail = "KV:Encryption:BothMasterKeyFail"
	CodeCloudUnknown      = "KV:Cloud:Unknown"
)

// EncryptionInitFailed formats the FATAL message TiKV panics with (components/server/src/common.rs:272).
func EncryptionInitFailed(err, code string) string {
	return "Encryption failed to initialize: " + err + ". code: " + code
}
