package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// Framework names used in Control.Framework.
const (
	FrameworkPCI   = "PCI DSS v4.0.1"
	FrameworkNIST  = "NIST SP 800-57 Pt1"
	FrameworkHIPAA = "HIPAA Security Rule"
	FrameworkSOC2  = "SOC 2 (TSC 2017)"
)

// nistKeyWrapOUPDays is SP 800-57 Pt1 Table 1's originator-usage period for a
// symmetric key-wrapping key (≤ 2 years; reference kms-and-evidence.md §5).
const nistKeyWrapOUPDays = 730

// MapCompliance maps the evidence in r to the compliance requirements the
// report covers (reference kms-and-evidence.md §5), one Control per entry of
// controlRules, in that order. Requirement texts are paraphrases; items the
// reference marks UNCONFIRMED say so in Note. Status is computed from the
// evidence only: organisational procedures are never claimed, so such items
// are at most "partial".
func MapCompliance(r *Report) []Control {
	f := facts(r)
	out := make([]Control, 0, len(controlRules))
	for _, rule := range controlRules {
		c := Control{Framework: rule.framework, ID: rule.id, Requirement: rule.requirement, Note: rule.note}
		rule.assess(r, f, &c)
		out = append(out, c)
	}
	return out
}

// controlRule is one requirement and how the report's evidence bears on it:
// assess fills Status and Evidence (and may extend Note).
type controlRule struct {
	framework, id, requirement, note string
	assess                           func(r *Report, f evidenceFacts, c *Control)
}

// controlRules are the requirements MapCompliance maps, in report order.
var controlRules = []controlRule{
	{FrameworkPCI, "3.5.1", "Stored account data is rendered unreadable (strong cryptography with key management is one accepted method).",
		"Scoping (3.5.1.2): TiKV encryption is storage-engine level, not disk level; whether an assessor accepts it as file-level encryption is the assessor's call (UNCONFIRMED).",
		assessPCI351},
	{FrameworkPCI, "3.6.1", "Key-protection procedures: fewest custodians, key-encrypting key at least as strong as the data keys and stored separately, fewest locations.",
		"The report shows the technical controls; custodian lists and written procedures are the organisation's to provide.",
		assessPCI361},
	{FrameworkPCI, "3.6.1.2", "Secret keys are stored only encrypted under a key-encrypting key stored separately, in a secure cryptographic device, or as key components.", "",
		assessPCI3612},
	{FrameworkPCI, "3.7.1", "Key-management procedures include generation of strong keys.", "", assessPCI371},
	{FrameworkPCI, "3.7.2", "Key-management procedures include secure key distribution.", "", assessPCI372},
	{FrameworkPCI, "3.7.3", "Key-management procedures include secure key storage.", "", assessPCI373},
	{FrameworkPCI, "3.7.4", "Keys are changed at the end of a defined cryptoperiod, with a process.", "", assessPCI374},
	{FrameworkPCI, "3.7.5", "Keys are retired, replaced or destroyed at the end of the cryptoperiod, when integrity weakens, or when compromise is suspected.", "", assessPCI375},
	{FrameworkPCI, "3.7.7", "Unauthorized substitution of keys is prevented.", "", assessPCI377},
	{FrameworkNIST, "§5.3.6 cryptoperiods", "Suggested cryptoperiods: key-wrapping key originator-usage ≤ 2 years; data-encryption key ≤ 2 years; private signature key 1–3 years.",
		"Values from the 2007 revision of Table 1; Rev. 5 values UNCONFIRMED.", assessNISTCryptoperiods},
	{FrameworkHIPAA, "164.312(a)(2)(iv)", "Encryption and decryption (Addressable): implement a mechanism to encrypt and decrypt electronic protected health information.", "",
		assessHIPAAEncryption},
	{FrameworkSOC2, "CC6.1", "Logical access security over protected information assets; points of focus: uses encryption to protect data, protects encryption keys.",
		"Access-control design beyond encryption is outside this report.", assessSOC2CC61},
	{FrameworkSOC2, "CC6.7", "Transmission, movement and removal of information is restricted to authorized users and processes and protected.",
		"TLS to Vault/KMS and SSH host-key checking are enforced by the tool; network policy is the organisation's to show.", assessSOC2CC67},
}

func assessPCI351(r *Report, f evidenceFacts, c *Control) {
	c.Evidence = append(c.Evidence, fmt.Sprintf("stores[*].after.method: encrypted with %s on %d of %d stores", strings.Join(f.methods, ", "), f.encrypted, len(r.Stores)))
	if f.coverageKnown {
		c.Evidence = append(c.Evidence, fmt.Sprintf("stores[*].verification.coverage: %d files encrypted, %d plaintext", f.filesEnc, f.filesPlain))
	}
	if len(f.plaintextStores) > 0 {
		c.Evidence = append(c.Evidence, "stores[*].after.method: still plaintext on "+storeList(f.plaintextStores))
	}
	if f.logEnabled > 0 {
		c.Evidence = append(c.Evidence, fmt.Sprintf("stores[*].verification.log_lines: %q seen on %d stores", tikvlog.MsgEnabled.Text+"…", f.logEnabled))
	}
	switch {
	case len(r.Stores) == 0 || f.encrypted < len(r.Stores):
		c.Status = ControlNotEvidenced
	case f.coverageKnown && f.filesPlain == 0:
		c.Status = ControlSupported
	default:
		c.Status = ControlPartial
		if f.coverageKnown {
			c.Note += fmt.Sprintf(" %d data files are still unencrypted on disk; background compaction rewrites them, so re-run tikv-ear audit later.", f.filesPlain)
		} else {
			c.Note += " On-disk coverage was not measured."
		}
	}
}

func assessPCI361(_ *Report, f evidenceFacts, c *Control) {
	c.Status = ControlPartial
	c.Evidence = append(c.Evidence, "stores[*].after.master_key.type: master key type "+strings.Join(f.mkTypes, ", "))
	if len(f.backends) > 0 {
		c.Evidence = append(c.Evidence, "keys[*].backend: keys held in "+strings.Join(f.backends, ", "))
	}
	if f.kdAESGCM > 0 {
		c.Evidence = append(c.Evidence, fmt.Sprintf("stores[*].verification.key_dict.method: aes256-gcm (data keys wrapped by the master key) on %d stores", f.kdAESGCM))
	}
}

func assessPCI3612(r *Report, f evidenceFacts, c *Control) {
	if f.kdAESGCM > 0 {
		c.Evidence = append(c.Evidence, fmt.Sprintf("stores[*].verification.key_dict.method: aes256-gcm (data keys stored encrypted under the master key) on %d of %d stores", f.kdAESGCM, len(r.Stores)))
	}
	if len(f.keyFileFS) > 0 {
		c.Evidence = append(c.Evidence, "stores[*].verification.key_file.fs_type: master key file kept on "+strings.Join(f.keyFileFS, ", "))
	}
	switch {
	case len(r.Stores) > 0 && f.kdAESGCM == len(r.Stores) && f.keyFileOnDisk == 0:
		c.Status = ControlSupported
	case f.kdAESGCM > 0:
		c.Status = ControlPartial
		if f.keyFileOnDisk > 0 {
			c.Note = fmt.Sprintf("%d stores keep the file master key on a persistent file system; deliver it to tmpfs.", f.keyFileOnDisk)
		}
	default:
		c.Status = ControlNotEvidenced
	}
}

func assessPCI371(_ *Report, f evidenceFacts, c *Control) {
	if len(f.backends) == 0 {
		c.Status = ControlNotEvidenced
		return
	}
	c.Status = ControlPartial
	c.Evidence = []string{"keys[*].backend: master key generated by the CSPRNG of " + strings.Join(f.backends, ", ")}
	c.Note = "Data keys are generated by TiKV itself; the master key by the backend listed."
}

func assessPCI372(_ *Report, f evidenceFacts, c *Control) {
	switch {
	case len(f.keyFileModes) > 0:
		c.Status = ControlPartial
		c.Evidence = []string{"stores[*].verification.key_file.mode: master key file mode " + strings.Join(f.keyFileModes, ", ")}
	case f.kms > 0:
		c.Status = ControlPartial
		c.Evidence = []string{fmt.Sprintf("stores[*].after.master_key.type: kms on %d stores (TiKV fetches the master key from the KMS itself)", f.kms)}
	default:
		c.Status = ControlNotEvidenced
	}
}

func assessPCI373(r *Report, _ evidenceFacts, c *Control) {
	if len(r.Keys) == 0 {
		c.Status = ControlNotEvidenced
		return
	}
	c.Status = ControlPartial
	c.Evidence = []string{fmt.Sprintf("keys[*].versions: %s with their versions recorded", countNoun(len(r.Keys), "managed key"))}
}

func assessPCI374(r *Report, _ evidenceFacts, c *Control) {
	s := r.Schedule
	if s == nil {
		c.Status = ControlNotEvidenced
		c.Note = "No rotation schedule recorded; generate one with tikv-ear schedule."
		return
	}
	c.Evidence = append(c.Evidence, fmt.Sprintf("schedule: master key rotated every %d days, data keys every %s", s.MasterKeyPeriodDays, s.DataKeyRotationPeriod))
	if !s.LastMasterKeyRotation.IsZero() {
		c.Evidence = append(c.Evidence, "schedule.last_master_key_rotation: master key last rotated "+rfc3339(s.LastMasterKeyRotation))
	}
	if !s.NextDue.IsZero() {
		c.Evidence = append(c.Evidence, "schedule.next_due: next master key rotation due "+rfc3339(s.NextDue))
	}
	if !s.NextDue.IsZero() && asOf(r).After(s.NextDue) {
		c.Status = ControlNotEvidenced
		c.Note = "The master key is overdue for rotation."
	} else {
		c.Status = ControlSupported
	}
}

func assessPCI375(r *Report, f evidenceFacts, c *Control) {
	switch {
	case f.prevLeft > 0:
		c.Status = ControlPartial
		c.Note = fmt.Sprintf("%d stores still list a previous-master-key; remove it once every store has started with the new key.", f.prevLeft)
	case r.Kind == KindRotate:
		c.Status = ControlSupported
		c.Evidence = []string{"stores[*].after.previous_master_key: absent on every store (the old master key is retired from the TiKV config)"}
	default:
		c.Status = ControlPartial
	}
	for _, k := range r.Keys {
		if k.MinDecryptionVersion != "" {
			c.Evidence = append(c.Evidence, fmt.Sprintf("keys[*].min_decryption_version: %s decrypts only with version %s or later", k.KeyID, k.MinDecryptionVersion))
		}
	}
}

func assessPCI377(_ *Report, f evidenceFacts, c *Control) {
	c.Evidence = []string{FileBundle + ", " + FileEnvelope + ": this report.json is signed (DSSE envelope of an in-toto Statement whose subject is its SHA-256)"}
	if f.fingerprinted > 0 {
		c.Evidence = append(c.Evidence, fmt.Sprintf("stores[*].after.master_key.fingerprint: master key fingerprint recorded on %d of %d stores with a master key", f.fingerprinted, f.nonPlainMK))
	}
	if f.nonPlainMK > 0 && f.fingerprinted == f.nonPlainMK {
		c.Status = ControlSupported
	} else {
		c.Status = ControlPartial
	}
}

func assessNISTCryptoperiods(r *Report, _ evidenceFacts, c *Control) {
	s := r.Schedule
	if s == nil {
		c.Status = ControlNotEvidenced
		return
	}
	c.Evidence = []string{fmt.Sprintf("schedule.master_key_period_days: master key (the key-wrapping key) rotated every %d days", s.MasterKeyPeriodDays),
		"schedule.data_key_rotation_period: data keys rotated every " + s.DataKeyRotationPeriod}
	if s.SigningKeyPeriodDays > 0 {
		c.Evidence = append(c.Evidence, fmt.Sprintf("schedule.signing_key_period_days: report signing key replaced every %d days", s.SigningKeyPeriodDays))
	}
	if s.MasterKeyPeriodDays > 0 && s.MasterKeyPeriodDays <= nistKeyWrapOUPDays {
		c.Status = ControlSupported
	} else {
		c.Status = ControlPartial
		c.Note += fmt.Sprintf(" Master key period %d days exceeds the 2-year originator-usage period.", s.MasterKeyPeriodDays)
	}
}

func assessHIPAAEncryption(r *Report, f evidenceFacts, c *Control) {
	c.Evidence = []string{fmt.Sprintf("stores[*].after.method: %d of %d stores encrypted (%s)", f.encrypted, len(r.Stores), strings.Join(f.methods, ", "))}
	if len(f.plaintextStores) > 0 {
		c.Evidence = append(c.Evidence, "stores[*].after.method: still plaintext on "+storeList(f.plaintextStores))
	}
	if len(r.Stores) > 0 && f.encrypted == len(r.Stores) {
		c.Status = ControlSupported
	} else {
		c.Status = ControlNotEvidenced
	}
}

func assessSOC2CC61(r *Report, f evidenceFacts, c *Control) {
	c.Status = ControlPartial
	c.Evidence = []string{fmt.Sprintf("stores[*].after.method: %d of %d stores encrypted", f.encrypted, len(r.Stores)), "stores[*].after.master_key.type: master key type " + strings.Join(f.mkTypes, ", ")}
}

func assessSOC2CC67(_ *Report, f evidenceFacts, c *Control) {
	c.Status = ControlPartial
	c.Evidence = []string{FileReport + ": no key material, only key identities and fingerprints (redacted by construction)",
		FileBundle + ", " + FileEnvelope + ": report integrity protected by a DSSE signature"}
	if len(f.keyFileModes) > 0 {
		c.Evidence = append([]string{"stores[*].verification.key_file: how the master key file was delivered (path, mode, owner, file system)"}, c.Evidence...)
	}
	if f.kms > 0 {
		c.Evidence = append([]string{fmt.Sprintf("stores[*].after.master_key.type: kms on %d stores (TiKV fetches the master key from the KMS itself; no key file is delivered)", f.kms)}, c.Evidence...)
	}
}

type evidenceFacts struct {
	methods, mkTypes, backends, keyFileFS, keyFileModes []string
	encrypted, kdAESGCM, keyFileOnDisk, kms             int
	fingerprinted, nonPlainMK, prevLeft, logEnabled     int
	coverageKnown                                       bool
	plaintextStores                                     []uint64
	filesEnc, filesPlain                                int64
}

func facts(r *Report) evidenceFacts {
	var f evidenceFacts
	methods, mk, be, fs, modes := set{}, set{}, set{}, set{}, set{}
	for _, s := range r.Stores {
		methods.add(s.After.Method)
		mk.add(s.After.MasterKey.Type)
		if s.After.Method != "" && s.After.Method != tikv.MethodPlaintext {
			f.encrypted++
		} else {
			f.plaintextStores = append(f.plaintextStores, s.ID)
		}
		if s.After.MasterKey.Type == tikv.MasterKeyKMS {
			f.kms++
		}
		if s.After.MasterKey.Type == tikv.MasterKeyFile || s.After.MasterKey.Type == tikv.MasterKeyKMS {
			f.nonPlainMK++
			if s.After.MasterKey.Fingerprint != "" {
				f.fingerprinted++
			}
		}
		if s.After.HasPreviousMasterKey() {
			f.prevLeft++
		}
		v := s.Verification
		if v.KeyDict != nil && v.KeyDict.Method == tikv.MetadataMethodAES256GCM {
			f.kdAESGCM++
		}
		if v.Coverage != nil {
			f.coverageKnown = true
			f.filesEnc += v.Coverage.FilesEncrypted
			f.filesPlain += v.Coverage.FilesPlaintext
		}
		if v.KeyFile != nil {
			fs.add(v.KeyFile.FSType)
			modes.add(v.KeyFile.Mode)
			if v.KeyFile.FSType != "tmpfs" && v.KeyFile.FSType != "ramfs" {
				f.keyFileOnDisk++
			}
		}
		for _, l := range v.LogLines {
			if tikvlog.MsgEnabled.Matches(l.Message) {
				f.logEnabled++
				break
			}
		}
	}
	for _, k := range r.Keys {
		be.add(k.Backend)
	}
	f.methods, f.mkTypes, f.backends, f.keyFileFS, f.keyFileModes = methods.list(), mk.list(), be.list(), fs.list(), modes.list()
	return f
}

// countNoun is "1 managed key" or "2 managed keys".
func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// storeList is "store 3" or "stores 1, 2, 5".
func storeList(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(id, 10)
	}
	if len(s) == 1 {
		return "store " + s[0]
	}
	return "stores " + strings.Join(s, ", ")
}

type set map[string]bool

func (s set) add(v string) {
	if v != "" {
		s[v] = true
	}
}

func (s set) list() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// asOf is the report's reference time: when it finished, else when it started.
func asOf(r *Report) time.Time {
	if !r.FinishedAt.IsZero() {
		return r.FinishedAt
	}
	return r.StartedAt
}
