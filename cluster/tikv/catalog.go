package tikv

import "strings"

// Msg is one message that TiKV writes to its log, exactly as upstream spells it.
//
// Text is the full message for fixed strings. For messages that TiKV builds
// with format! (a trailing {:?} or {}), Text is the fixed prefix and Prefix is
// true: a log message matches when it starts with Text.
type Msg struct {
	// Name is a stable identifier used by the tool (and by the sim) to refer to the message.
	Name string
	// Level is the unified-log level TiKV logs it at.
	Level string
	// Text is the exact message text, or its fixed prefix when Prefix is set.
	Text string
	// Prefix marks messages whose tail is formatted at run time.
	Prefix bool
	// Source is the upstream file that emits the message.
	Source string
}

// Matches reports whether a log message (the [msg] part of a unified log line) is this message.
func (m Msg) Matches(message string) bool {
	if m.Prefix {
		return strings.HasPrefix(message, m.Text)
	}
	return message == m.Text
}

// Format renders the message with its run-time tail (for Prefix messages); fixed
// messages ignore tail.
func (m Msg) Format(tail string) string {
	if m.Prefix {
		return m.Text + tail
	}
	return m.Text
}

// The catalogue of TiKV log messages the tool reads and the sim writes. Every
// string is copied from ../shared/reference/tikv-encryption.md §2.6 and §3, which cites
// the upstream file named in Source (tikv/tikv at 8e964719db0d unless noted).
var (
	// MsgInitKMSBackend is logged when a KMS master-key backend is built.
	MsgInitKMSBackend = Msg{Name: "init-kms-backend", Level: "INFO", Text: "Encryption init KMS backend", Source: "components/encryption/export/src/lib.rs"}
	// MsgFailedAccessMasterKey is logged when the master-key backend cannot be built: "failed to access master key, {}".
	MsgFailedAccessMasterKey = Msg{Name: "failed-access-master-key", Level: "ERROR", Text: "failed to access master key, ", Prefix: true, Source: "components/encryption/export/src/lib.rs"}
	// MsgNoDicts is logged when neither key.dict nor file.dict exists.
	MsgNoDicts = Msg{Name: "no-dicts", Level: "INFO", Text: "encryption: none of key dictionary and file dictionary are found.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgEmptyFileDict is logged when a stale empty file.dict is deleted.
	MsgEmptyFileDict = Msg{Name: "empty-file-dict", Level: "INFO", Text: "encryption: file dict is empty and none of key dictionary are found.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgFoundDicts is logged when both dictionaries are loaded.
	MsgFoundDicts = Msg{Name: "found-dicts", Level: "INFO", Text: "encryption: found both of key dictionary and file dictionary.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgFailedLoadKeyDict is logged when key.dict cannot be read (e.g. wrong master key, also on the first try of a rotation).
	MsgFailedLoadKeyDict = Msg{Name: "failed-load-key-dict", Level: "ERROR", Text: "encryption: failed to load key dictionary.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgFailedLoadFileDict is logged when file.dict cannot be read.
	MsgFailedLoadFileDict = Msg{Name: "failed-load-file-dict", Level: "ERROR", Text: "encryption: failed to load file dictionary.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgDisabled is logged when encryption was never enabled and the method is plaintext.
	MsgDisabled = Msg{Name: "disabled", Level: "INFO", Text: "encryption is disabled.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgBeingEnabled is logged on the first start with encryption: "encryption is being enabled. method = {:?}".
	MsgBeingEnabled = Msg{Name: "being-enabled", Level: "INFO", Text: "encryption is being enabled. method = ", Prefix: true, Source: "components/encryption/src/manager/mod.rs"}
	// MsgEnabled is logged on a normal start with encryption: "encryption is enabled. method = {:?}". Not logged on the master-key rotation path.
	MsgEnabled = Msg{Name: "enabled", Level: "INFO", Text: "encryption is enabled. method = ", Prefix: true, Source: "components/encryption/src/manager/mod.rs"}
	// MsgFallbackPreviousKey is logged when TiKV falls back to previous-master-key.
	MsgFallbackPreviousKey = Msg{Name: "fallback-previous-key", Level: "WARN", Text: "failed to open encryption metadata using master key. could be master key being rotated. current master key: ", Prefix: true, Source: "components/encryption/src/manager/mod.rs"}
	// MsgPersistedReplaceMasterKey is logged when a master-key rotation succeeded.
	MsgPersistedReplaceMasterKey = Msg{Name: "persisted-replace-master-key", Level: "INFO", Text: "encryption: persisted result after replace master key.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgTryRotateDataKey is logged on every background rotation tick: "Try to rotate data key, current method:{:?}".
	MsgTryRotateDataKey = Msg{Name: "try-rotate-data-key", Level: "INFO", Text: "Try to rotate data key, current method:", Prefix: true, Source: "components/encryption/src/manager/mod.rs"}
	// MsgRotateDataKey is logged when a new data key is installed (field key_id).
	MsgRotateDataKey = Msg{Name: "rotate-data-key", Level: "INFO", Text: "encryption: rotate data key.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgRotateWorkerCancelled is logged at shutdown.
	MsgRotateWorkerCancelled = Msg{Name: "rotate-worker-cancelled", Level: "INFO", Text: "Key rotate worker has been cancelled.", Source: "components/encryption/src/manager/mod.rs"}
	// MsgInstallingDictFile is logged when file.dict is rewritten, including at every start (fields name, old_size, new_size).
	MsgInstallingDictFile = Msg{Name: "installing-dict-file", Level: "INFO", Text: "installing new dictionary file", Source: "components/encryption/src/file_dict_file.rs"}
	// MsgEncryptionInitFailed is the FATAL panic of a failed init: "Encryption failed to initialize: {}. code: {}".
	MsgEncryptionInitFailed = Msg{Name: "encryption-init-failed", Level: "FATAL", Text: "Encryption failed to initialize: ", Prefix: true, Source: "components/server/src/common.rs"}
	// MsgRaftEngineOpenFailed is the Raft Engine crash on v5.4.0–v6.1.x ("failed to open raft engine: … Nonce + Counter must be 12/16 bytes, 0").
	MsgRaftEngineOpenFailed = Msg{Name: "raft-engine-open-failed", Level: "FATAL", Text: "failed to open raft engine: ", Prefix: true, Source: "components/server/src/server.rs (tikv/tikv#12162, #12919)"}
)

// Catalogue lists every message above, in the order TiKV would usually log them.
func Catalogue() []Msg {
	return []Msg{
		MsgInitKMSBackend, MsgFailedAccessMasterKey, MsgNoDicts, MsgEmptyFileDict, MsgFoundDicts,
		MsgFailedLoadKeyDict, MsgFailedLoadFileDict, MsgDisabled, MsgBeingEnabled, MsgEnabled,
		MsgFallbackPreviousKey, MsgPersistedReplaceMasterKey, MsgTryRotateDataKey, MsgRotateDataKey,
		MsgRotateWorkerCancelled, MsgInstallingDictFile, MsgEncryptionInitFailed, MsgRaftEngineOpenFailed,
	}
}

// Lookup returns the catalogue entry that matches a log message, if any.
func Lookup(message string) (Msg, bool) {
	for _, m := range Catalogue() {
		if m.Matches(message) {
			return m, true
		}
	}
	return Msg{}, false
}

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
