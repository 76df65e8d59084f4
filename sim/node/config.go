package node

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pingcap/kvproto/pkg/encryptionpb"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// config is what the node takes from tikv.toml at start.
type config struct {
	method           string // lowercase data-encryption-method ("plaintext", "aes256-ctr", "unknown", ...)
	rotation         time.Duration
	rotationText     string // ReadableDuration Display form, for /config
	dictLog          bool
	rewriteThreshold uint64
	master           masterKeyConfig
	previous         masterKeyConfig
}

// masterKeyConfig is MasterKeyConfig (tikv-encryption.md §1.2).
type masterKeyConfig struct {
	Type     string // plaintext | file | kms
	Path     string
	KeyID    string
	Region   string
	Endpoint string
	Vendor   string
	AWS      map[string]any // [… .aws] (honoured from 8.4.0)
	Azure    map[string]any // [… .azure]
	GCP      map[string]any // [… .gcp]
}

// configError is a tikv.toml deserialization error: TiKV panics with it before
// the logger exists (cmd/tikv-server/src/main.rs: "invalid auto generated
// configuration file {}, err {}"), so it reaches tikv_stderr.log only.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// loadConfig reads tikv.toml as the TiKV version v would.
func loadConfig(path string, v semver) (*config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &configError{msg: fmt.Sprintf("reading %s: %v", path, err)}
	}
	var doc map[string]any
	if err := toml.Unmarshal(raw, &doc); err != nil {
		return nil, &configError{msg: err.Error()}
	}
	cfg := &config{
		method:           tikv.MethodPlaintext,
		dictLog:          true,
		rewriteThreshold: tikv.DefaultFileDictionaryRewriteThreshold,
		master:           masterKeyConfig{Type: tikv.MasterKeyPlaintext},
		previous:         masterKeyConfig{Type: tikv.MasterKeyPlaintext},
	}
	cfg.rotation, _ = parseReadableDuration(tikv.DefaultDataKeyRotationPeriod)
	enc := table(table(doc, "security"), "encryption")
	if enc == nil {
		cfg.rotationText = formatReadableDuration(cfg.rotation)
		return cfg, nil
	}
	if m, ok := enc["data-encryption-method"]; ok {
		s, _ := m.(string)
		method, ok := parseMethod(s, v)
		if !ok {
			return nil, &configError{msg: tikv.ErrInvalidMethod}
		}
		cfg.method = method
	}
	if p, ok := enc["data-key-rotation-period"]; ok {
		s, _ := p.(string)
		d, err := parseReadableDuration(s)
		if err != nil {
			return nil, &configError{msg: err.Error()}
		}
		cfg.rotation = d
	}
	cfg.rotationText = formatReadableDuration(cfg.rotation)
	if b, ok := enc["enable-file-dictionary-log"].(bool); ok {
		cfg.dictLog = b
	}
	if n, ok := enc["file-dictionary-rewrite-threshold"].(int64); ok && n >= 0 {
		cfg.rewriteThreshold = uint64(n)
	}
	if cfg.master, err = parseMasterKey(table(enc, "master-key")); err != nil {
		return nil, err
	}
	if cfg.previous, err = parseMasterKey(table(enc, "previous-master-key")); err != nil {
		return nil, err
	}
	return cfg, nil
}

func table(m map[string]any, key string) map[string]any {
	if m == nil {
		return nil
	}
	t, _ := m[key].(map[string]any)
	return t
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// parseMethod accepts data-encryption-method case-insensitively
// (config.rs: value.to_lowercase(); tikv-encryption.md §1.1). sm4-ctr exists from v6.2.0.
func parseMethod(s string, v semver) (string, bool) {
	switch l := strings.ToLower(s); l {
	case tikv.MethodPlaintext, tikv.MethodAES128CTR, tikv.MethodAES192CTR, tikv.MethodAES256CTR, "unknown":
		return l, true
	case tikv.MethodSM4CTR:
		return l, v.hasSM4()
	}
	return "", false
}

// parseMasterKey decodes the internally tagged MasterKeyConfig (serde tag "type").
func parseMasterKey(t map[string]any) (masterKeyConfig, error) {
	if t == nil {
		return masterKeyConfig{Type: tikv.MasterKeyPlaintext}, nil
	}
	mk := masterKeyConfig{
		Type: str(t, "type"), Path: str(t, "path"),
		KeyID: str(t, "key-id"), Region: str(t, "region"), Endpoint: str(t, "endpoint"), Vendor: str(t, "vendor"),
		AWS: table(t, "aws"), Azure: table(t, "azure"), GCP: table(t, "gcp"),
	}
	switch mk.Type {
	case tikv.MasterKeyPlaintext, tikv.MasterKeyFile, tikv.MasterKeyKMS:
		return mk, nil
	case "":
		// serde's message for an internally tagged enum without its tag.
		return mk, &configError{msg: "missing field `type`"}
	}
	// serde's standard message for an unknown variant of MasterKeyConfig.
	return mk, &configError{msg: fmt.Sprintf("unknown variant `%s`, expected one of `plaintext`, `file`, `kms`", mk.Type)}
}

// Units of ReadableDuration (components/tikv_util/src/config.rs).
const (
	unitUS          = time.Microsecond
	unitMillisecond = time.Millisecond
	unitSecond      = time.Second
	unitMin         = time.Minute
	unitH           = time.Hour
	unitDay         = 24 * time.Hour
)

// parseReadableDuration parses TiKV's ReadableDuration: units d, h, m, s, ms, us,
// largest first, fractions allowed, combined ("1d12h", "1.5h"). Every failure
// returns the reference's parser error (tikv-encryption.md §1.1).
func parseReadableDuration(s string) (time.Duration, error) {
	fail := fmt.Errorf("%s", tikv.ErrDurationParse)
	left := strings.TrimSpace(s)
	last := unitDay + 1
	var total float64
	for left != "" {
		i := strings.IndexAny(left, "dhmsu")
		if i < 0 {
			return 0, fail
		}
		num, rest := left[:i], left[i:]
		var unit time.Duration
		switch {
		case strings.HasPrefix(rest, "ms"):
			unit, rest = unitMillisecond, rest[2:]
		case strings.HasPrefix(rest, "us"):
			unit, rest = unitUS, rest[2:]
		case rest[0] == 'd':
			unit, rest = unitDay, rest[1:]
		case rest[0] == 'h':
			unit, rest = unitH, rest[1:]
		case rest[0] == 'm':
			unit, rest = unitMin, rest[1:]
		case rest[0] == 's':
			unit, rest = unitSecond, rest[1:]
		default:
			return 0, fail
		}
		if unit >= last {
			return 0, fail
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
			return 0, fail
		}
		total += n * float64(unit)
		last = unit
		left = rest
	}
	if total > math.MaxInt64 {
		return 0, fail
	}
	return time.Duration(total), nil
}

// formatReadableDuration renders a duration as ReadableDuration's Display ("7d", "1h30m", "0s").
func formatReadableDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		d time.Duration
		s string
	}{{unitDay, "d"}, {unitH, "h"}, {unitMin, "m"}, {unitSecond, "s"}, {unitMillisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.s)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

// pbMethod maps a tikv.toml method to the encryptionpb enum (K: encryptionpb.proto).
func pbMethod(m string) encryptionpb.EncryptionMethod {
	switch m {
	case tikv.MethodPlaintext:
		return encryptionpb.EncryptionMethod_PLAINTEXT
	case tikv.MethodAES128CTR:
		return encryptionpb.EncryptionMethod_AES128_CTR
	case tikv.MethodAES192CTR:
		return encryptionpb.EncryptionMethod_AES192_CTR
	case tikv.MethodAES256CTR:
		return encryptionpb.EncryptionMethod_AES256_CTR
	case tikv.MethodSM4CTR:
		return encryptionpb.EncryptionMethod_SM4_CTR
	}
	return encryptionpb.EncryptionMethod_UNKNOWN
}

// configJSON renders the "security":{"encryption":{…}} object of GET /config (tikv-encryption.md §4.2).
func (c *config) configJSON() map[string]any {
	return map[string]any{"security": map[string]any{"encryption": map[string]any{
		"data-encryption-method":            c.method,
		"data-key-rotation-period":          c.rotationText,
		"enable-file-dictionary-log":        c.dictLog,
		"file-dictionary-rewrite-threshold": c.rewriteThreshold,
		"master-key":                        c.master.json(),
		"previous-master-key":               c.previous.json(),
	}}}
}

func (m masterKeyConfig) json() map[string]any {
	out := map[string]any{"type": m.Type}
	switch m.Type {
	case tikv.MasterKeyFile:
		out["path"] = m.Path
	case tikv.MasterKeyKMS:
		out["key-id"], out["region"], out["endpoint"], out["vendor"] = m.KeyID, m.Region, m.Endpoint, m.Vendor
		for name, t := range map[string]map[string]any{"aws": m.AWS, "azure": m.Azure, "gcp": m.GCP} {
			if t != nil {
				out[name] = sortedCopy(t)
			}
		}
	}
	return out
}

func sortedCopy(t map[string]any) map[string]any {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]any, len(t))
	for _, k := range keys {
		out[k] = t[k]
	}
	return out
}
