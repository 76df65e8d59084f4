package tikvconf

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Config is what tikv-ear reads from one tikv.toml: the [security.encryption]
// model plus the paths and addresses it needs to find the node's files.
// Zero values mean "not set in the file".
type Config struct {
	// Path is the file name used in errors and problems.
	Path string
	// TiUP is true when the file carries TiUP's "auto-generated" header.
	TiUP bool
	// Encryption is [security.encryption].
	Encryption tikv.Encryption
	// DataDir is storage.data-dir (key.dict and file.dict live there).
	DataDir string
	// RaftEngineEnable is raft-engine.enable; nil when unset (default true since v6.1.0).
	RaftEngineEnable *bool
	// RaftEngineDir is raft-engine.dir (default {data-dir}/raft-engine).
	RaftEngineDir string
	// RaftDBPath is raftstore.raftdb-path (default {data-dir}/raft).
	RaftDBPath string
	// LogFile is log.file.filename, or the legacy top-level log-file.
	LogFile string
	// StatusAddr is server.status-addr (default 127.0.0.1:20180).
	StatusAddr string

	// masterKeyTables records which of master-key / previous-master-key had a table.
	masterKeyTables map[string]bool
	problems        []tikv.Problem // found while reading (types, unknown keys)
	positions       map[string]int // key path → byte offset
	doc             *tomlDoc
}

// ParseConfig reads a tikv.toml. path is used in messages only. A TOML syntax
// error is returned with file, line, column and key (and wraps
// *toml.DecodeError); wrong value types and unknown encryption keys are not
// errors here but Problems reported by Validate.
func ParseConfig(path string, data []byte) (*Config, error) {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, col := de.Position()
			key := strings.Join(de.Key(), ".")
			if key == "" {
				key = "(none)"
			}
			return nil, fmt.Errorf("%s:%d:%d: key %s: %w; fix the TOML syntax at that position", path, line, col, key, err)
		}
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	doc, err := parseTOMLDoc(data)
	if err != nil {
		// go-toml's decoder accepted it, so this is unexpected; keep going without positions.
		doc = &tomlDoc{data: data}
	}
	c := &Config{Path: path, TiUP: tikv.DetectTiUP(data), doc: doc, positions: doc.keyPositions(), masterKeyTables: map[string]bool{}}
	r := reader{c: c}
	c.DataDir = r.str(raw, "storage.data-dir")
	c.RaftEngineEnable = r.boolPtr(raw, "raft-engine.enable")
	c.RaftEngineDir = r.str(raw, "raft-engine.dir")
	c.RaftDBPath = r.str(raw, "raftstore.raftdb-path")
	c.LogFile = r.str(raw, "log.file.filename")
	if c.LogFile == "" {
		c.LogFile = r.str(raw, "log-file")
	}
	c.StatusAddr = r.str(raw, "server.status-addr")
	if v, ok := lookup(raw, tikv.KeyEncryption); ok {
		if m, ok := v.(map[string]any); ok {
			c.Encryption = r.encryption(m)
		} else {
			r.typeProblem(tikv.KeyEncryption, "a table", v)
		}
	}
	return c, nil
}

// Position returns the 1-based line and column where key (a dotted path) is
// written in the file; ok is false when the key is not in the file.
func (c *Config) Position(key string) (line, col int, ok bool) {
	off, ok := c.positions[key]
	if !ok || c.doc == nil {
		return 0, 0, false
	}
	line, col = c.doc.position(off)
	return line, col, true
}

// Validate applies TiKV's rules for the given TiKV version ("" skips the
// version gates) to the whole file: value types and unknown keys found while
// reading, Encryption.Validate, and file-wide rules (the Raft Engine gate).
// Every problem carries the file, and the line and column of its key (or of
// the nearest enclosing table when the key is missing).
func (c *Config) Validate(version string) []tikv.Problem {
	out := append([]tikv.Problem(nil), c.problems...)
	out = append(out, c.Encryption.Validate(version)...)
	if c.Encryption.MasterKey.Type == "" && c.masterKeyTables[tikv.KeyMasterKey] {
		out = append(out, tikv.Problem{Key: tikv.KeyMasterKey + ".type", Message: "master-key table has no type (TiKV fails with missing field `type`)", Fix: `add type = "file" or type = "kms"`})
	}
	if c.Encryption.PreviousMasterKey.Type == "" && c.masterKeyTables[tikv.KeyPreviousMasterKey] {
		out = append(out, tikv.Problem{Key: tikv.KeyPreviousMasterKey + ".type", Message: "previous-master-key table has no type (TiKV fails with missing field `type`)", Fix: `add type = "file" or type = "kms"`})
	}
	if v, err := tikv.ParseVersion(version); err == nil && strings.ToLower(c.Encryption.EffectiveMethod()) != tikv.MethodPlaintext {
		raftEngine := v.AtLeast(tikv.MustVersion(tikv.GateRaftEngineDefault))
		if c.RaftEngineEnable != nil {
			raftEngine = *c.RaftEngineEnable
		}
		if raftEngine && v.AtLeast(tikv.MustVersion(tikv.GateRaftEngineEncrypted)) && v.Less(tikv.MustVersion(tikv.GateRaftEngineFix)) {
			out = append(out, tikv.Problem{
				Key:     tikv.KeyMethod,
				Message: fmt.Sprintf("on %s a node whose Raft Engine already holds plaintext files crashes at startup with %q (tikv/tikv#12162, #12919)", v, tikv.ErrRaftEngineNonce),
				Fix:     "upgrade TiKV to v6.2.0 or later before enabling encryption",
			})
		}
	}
	for i := range out {
		c.locate(&out[i])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Column < out[j].Column
	})
	return out
}

// locate fills File, Line and Column from the key (or its nearest written ancestor).
func (c *Config) locate(p *tikv.Problem) {
	p.File = c.Path
	if p.Line > 0 || c.doc == nil {
		return
	}
	k := p.Key
	for k != "" {
		if off, ok := c.positions[k]; ok {
			p.Line, p.Column = c.doc.position(off)
			return
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return
		}
		k = k[:i]
	}
}

// lookup follows a dotted path through nested tables.
func lookup(m map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts {
		t, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = t[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// reader converts decoded TOML values into the model, recording type
// problems and unknown keys.
type reader struct{ c *Config }

func (r reader) problem(key, msg, fix string) {
	r.c.problems = append(r.c.problems, tikv.Problem{Key: key, Message: msg, Fix: fix})
}

func (r reader) typeProblem(key, want string, v any) {
	r.problem(key, fmt.Sprintf("must be %s, not %s", want, tomlTypeName(v)), "write it as "+want)
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case map[string]any:
		return "a table"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

func (r reader) str(m map[string]any, path string) string {
	v, ok := lookup(m, path)
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.typeProblem(path, "a string", v)
	}
	return s
}

func (r reader) boolPtr(m map[string]any, path string) *bool {
	v, ok := lookup(m, path)
	if !ok {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		r.typeProblem(path, "true or false", v)
		return nil
	}
	return &b
}

// field reads one string field of a table.
func (r reader) field(m map[string]any, base, key string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.typeProblem(base+"."+key, "a string", v)
	}
	return s
}

// unknown reports keys of table m (at base) that are not in known.
func (r reader) unknown(m map[string]any, base string, known ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(known, k) {
			continue
		}
		fix := "remove it; known keys here: " + strings.Join(known, ", ")
		if kebab := strings.ReplaceAll(k, "_", "-"); kebab != k && slices.Contains(known, kebab) {
			fix = fmt.Sprintf("rename it to %s (TiKV's config keys are kebab-case)", kebab)
		} else if lower := strings.ToLower(k); lower != k && slices.Contains(known, lower) {
			fix = fmt.Sprintf("rename it to %s (keys are case-sensitive)", lower)
		}
		r.problem(base+"."+k, "unknown key: TiKV does not read it", fix)
	}
}

func (r reader) table(m map[string]any, base, key string) (map[string]any, bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	t, ok := v.(map[string]any)
	if !ok {
		r.typeProblem(base+"."+key, "a table", v)
		return nil, false
	}
	return t, true
}

func (r reader) encryption(m map[string]any) tikv.Encryption {
	var e tikv.Encryption
	r.unknown(m, tikv.KeyEncryption, "data-encryption-method", "data-key-rotation-period", "enable-file-dictionary-log",
		"file-dictionary-rewrite-threshold", "master-key", "previous-master-key")
	e.Method = r.field(m, tikv.KeyEncryption, "data-encryption-method")
	e.DataKeyRotationPeriod = r.field(m, tikv.KeyEncryption, "data-key-rotation-period")
	if v, ok := m["enable-file-dictionary-log"]; ok {
		if b, ok := v.(bool); ok {
			e.EnableFileDictionaryLog = &b
		} else {
			r.typeProblem(tikv.KeyFileDictLog, "true or false", v)
		}
	}
	if v, ok := m["file-dictionary-rewrite-threshold"]; ok {
		if n, ok := v.(int64); ok && n >= 0 {
			u := uint64(n)
			e.FileDictionaryRewriteThreshold = &u
		} else {
			r.typeProblem(tikv.KeyRewriteThreshold, "a non-negative integer", v)
		}
	}
	if t, ok := r.table(m, tikv.KeyEncryption, "master-key"); ok {
		r.c.masterKeyTables[tikv.KeyMasterKey] = true
		e.MasterKey = r.masterKey(t, tikv.KeyMasterKey)
	}
	if t, ok := r.table(m, tikv.KeyEncryption, "previous-master-key"); ok {
		r.c.masterKeyTables[tikv.KeyPreviousMasterKey] = true
		e.PreviousMasterKey = r.masterKey(t, tikv.KeyPreviousMasterKey)
	}
	return e
}

func (r reader) masterKey(m map[string]any, base string) tikv.MasterKey {
	var k tikv.MasterKey
	r.unknown(m, base, "type", "path", "key-id", "region", "endpoint", "vendor", "aws", "azure", "gcp")
	k.Type = r.field(m, base, "type")
	k.Path = r.field(m, base, "path")
	k.KeyID = r.field(m, base, "key-id")
	k.Region = r.field(m, base, "region")
	k.Endpoint = r.field(m, base, "endpoint")
	k.Vendor = r.field(m, base, "vendor")
	if t, ok := r.table(m, base, "aws"); ok {
		b := base + ".aws"
		r.unknown(t, b, "access-key", "secret-access-key")
		k.AWS = &tikv.AWSKMS{AccessKey: r.field(t, b, "access-key"), SecretAccessKey: r.field(t, b, "secret-access-key")}
	}
	if t, ok := r.table(m, base, "azure"); ok {
		b := base + ".azure"
		r.unknown(t, b, "tenant-id", "client-id", "keyvault-url", "hsm-name", "hsm-url", "client-certificate",
			"client-certificate-path", "client-certificate-password", "client-secret")
		k.Azure = &tikv.AzureKMS{
			TenantID:                  r.field(t, b, "tenant-id"),
			ClientID:                  r.field(t, b, "client-id"),
			KeyvaultURL:               r.field(t, b, "keyvault-url"),
			HSMName:                   r.field(t, b, "hsm-name"),
			HSMURL:                    r.field(t, b, "hsm-url"),
			ClientCertificate:         r.field(t, b, "client-certificate"),
			ClientCertificatePath:     r.field(t, b, "client-certificate-path"),
			ClientCertificatePassword: r.field(t, b, "client-certificate-password"),
			ClientSecret:              r.field(t, b, "client-secret"),
		}
	}
	if t, ok := r.table(m, base, "gcp"); ok {
		b := base + ".gcp"
		r.unknown(t, b, "credential-file-path")
		k.GCP = &tikv.GCPKMS{CredentialFilePath: r.field(t, b, "credential-file-path")}
	}
	return k
}
