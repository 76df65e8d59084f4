package tikvconf

import (
	"errors"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// upstreamFile reads testdata/upstream/<name> (an upstream file copied with
// its licence header) without the header.
func upstreamFile(t testing.TB, name string) []byte { return corpus.Read(t, "upstream", name) }

func problemsFor(ps []tikv.Problem, key string) []tikv.Problem {
	var out []tikv.Problem
	for _, p := range ps {
		if p.Key == key {
			out = append(out, p)
		}
	}
	return out
}

func TestParseConfigTemplateDefaults(t *testing.T) {
	data := upstreamFile(t, "config-template.toml")
	c, err := ParseConfig("tikv.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if c.TiUP {
		t.Error("template detected as TiUP-rendered")
	}
	if c.Encryption.EffectiveMethod() != tikv.MethodPlaintext || c.Encryption.MasterKey.Type != "" {
		t.Errorf("template encryption = %+v, want all defaults", c.Encryption)
	}
	if ps := c.Validate("v8.5.2"); len(ps) != 0 {
		t.Errorf("template problems: %v", ps)
	}
}

func TestParseConfigTiUPSample(t *testing.T) {
	data := corpusFile(t, "synthetic/tikv-toml", "tiup-rendered-plaintext.toml")
	if !tikv.DetectTiUP(data) {
		t.Fatal("TiUP header not detected")
	}
	c, err := ParseConfig("tikv.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	if !c.TiUP || c.Encryption.Method != "" {
		t.Errorf("got TiUP=%v method=%q", c.TiUP, c.Encryption.Method)
	}
	if tikv.DetectTiUP([]byte("# hello\n" + tikv.TiUPHeader + "\n")) {
		t.Error("header on line 2 detected")
	}
}

const fileKeyConfig = `[storage]
data-dir = "/data/tikv-20160"

[server]
status-addr = "10.0.0.1:20180"

[raft-engine]
enable = true
dir = "/raft"

[raftstore]
raftdb-path = "/raftdb"

[log.file]
filename = "/log/tikv.log"

[security.encryption]
data-encryption-method = "aes256-ctr"
data-key-rotation-period = "1d12h"
enable-file-dictionary-log = true
file-dictionary-rewrite-threshold = 500

[security.encryption.master-key]
type = "file"
path = "/secure/master.key"

[security.encryption.previous-master-key]
type = "kms"
key-id = "1234abcd"
region = "us-west-2"
`

func TestParseConfigModel(t *testing.T) {
	c, err := ParseConfig("tikv.toml", []byte(fileKeyConfig))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Encryption
	if e.Method != tikv.MethodAES256CTR || e.DataKeyRotationPeriod != "1d12h" || e.EnableFileDictionaryLog == nil || !*e.EnableFileDictionaryLog ||
		e.FileDictionaryRewriteThreshold == nil || *e.FileDictionaryRewriteThreshold != 500 {
		t.Errorf("encryption = %+v", e)
	}
	if e.MasterKey != (tikv.MasterKey{Type: "file", Path: "/secure/master.key"}) {
		t.Errorf("master key = %+v", e.MasterKey)
	}
	if e.PreviousMasterKey.Type != "kms" || e.PreviousMasterKey.KeyID != "1234abcd" || e.PreviousMasterKey.Region != "us-west-2" {
		t.Errorf("previous = %+v", e.PreviousMasterKey)
	}
	if c.DataDir != "/data/tikv-20160" || c.StatusAddr != "10.0.0.1:20180" || c.RaftEngineEnable == nil || !*c.RaftEngineEnable ||
		c.RaftEngineDir != "/raft" || c.RaftDBPath != "/raftdb" || c.LogFile != "/log/tikv.log" {
		t.Errorf("config = %+v", c)
	}
	if ps := c.Validate("v8.5.2"); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
	line, col, ok := c.Position("security.encryption.master-key.path")
	if !ok || line != 25 || col != 1 {
		t.Errorf("position = %d:%d %v, want 25:1", line, col, ok)
	}
}

func TestParseConfigSyntaxErrorPosition(t *testing.T) {
	data := []byte("[security.encryption]\ndata-encryption-method = \"aes256-ctr\n")
	_, err := ParseConfig("/etc/tikv.toml", data)
	if err == nil {
		t.Fatal("no error")
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v does not wrap *toml.DecodeError", err)
	}
	if !strings.HasPrefix(err.Error(), "/etc/tikv.toml:2:") || !strings.Contains(err.Error(), "key") {
		t.Errorf("error = %q, want file:line:col and key", err)
	}
	_, err = ParseConfig("x.toml", []byte("[a]\nb = 1\nb = 2\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "x.toml:3:") {
		t.Errorf("duplicate key error = %v", err)
	}
}

func TestValidateRules(t *testing.T) {
	cases := []struct {
		name, toml, version, key, want string
		sev                            tikv.Severity
	}{
		{"bad method", `[security.encryption]
data-encryption-method = "aes512-ctr"`, "", tikv.KeyMethod, tikv.ErrInvalidMethod, tikv.SeverityError},
		{"uppercase method ok", `[security.encryption]
data-encryption-method = "AES256-CTR"
[security.encryption.master-key]
type = "file"
path = "/k"`, "", "", "", 0},
		{"plaintext master key", `[security.encryption]
data-encryption-method = "aes128-ctr"`, "", tikv.KeyMasterKey + ".type", tikv.ErrInsecureMasterKey, tikv.SeverityError},
		{"empty key id", `[security.encryption.master-key]
type = "kms"
region = "us-east-1"`, "", tikv.KeyMasterKey + ".key-id", tikv.ErrKeyIDEmpty, tikv.SeverityError},
		{"vendor case", `[security.encryption.master-key]
type = "kms"
key-id = "k"
vendor = "AWS"`, "", tikv.KeyMasterKey + ".vendor", tikv.ErrProviderNotFoundPrefix + "AWS", tikv.SeverityError},
		{"gcp key id", `[security.encryption.master-key]
type = "kms"
key-id = "my-key"
vendor = "gcp"
[security.encryption.master-key.gcp]
credential-file-path = "/c.json"`, "v8.5.0", tikv.KeyMasterKey + ".key-id", "invalid key: 'my-key'", tikv.SeverityError},
		{"gcp old version", `[security.encryption.master-key]
type = "kms"
key-id = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
vendor = "gcp"
[security.encryption.master-key.gcp]`, "v7.5.0", tikv.KeyMasterKey + ".vendor", "GCP KMS exists only from v8.0.0", tikv.SeverityError},
		{"gcp without table", `[security.encryption.master-key]
type = "kms"
key-id = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
vendor = "gcp"`, "v8.5.0", tikv.KeyMasterKey + ".gcp", tikv.ErrGCPInvalid, tikv.SeverityError},
		{"azure no credential", `[security.encryption.master-key]
type = "kms"
key-id = "k"
vendor = "azure"
[security.encryption.master-key.azure]
tenant-id = "t"`, "v8.1.0", tikv.KeyMasterKey + ".azure", tikv.ErrAzureInvalid, tikv.SeverityError},
		{"azure snake case from the docs", `[security.encryption.master-key]
type = "kms"
key-id = "k"
vendor = "azure"
[security.encryption.master-key.azure]
tenant-id = "t"
client_secret = "s"`, "v8.1.0", tikv.KeyMasterKey + ".azure.client_secret", "unknown key", tikv.SeverityError},
		{"azure before 7.2", `[security.encryption.master-key]
type = "kms"
key-id = "k"
vendor = "azure"
[security.encryption.master-key.azure]
client-secret = "s"`, "v7.1.6", tikv.KeyMasterKey + ".vendor", "Azure KMS exists only from v7.2.0", tikv.SeverityError},
		{"aws table before 8.4", `[security.encryption.master-key]
type = "kms"
key-id = "k"
[security.encryption.master-key.aws]
access-key = "a"`, "v8.1.2", tikv.KeyMasterKey + ".aws", "v8.4.0", tikv.SeverityError},
		{"sm4 before code", `[security.encryption]
data-encryption-method = "sm4-ctr"
[security.encryption.master-key]
type = "file"
path = "/k"`, "v6.1.0", tikv.KeyMethod, "not available before v6.2.0", tikv.SeverityError},
		{"sm4 docs gate", `[security.encryption]
data-encryption-method = "sm4-ctr"
[security.encryption.master-key]
type = "file"
path = "/k"`, "v6.2.0", tikv.KeyMethod, "documented as supported only from v6.3.0", tikv.SeverityWarning},
		{"duration", `[security.encryption]
data-key-rotation-period = "7days"`, "", tikv.KeyRotationPeriod, tikv.ErrDurationParse, tikv.SeverityError},
		{"duration order", `[security.encryption]
data-key-rotation-period = "12h1d"`, "", tikv.KeyRotationPeriod, tikv.ErrDurationOrder, tikv.SeverityError},
		{"wrong type", `[security.encryption]
enable-file-dictionary-log = "yes"`, "", tikv.KeyFileDictLog, "must be true or false", tikv.SeverityError},
		{"unknown type", `[security.encryption.master-key]
type = "File"`, "", tikv.KeyMasterKey + ".type", `unknown master-key type "File"`, tikv.SeverityError},
		{"missing type", `[security.encryption.master-key]
path = "/k"`, "", tikv.KeyMasterKey + ".type", "no type", tikv.SeverityError},
		{"kms to kms bug", `[security.encryption.master-key]
type = "kms"
key-id = "new"
[security.encryption.previous-master-key]
type = "kms"
key-id = "old"`, "v7.5.3", tikv.KeyPreviousMasterKey, "tikv/tikv#17410", tikv.SeverityWarning},
		{"kms vendor change", `[security.encryption.master-key]
type = "kms"
key-id = "new"
vendor = "azure"
[security.encryption.master-key.azure]
client-secret = "s"
[security.encryption.previous-master-key]
type = "kms"
key-id = "old"`, "v8.5.0", tikv.KeyPreviousMasterKey + ".vendor", "vendor mismatch", tikv.SeverityError},
		{"raft engine gate", `[security.encryption]
data-encryption-method = "aes256-ctr"
[security.encryption.master-key]
type = "file"
path = "/k"`, "v6.1.7", tikv.KeyMethod, tikv.ErrRaftEngineNonce, tikv.SeverityError},
		{"unknown encryption key", `[security.encryption]
data_encryption_method = "aes256-ctr"`, "", tikv.KeyEncryption + ".data_encryption_method", "unknown key", tikv.SeverityError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("tikv.toml", []byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			ps := c.Validate(tc.version)
			if tc.key == "" {
				for _, p := range ps {
					if p.Severity == tikv.SeverityError {
						t.Errorf("unexpected error: %v", p)
					}
				}
				return
			}
			found := false
			for _, p := range problemsFor(ps, tc.key) {
				if strings.Contains(p.Message, tc.want) && p.Severity == tc.sev {
					found = true
					if p.File != "tikv.toml" || p.Line == 0 || p.Fix == "" {
						t.Errorf("problem lacks position or fix: %+v", p)
					}
				}
			}
			if !found {
				t.Errorf("no %v problem %q on %s in %v", tc.sev, tc.want, tc.key, ps)
			}
		})
	}
}

func TestUnknownKeyFixSuggestsKebabCase(t *testing.T) {
	c, err := ParseConfig("tikv.toml", []byte("[security.encryption.master-key.azure]\nclient_certificate_path = \"/c\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ps := problemsFor(c.Validate(""), tikv.KeyMasterKey+".azure.client_certificate_path")
	if len(ps) != 1 || !strings.Contains(ps[0].Fix, "client-certificate-path") || ps[0].Line != 2 {
		t.Fatalf("problems = %v", ps)
	}
	if got := ps[0].Error(); !strings.HasPrefix(got, "tikv.toml:2:1: error: security.encryption.master-key.azure.client_certificate_path: unknown key") {
		t.Errorf("Error() = %q", got)
	}
}
