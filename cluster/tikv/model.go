package tikv

// Encryption is the [security.encryption] section of tikv.toml
// (components/encryption/src/config.rs EncryptionConfig, serde kebab-case;
// reference tikv-encryption.md §1.1). Zero values mean "not set in the file":
// TiKV's defaults then apply (method plaintext, rotation 7d, dictionary log on).
type Encryption struct {
	Method                         string    // data-encryption-method
	DataKeyRotationPeriod          string    // data-key-rotation-period (ReadableDuration)
	EnableFileDictionaryLog        *bool     // enable-file-dictionary-log
	FileDictionaryRewriteThreshold *uint64   // file-dictionary-rewrite-threshold
	MasterKey                      MasterKey // [security.encryption.master-key]
	PreviousMasterKey              MasterKey // [security.encryption.previous-master-key]
}

// MasterKey is MasterKeyConfig (serde tag "type", kebab-case; reference §1.2).
// Type "" means the table is absent, which TiKV treats as plaintext.
type MasterKey struct {
	Type string // type: plaintext | file | kms

	Path string // path (type = "file")

	KeyID    string // key-id (type = "kms")
	Region   string // region
	Endpoint string // endpoint
	Vendor   string // vendor: "aws" or "" (AWS), "azure", "gcp"

	AWS   *AWSKMS   // [….master-key.aws] (TiKV ≥ 8.4.0)
	Azure *AzureKMS // [….master-key.azure] (TiKV ≥ 7.2.0)
	GCP   *GCPKMS   // [….master-key.gcp] (TiKV ≥ 8.0.0)
}

// AWSKMS is AwsConfig (components/cloud/aws; PR #17387, first tag v8.4.0).
// Both fields are optional: without them TiKV uses the default AWS credential chain.
type AWSKMS struct {
	AccessKey       string // access-key
	SecretAccessKey string // secret-access-key (a secret: never log or report it)
}

// AzureKMS is AzureConfig (components/cloud/azure/src/kms.rs).
type AzureKMS struct {
	TenantID                  string // tenant-id
	ClientID                  string // client-id
	KeyvaultURL               string // keyvault-url
	HSMName                   string // hsm-name
	HSMURL                    string // hsm-url
	ClientCertificate         string // client-certificate (base64 PKCS12; a secret)
	ClientCertificatePath     string // client-certificate-path
	ClientCertificatePassword string // client-certificate-password (a secret)
	ClientSecret              string // client-secret (a secret)
}

// GCPKMS is GcpConfig.
type GCPKMS struct {
	CredentialFilePath string // credential-file-path
}

// EffectiveType returns the master-key type TiKV would use ("plaintext" when unset).
func (k MasterKey) EffectiveType() string {
	if k.Type == "" {
		return MasterKeyPlaintext
	}
	return k.Type
}

// EffectiveMethod returns the data-encryption-method TiKV would use ("plaintext" when unset).
func (e Encryption) EffectiveMethod() string {
	if e.Method == "" {
		return MethodPlaintext
	}
	return e.Method
}
