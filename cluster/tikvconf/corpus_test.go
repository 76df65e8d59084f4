package tikvconf

import (
	"slices"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/internal/corpus"
)

// corpusFile reads testdata/<dir>/<name> without its provenance header.
func corpusFile(t testing.TB, dir, name string) []byte { return corpus.Read(t, dir, name) }

// TestCorpusTiKVToml parses every tikv.toml of testdata/synthetic/tikv-toml and checks
// what tikv-ear reads and which of TiKV's rules it reports, for the version
// given.
func TestCorpusTiKVToml(t *testing.T) {
	// errKeys and warnKeys are the keys of Validate's errors and warnings, in order.
	type want struct {
		version           string
		method, keyType   string
		errKeys, warnKeys []string
		tiup              bool
	}
	const mk, method = tikv.KeyMasterKey, tikv.KeyMethod
	cases := map[string]want{
		"tiup-rendered-plaintext.toml":   {version: "v8.5.2", method: tikv.MethodPlaintext, keyType: tikv.MasterKeyPlaintext, tiup: true},
		"file-key-aes256.toml":           {version: "v8.5.2", method: tikv.MethodAES256CTR, keyType: tikv.MasterKeyFile},
		"kms-aws-v84-table.toml":         {version: "v8.5.2", method: tikv.MethodAES256CTR, keyType: tikv.MasterKeyKMS},
		"kms-azure.toml":                 {version: "v8.5.2", method: tikv.MethodAES256CTR, keyType: tikv.MasterKeyKMS},
		"kms-azure-snake-case-docs.toml": {version: "v8.5.2", method: tikv.MethodAES256CTR, keyType: tikv.MasterKeyKMS, errKeys: []string{mk + ".azure", mk + ".azure.client_secret"}},
		"kms-gcp.toml":                   {version: "v8.5.2", method: tikv.MethodAES256CTR, keyType: tikv.MasterKeyKMS, warnKeys: []string{mk + ".vendor"}},
		"rotation-file-to-file.toml":     {version: "v7.5.0", method: tikv.MethodAES128CTR, keyType: tikv.MasterKeyFile},
		"master-key-without-type.toml":   {version: "v8.5.2", method: tikv.MethodAES256CTR, keyType: tikv.MasterKeyPlaintext, errKeys: []string{mk + ".type", mk + ".type"}, warnKeys: []string{mk + ".type"}},
		"cipher-with-plaintext-key.toml": {version: "v8.5.2", method: tikv.MethodAES192CTR, keyType: tikv.MasterKeyPlaintext, errKeys: []string{mk + ".type"}},
		"sm4-file-key.toml":              {version: "v8.5.2", method: tikv.MethodSM4CTR, keyType: tikv.MasterKeyFile, warnKeys: []string{method}},
		"bad-method.toml":                {version: "v8.5.2", method: "aes512-ctr", keyType: tikv.MasterKeyFile, errKeys: []string{method}},
		"inline-tables-raft-engine.toml": {version: "v6.1.7", method: tikv.MethodAES128CTR, keyType: tikv.MasterKeyFile, errKeys: []string{method}},
		"disable-keep-key.toml":          {version: "v8.5.2", method: tikv.MethodPlaintext, keyType: tikv.MasterKeyFile},
	}
	var covered []string
	for n := range cases {
		covered = append(covered, n)
	}
	corpus.RequireCases(t, "synthetic/tikv-toml", "*.toml", covered)
	names := corpus.Names(t, "synthetic/tikv-toml", "*.toml")
	for _, n := range names {
		w := cases[n]
		t.Run(n, func(t *testing.T) {
			data := corpusFile(t, "synthetic/tikv-toml", n)
			c, err := ParseConfig(n, data)
			if err != nil {
				t.Fatal(err)
			}
			var errs, warns []string
			for _, p := range c.Validate(w.version) {
				if p.File != n || p.Message == "" {
					t.Errorf("problem without file or message: %+v", p)
				}
				if p.Severity == tikv.SeverityError {
					errs = append(errs, p.Key)
				} else {
					warns = append(warns, p.Key)
				}
			}
			if got := c.Encryption.EffectiveMethod(); got != w.method {
				t.Errorf("method %q, want %q", got, w.method)
			}
			if got := c.Encryption.MasterKey.EffectiveType(); got != w.keyType {
				t.Errorf("master key type %q, want %q", got, w.keyType)
			}
			if c.TiUP != w.tiup || tikv.DetectTiUP(data) != w.tiup {
				t.Errorf("TiUP %v, want %v", c.TiUP, w.tiup)
			}
			if !slices.Equal(errs, w.errKeys) || !slices.Equal(warns, w.warnKeys) {
				t.Errorf("errors %v warnings %v; want %v %v", errs, warns, w.errKeys, w.warnKeys)
			}
		})
	}
}
