package tikv

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// gcpKeyIDPattern is the key-id format TiKV requires for vendor "gcp";
// otherwise it fails with "invalid key: '<id>'" (components/cloud/gcp/src/kms.rs;
// reference tikv-encryption.md §1.2).
const gcpKeyIDPattern = `^projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/cryptoKeys/([^/]+)/?$`

// ErrGCPInvalidKeyFmt is the GCP key-id error (components/cloud/gcp/src/kms.rs), formatted with the id.
const ErrGCPInvalidKeyFmt = "invalid key: '%s'"

// MethodUnknown is the internal "unknown" method TiKV's parser accepts (config.rs).
const MethodUnknown = "unknown"

// Validate applies TiKV's encryption rules (reference tikv-encryption.md §1,
// §2.5–§2.7, §8) for the given TiKV version; version "" skips the version
// gates. Problems carry the key path but no position: Config.Validate adds
// file, line and column.
func (e Encryption) Validate(version string) []Problem {
	var out []Problem
	add := func(sev Severity, key, msg, fix string) {
		out = append(out, Problem{Severity: sev, Key: key, Message: msg, Fix: fix})
	}
	var v Version
	haveVersion := false
	if version != "" {
		var err error
		if v, err = ParseVersion(version); err != nil {
			add(SeverityWarning, "", fmt.Sprintf("version gates skipped: %v", err), "pass the TiKV version as v8.5.2")
		} else {
			haveVersion = true
		}
	}
	older := func(gate Version) bool { return haveVersion && v.Less(gate) }

	method := strings.ToLower(e.EffectiveMethod())
	switch {
	case method == MethodUnknown:
		add(SeverityError, KeyMethod, `"unknown" is TiKV's internal placeholder, not a usable method`, "use one of "+strings.Join(Methods(), ", "))
	case !slices.Contains(Methods(), method):
		add(SeverityError, KeyMethod, fmt.Sprintf("%s: %q", ErrInvalidMethod, e.Method), "use one of "+strings.Join(Methods(), ", "))
	}
	encrypting := method != MethodPlaintext && slices.Contains(Methods(), method)
	if encrypting && older(gate(GateEncryption)) {
		add(SeverityError, KeyMethod, fmt.Sprintf("encryption at rest needs TiKV %s or later (this is %s)", gate(GateEncryption), v), "upgrade TiKV first")
	}
	if method == MethodSM4CTR {
		switch {
		case older(gate(GateSM4Code)):
			add(SeverityError, KeyMethod, fmt.Sprintf("sm4-ctr is not available before %s (this is %s)", gate(GateSM4Code), v), "use aes256-ctr or upgrade TiKV")
		case older(gate(GateSM4Docs)):
			add(SeverityWarning, KeyMethod, fmt.Sprintf("sm4-ctr is in the code of %s but documented as supported only from %s", gate(GateSM4Code), gate(GateSM4Docs)), "prefer aes256-ctr, or upgrade to v6.3.0 or later")
		}
		add(SeverityWarning, KeyMethod, fmt.Sprintf("sm4-ctr works only on builds with a statically linked OpenSSL (otherwise TiKV fails with %q) and may cost 50%% to 80%% of throughput", ErrSM4Dynamic), "check the build, or use aes256-ctr")
	}

	if e.DataKeyRotationPeriod != "" {
		d, err := ParseReadableDuration(e.DataKeyRotationPeriod)
		switch {
		case err != nil:
			add(SeverityError, KeyRotationPeriod, fmt.Sprintf("%q: %v", e.DataKeyRotationPeriod, err), `write a duration such as "7d", "168h" or "1d12h" (units d, h, m, s, ms, us, largest first)`)
		case d == 0:
			add(SeverityWarning, KeyRotationPeriod, "a zero rotation period is not range-checked by TiKV and its behaviour is unverified", `use a period such as "7d"`)
		}
	}
	if e.EnableFileDictionaryLog != nil && older(gate(GateFileDictLog)) {
		add(SeverityWarning, KeyFileDictLog, fmt.Sprintf("enable-file-dictionary-log exists only from %s", gate(GateFileDictLog)), "remove it or upgrade TiKV")
	}

	out = append(out, validateMasterKey(e.MasterKey, KeyMasterKey, SeverityError, haveVersion, v)...)
	out = append(out, validateMasterKey(e.PreviousMasterKey, KeyPreviousMasterKey, SeverityWarning, haveVersion, v)...)

	if encrypting && e.MasterKey.EffectiveType() == MasterKeyPlaintext {
		add(SeverityError, KeyMasterKey+".type", ErrInsecureMasterKey, `configure [security.encryption.master-key] with type = "file" or type = "kms"`)
	}
	if e.MasterKey.Type == MasterKeyKMS && e.PreviousMasterKey.Type == MasterKeyKMS {
		cur, prev := normVendor(e.MasterKey.Vendor), normVendor(e.PreviousMasterKey.Vendor)
		if cur != prev {
			add(SeverityError, KeyPreviousMasterKey+".vendor", fmt.Sprintf("KMS vendor %q to %q: TiKV reports a vendor mismatch instead of falling back to previous-master-key, so startup fails", prev, cur),
				"rotate in two steps through a file master key (KMS → file → KMS)")
		} else if haveVersion && KMSRotationBug(v) {
			add(SeverityWarning, KeyPreviousMasterKey, fmt.Sprintf("KMS to KMS master-key rotation fails on %s with \"%s\" (tikv/tikv#17410)", v, ErrKMSDecryptFailed),
				"upgrade to v6.5.11, v7.1.6, v7.5.4, v8.1.1, v8.4.0 or later, or rotate through a file master key")
		}
	}
	return out
}

func normVendor(v string) string {
	if v == "" {
		return VendorAWS
	}
	return v
}

// validateMasterKey checks one master-key table. sev is the severity of
// failures: previous-master-key is built lazily, so its failures only matter
// when it is needed.
func validateMasterKey(k MasterKey, base string, sev Severity, haveVersion bool, v Version) []Problem {
	var out []Problem
	add := func(s Severity, key, msg, fix string) {
		out = append(out, Problem{Severity: s, Key: key, Message: msg, Fix: fix})
	}
	older := func(gate Version) bool { return haveVersion && v.Less(gate) }
	kmsFields := k.KeyID != "" || k.Region != "" || k.Endpoint != "" || k.Vendor != "" || k.AWS != nil || k.Azure != nil || k.GCP != nil
	switch k.Type {
	case "", MasterKeyPlaintext:
		if k.Path != "" || kmsFields {
			add(SeverityWarning, base+".type", "the master key is plaintext, so path and KMS fields are ignored", `set type = "file" or type = "kms", or remove the extra keys`)
		}
	case MasterKeyFile:
		if strings.TrimSpace(k.Path) == "" {
			add(sev, base+".path", "type = \"file\" needs path, the 65-byte hex key file", `add path = "/path/to/master.key"`)
		}
		if kmsFields {
			add(SeverityWarning, base+".type", "type = \"file\" ignores key-id, region, endpoint, vendor and the KMS sub-tables", "remove them")
		}
	case MasterKeyKMS:
		if k.Path != "" {
			add(SeverityWarning, base+".path", "type = \"kms\" ignores path", "remove it")
		}
		if k.KeyID == "" {
			add(sev, base+".key-id", ErrKeyIDEmpty, "set key-id to the KMS key id")
		}
		switch k.Vendor {
		case "", VendorAWS:
			if k.AWS != nil && older(gate(GateAWSTable)) {
				add(sev, base+".aws", fmt.Sprintf("the [aws] sub-table exists only from %s (this is %s)", gate(GateAWSTable), v), "remove it and use the environment, the AWS config file or an IAM role")
			}
		case VendorAzure:
			switch {
			case older(gate(GateAzure)):
				add(sev, base+".vendor", fmt.Sprintf("%s%s: Azure KMS exists only from %s (this is %s)", ErrProviderNotFoundPrefix, k.Vendor, gate(GateAzure), v), "upgrade TiKV or use another vendor")
			case k.Azure == nil:
				add(sev, base+".azure", ErrAzureInvalid+": the [azure] sub-table is missing", "add [..master-key.azure] with tenant-id, client-id, keyvault-url, hsm-name, hsm-url and a credential")
			case k.Azure.ClientCertificate == "" && k.Azure.ClientCertificatePath == "" && k.Azure.ClientSecret == "":
				add(sev, base+".azure", ErrAzureInvalid+": no credential", "set client-certificate, client-certificate-path or client-secret (kebab-case)")
			}
		case VendorGCP:
			switch {
			case older(gate(GateGCP)):
				add(sev, base+".vendor", fmt.Sprintf("%s%s: GCP KMS exists only from %s (this is %s)", ErrProviderNotFoundPrefix, k.Vendor, gate(GateGCP), v), "upgrade TiKV or use another vendor")
			case k.GCP == nil:
				add(sev, base+".gcp", ErrGCPInvalid+": the [gcp] sub-table is missing", "add [..master-key.gcp] (credential-file-path is optional)")
			}
			if k.KeyID != "" && !regexp.MustCompile(gcpKeyIDPattern).MatchString(k.KeyID) {
				add(sev, base+".key-id", fmt.Sprintf(ErrGCPInvalidKeyFmt, k.KeyID), "use projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>")
			}
			add(SeverityWarning, base+".vendor", "GCP KMS is experimental in TiKV", "")
		default:
			fix := `use vendor = "aws" (or ""), "azure" or "gcp"`
			if l := strings.ToLower(k.Vendor); l != k.Vendor && (l == VendorAWS || l == VendorAzure || l == VendorGCP) {
				fix = fmt.Sprintf("vendor is case-sensitive: write %q", l)
			}
			add(sev, base+".vendor", ErrProviderNotFoundPrefix+k.Vendor, fix)
		}
	default:
		add(SeverityError, base+".type", fmt.Sprintf("unknown master-key type %q", k.Type), `use "plaintext", "file" or "kms" (lowercase)`)
	}
	return out
}
