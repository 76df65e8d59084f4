package tikv

// Config keys of [security.encryption] as TiKV parses them (serde kebab-case,
// components/encryption/src/config.rs; reference tikv-encryption.md §1.1–1.2).
const (
	KeyEncryption        = "security.encryption"
	KeyMethod            = KeyEncryption + ".data-encryption-method"
	KeyRotationPeriod    = KeyEncryption + ".data-key-rotation-period"
	KeyFileDictLog       = KeyEncryption + ".enable-file-dictionary-log"
	KeyRewriteThreshold  = KeyEncryption + ".file-dictionary-rewrite-threshold"
	KeyMasterKey         = KeyEncryption + ".master-key"
	KeyPreviousMasterKey = KeyEncryption + ".previous-master-key"
)

// Field is one key of a table (the config editor's SetTable writes them).
// Key is relative to the table and may be dotted ("aws.access-key" is a
// sub-table's key).
type Field struct {
	Key   string
	Value any
}

// MasterKeyFields renders a master key as the fields of its table, in TiKV's
// key names (MasterKeyConfig; the vendor sub-tables as dotted fields).
func MasterKeyFields(k MasterKey) []Field {
	f := []Field{{Key: "type", Value: k.Type}}
	add := func(key, v string) {
		if v != "" {
			f = append(f, Field{Key: key, Value: v})
		}
	}
	switch k.Type {
	case MasterKeyFile:
		add("path", k.Path)
	case MasterKeyKMS:
		add("key-id", k.KeyID)
		add("region", k.Region)
		add("endpoint", k.Endpoint)
		add("vendor", k.Vendor)
		if k.AWS != nil {
			add("aws.access-key", k.AWS.AccessKey)
			add("aws.secret-access-key", k.AWS.SecretAccessKey)
		}
		if k.GCP != nil {
			add("gcp.credential-file-path", k.GCP.CredentialFilePath)
		}
		if a := k.Azure; a != nil {
			add("azure.tenant-id", a.TenantID)
			add("azure.client-id", a.ClientID)
			add("azure.keyvault-url", a.KeyvaultURL)
			add("azure.hsm-name", a.HSMName)
			add("azure.hsm-url", a.HSMURL)
			add("azure.client-certificate", a.ClientCertificate)
			add("azure.client-certificate-path", a.ClientCertificatePath)
			add("azure.client-certificate-password", a.ClientCertificatePassword)
			add("azure.client-secret", a.ClientSecret)
		}
	}
	return f
}
