package report

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// redaction rules, applied in order by Redact.
var (
	pemPrivateRE = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)
	userinfoRE   = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@`)
	assignRE     = regexp.MustCompile(`(?i)((?:secret[-_]?access[-_]?key|client[-_]?secret|client[-_]?certificate[-_]?password|client[-_]?certificate|access[-_]?key|password|passwd|token|secret[-_]?id|secret|private[-_]?key|plaintext|api[-_]?key)["']?\s*[:=]\s*)(\[REDACTED\]|"[^"]*"|'[^']*'|[^\s,;}\]]+)`)
	vaultTokRE   = regexp.MustCompile(`\b(?:hv[sbr]\.[A-Za-z0-9_-]{16,}|s\.[A-Za-z0-9]{24})\b`)
	vaultCtRE    = regexp.MustCompile(`vault:v(\d+):[A-Za-z0-9+/=_-]+`)
	awsKeyIDRE   = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)
	hexRunRE     = regexp.MustCompile(`[0-9a-fA-F]{32,}`)
	b64RunRE     = regexp.MustCompile(`[A-Za-z0-9+/_-]{40,}={0,2}`)
)

// Redaction markers written in place of secret-looking text.
const (
	Redacted = "[REDACTED]"
)

// Redact removes text that looks like key material or a credential from s:
// PEM private keys, URL user info, values assigned to secret-named keys
// (secret-access-key, client-secret, password, token, secret_id, plaintext, ...),
// Vault tokens and transit ciphertexts, AWS access key ids, hex runs of 32 or
// more digits (a TiKV file master key is 64 hex digits) unless written as
// "sha256:<hex>", and base64-looking runs of 40 or more characters.
// It is idempotent. Canonical and the renderers apply it to every string.
func Redact(s string) string {
	if s == "" {
		return s
	}
	s = pemPrivateRE.ReplaceAllString(s, Redacted)
	s = userinfoRE.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = assignRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := assignRE.FindStringSubmatch(m)
		if sub[2] == Redacted || sub[2] == `"`+Redacted+`"` {
			return m
		}
		return sub[1] + Redacted
	})
	s = vaultTokRE.ReplaceAllString(s, Redacted)
	s = vaultCtRE.ReplaceAllString(s, "vault:v${1}:"+Redacted)
	s = awsKeyIDRE.ReplaceAllString(s, Redacted)
	s = replaceUnlessDigest(s, hexRunRE)
	s = b64RunRE.ReplaceAllStringFunc(s, func(m string) string {
		if looksRandom(m) {
			return Redacted
		}
		return m
	})
	return s
}

// replaceUnlessDigest redacts matches of re that are not the hex of a "sha256:" digest.
func replaceUnlessDigest(s string, re *regexp.Regexp) string {
	locs := re.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		start, end := l[0], l[1]
		if start >= 7 && strings.EqualFold(s[start-7:start], "sha256:") && end-start == 64 {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// looksRandom reports whether a base64-alphabet run mixes upper case, lower
// case and digits, as encoded random bytes do and paths or metric names rarely do.
func looksRandom(s string) bool {
	var up, low, dig bool
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			up = true
		case c >= 'a' && c <= 'z':
			low = true
		case c >= '0' && c <= '9':
			dig = true
		}
	}
	return up && low && dig
}

// MasterKeyFromConfig builds the report's view of a TiKV master-key config.
// It copies identity fields only (type, path, vendor, key id, region,
// endpoint without user info); the secret fields of tikv.MasterKey
// (AWS access keys, Azure client secret and certificate, passwords) are never
// read. version and fingerprint come from the key backend (see Fingerprint).
func MasterKeyFromConfig(k tikv.MasterKey, version, fingerprint string) MasterKey {
	mk := MasterKey{
		Type:        k.EffectiveType(),
		KeyVersion:  version,
		Fingerprint: fingerprint,
	}
	switch mk.Type {
	case tikv.MasterKeyFile:
		mk.Path = k.Path
	case tikv.MasterKeyKMS:
		mk.Vendor = k.Vendor
		if mk.Vendor == "" {
			mk.Vendor = tikv.VendorAWS
		}
		mk.KeyID = k.KeyID
		mk.Region = k.Region
		mk.Endpoint = stripUserinfo(k.Endpoint)
		if k.Azure != nil && k.Azure.KeyvaultURL != "" {
			mk.Endpoint = stripUserinfo(k.Azure.KeyvaultURL)
		}
	}
	return mk
}

// stripUserinfo removes user:password@ from a URL; unparsable input is redacted.
func stripUserinfo(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Redact(s)
	}
	u.User = nil
	return u.String()
}
