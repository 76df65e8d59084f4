package node

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pingcap/kvproto/pkg/encryptionpb"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// lineRE is the unified log format (pd-and-tiup.md §4).
var lineRE = regexp.MustCompile(`^\[\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \+00:00\] \[(FATAL|ERROR|WARN|INFO|DEBUG)\] \[[a-z_]+\.rs:\d+\] \[("(?:[^"\\]|\\.)*"|[^\s"=\[\]]+)\]( \[[^\]=]+=[^\]]*\])* \[thread_id=\d+\]$`)

func checkLines(t *testing.T, text string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l != "" && !lineRE.MatchString(l) {
			t.Errorf("not a unified log line: %s", l)
		}
	}
}

func TestStartupMatrix(t *testing.T) {
	const gcpKeyOK = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
	cases := []struct {
		name, version string
		sm4           bool
		config        func(e *env) string
		want          string // substring of tikv.log (FATAL) or stderr when stderr is set
		code          string
		stderrOnly    bool
	}{
		{name: "bad method", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes257-ctr\"\n"
		}, want: tikv.ErrInvalidMethod, stderrOnly: true},
		{name: "bad rotation period", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-key-rotation-period = \"7x\"\n"
		}, want: tikv.ErrDurationParse, stderrOnly: true},
		{name: "sm4 before 6.2", version: "6.1.2", config: func(e *env) string {
			p, _ := e.newKey("k")
			return fileKeyConfig("sm4-ctr", p)
		}, want: tikv.ErrInvalidMethod, stderrOnly: true},
		{name: "key file missing", version: "8.5.2", config: func(e *env) string {
			return fileKeyConfig("aes256-ctr", filepath.Join(e.dir, "absent"))
		}, want: "IO error No such file or directory (os error 2)", code: tikv.CodeIO},
		{name: "key file without newline is 64 bytes", version: "8.5.2", config: func(e *env) string {
			p := filepath.Join(e.dir, "k64")
			os.WriteFile(p, bytes.Repeat([]byte("a"), 64), 0o400)
			return fileKeyConfig("aes256-ctr", p)
		}, want: "mismatch master key file size, expected 65, actual 64.", code: tikv.CodeUnknown},
		{name: "key file no trailing LF", version: "8.5.2", config: func(e *env) string {
			p := filepath.Join(e.dir, "k65")
			os.WriteFile(p, append(bytes.Repeat([]byte("a"), 64), 'x'), 0o400)
			return fileKeyConfig("aes256-ctr", p)
		}, want: tikv.ErrKeyFileNoNewline, code: tikv.CodeUnknown},
		{name: "key file bad hex", version: "8.5.2", config: func(e *env) string {
			p := filepath.Join(e.dir, "khex")
			os.WriteFile(p, append(bytes.Repeat([]byte("g"), 64), '\n'), 0o400)
			return fileKeyConfig("aes256-ctr", p)
		}, want: tikv.ErrKeyFileDecodePrefix + "Invalid character 'g' at position 0", code: tikv.CodeUnknown},
		{name: "method with plaintext master key", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes128-ctr\"\n"
		}, want: tikv.ErrInsecureMasterKey, code: tikv.CodeUnknown},
		{name: "unknown vendor", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"k\"\nvendor = \"AWS\"\n"
		}, want: "provider not found AWS", code: tikv.CodeUnknown},
		{name: "empty key id", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nvendor = \"aws\"\n"
		}, want: tikv.ErrKeyIDEmpty, code: tikv.CodeUnknown},
		{name: "azure without table", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"k\"\nvendor = \"azure\"\n"
		}, want: "Other error [components/encryption/export/src/lib.rs:67]: " + tikv.ErrAzureInvalid, code: tikv.CodeUnknown},
		{name: "azure without credential", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"k\"\nvendor = \"azure\"\n[security.encryption.master-key.azure]\ntenant-id = \"t\"\nclient-id = \"c\"\n"
		}, want: "Cloud KMS error Key error: Kms error [components/cloud/azure/src/kms.rs:141]: " + tikv.ErrAzureInvalid + " new Azure KMS", code: tikv.CodeCloudUnknown},
		{name: "azure before 7.2", version: "7.1.6", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"k\"\nvendor = \"azure\"\n[security.encryption.master-key.azure]\nclient-secret = \"s\"\n"
		}, want: "provider not found azure", code: tikv.CodeUnknown},
		{name: "gcp without table", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"" + gcpKeyOK + "\"\nvendor = \"gcp\"\n"
		}, want: "Other error [components/encryption/export/src/lib.rs:80]: " + tikv.ErrGCPInvalid, code: tikv.CodeUnknown},
		{name: "gcp bad key id", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"bad\"\nvendor = \"gcp\"\n[security.encryption.master-key.gcp]\ncredential-file-path = \"/x\"\n"
		}, want: "invalid key: 'bad'", code: tikv.CodeCloudUnknown},
		{name: "gcp credential file missing", version: "8.5.2", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"" + gcpKeyOK + "\"\nvendor = \"gcp\"\n[security.encryption.master-key.gcp]\ncredential-file-path = \"/x\"\n"
		}, want: "Cloud KMS error IO error No such file or directory (os error 2) new GCP KMS", code: tikv.CodeCloudUnknown},
		{name: "gcp before 8.0", version: "7.5.4", config: func(*env) string {
			return "[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\n[security.encryption.master-key]\ntype = \"kms\"\nkey-id = \"" + gcpKeyOK + "\"\nvendor = \"gcp\"\n[security.encryption.master-key.gcp]\ncredential-file-path = \"/x\"\n"
		}, want: "provider not found gcp", code: tikv.CodeUnknown},
		{name: "sm4 without the sm4 build", version: "8.5.2", config: func(e *env) string {
			p, _ := e.newKey("k")
			return fileKeyConfig("sm4-ctr", p)
		}, want: tikv.ErrSM4Dynamic},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.version, 1)
			e.spec.SM4Build = c.sm4
			e.rebuild()
			e.writeConfig(c.config(e))
			err := e.node.Start(t.Context())
			if err == nil {
				t.Fatalf("start succeeded, want failure with %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if e.node.Running() || listening(e.spec.StatusAddr) || listening(e.spec.Addr) {
				t.Error("a failed start must leave nothing listening")
			}
			log, stderr := e.logText(), e.stderrText()
			if !strings.Contains(stderr, c.want) {
				t.Errorf("tikv_stderr.log lacks %q:\n%s", c.want, stderr)
			}
			if c.stderrOnly {
				if strings.Contains(log, c.want) {
					t.Errorf("a config parse error happens before the logger exists; tikv.log has it:\n%s", log)
				}
				return
			}
			checkLines(t, log)
			if !strings.Contains(log, "[FATAL]") || !strings.Contains(log, c.want) {
				t.Fatalf("tikv.log lacks a FATAL with %q:\n%s", c.want, log)
			}
			if c.code != "" && !strings.Contains(log, tikvlog.MsgEncryptionInitFailed.Text) {
				t.Errorf("missing %q line:\n%s", tikvlog.MsgEncryptionInitFailed.Text, log)
			}
			if c.code != "" && !strings.Contains(log, ". code: "+c.code+`"]`) {
				t.Errorf("FATAL line lacks code %s:\n%s", c.code, log)
			}
		})
	}
}

func TestKeyFileMissingLogsAccessErrorTwice(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	e.writeConfig(fileKeyConfig("aes256-ctr", filepath.Join(e.dir, "absent")))
	if e.node.Start(t.Context()) == nil {
		t.Fatal("start succeeded without a key file")
	}
	want := `.rs:` // line numbers are not facts; match level, file and message
	re := regexp.MustCompile(`\[ERROR\] \[lib\.rs:\d+\] \["failed to access master key, IO error No such file or directory \(os error 2\)"\]`)
	if got := len(re.FindAllString(e.logText(), -1)); got != 2 || !strings.Contains(e.logText(), want) {
		t.Fatalf("%d access errors, want 2 (create_backend and data_key_manager_from_config):\n%s", got, e.logText())
	}
	want = `["Encryption failed to initialize: IO error No such file or directory (os error 2). code: KV:Encryption:Io"]`
	if !strings.Contains(e.logText(), want) {
		t.Fatalf("missing %s", want)
	}
}

func TestPlaintextStartIsDisabled(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	e.writeConfig("# plaintext\n")
	e.mustStart()
	if !strings.Contains(e.logText(), `["encryption: none of key dictionary and file dictionary are found."]`) ||
		!strings.Contains(e.logText(), `["encryption is disabled."]`) {
		t.Fatalf("log:\n%s", e.logText())
	}
	if _, err := os.Stat(filepath.Join(e.spec.DataDir, "key.dict")); err == nil {
		t.Fatal("plaintext start wrote key.dict")
	}
	for _, p := range listFiles(filepath.Join(e.spec.DataDir, "db"), ".sst") {
		b, _ := os.ReadFile(p)
		if binary.LittleEndian.Uint64(b[len(b)-8:]) != tikv.SSTMagic {
			t.Fatalf("plaintext SST %s lacks the block-based magic", p)
		}
	}
	for _, p := range listFiles(filepath.Join(e.spec.DataDir, "raft-engine"), ".raftlog") {
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte(tikv.RaftLogHeader)) {
			t.Fatalf("plaintext raft log %s lacks its header", p)
		}
	}
	if got := metricValue(t, e, tikv.MetricIsInitialized, ""); got != 0 {
		t.Fatalf("is_initialized %v without a manager", got)
	}
}

func metricValue(t *testing.T, e *env, name, typ string) float64 {
	t.Helper()
	code, body := e.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics status %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing:\n%s", name, body)
	}
	for _, m := range f.Metric {
		match := typ == ""
		for _, l := range m.Label {
			if l.GetName() == "type" && l.GetValue() == typ {
				match = true
			}
		}
		if match {
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("no %s{type=%q}", name, typ)
	return 0
}

func TestFileKeyEnableRestartAndFormats(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	keyPath, key := e.newKey("master.key")
	e.writeConfig(fileKeyConfig("AES256-CTR", keyPath)) // case-insensitive
	e.mustStart()
	log := e.logText()
	for _, want := range []string{
		`["encryption: none of key dictionary and file dictionary are found."]`,
		`["encryption is being enabled. method = Aes256Ctr"]`,
		`["encryption: rotate data key."] [key_id=`,
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %s:\n%s", want, log)
		}
	}
	checkLines(t, log)
	if !listening(e.spec.Addr) || !listening(e.spec.StatusAddr) {
		t.Fatal("running node does not listen")
	}

	ec, kd := readKeyDict(t, e.spec.DataDir, key)
	if len(ec.Metadata["kms_vendor"]) != 0 {
		t.Fatal("file key wrote kms_vendor")
	}
	if len(kd.Keys) != 1 || kd.CurrentKeyId == 0 {
		t.Fatalf("key dictionary %d keys, current %d", len(kd.Keys), kd.CurrentKeyId)
	}
	cur := kd.Keys[kd.CurrentKeyId]
	if cur.Method != encryptionpb.EncryptionMethod_AES256_CTR || len(cur.Key) != 32 || cur.WasExposed {
		t.Fatalf("current data key %v len %d exposed %v", cur.Method, len(cur.Key), cur.WasExposed)
	}
	v, files := readFileDict(t, e.spec.DataDir)
	if v != 2 {
		t.Fatalf("file.dict version %d, want 2", v)
	}
	ssts := listFiles(filepath.Join(e.spec.DataDir, "db"), ".sst")
	if len(ssts) == 0 {
		t.Fatal("no SSTs")
	}
	for _, p := range append(ssts, listFiles(filepath.Join(e.spec.DataDir, "raft-engine"), ".raftlog")...) {
		info := files[p]
		if info == nil || info.Method != encryptionpb.EncryptionMethod_AES256_CTR || len(info.Iv) != 16 {
			t.Fatalf("%s not tracked as AES256_CTR: %v", p, info)
		}
		raw, _ := os.ReadFile(p)
		block, _ := aes.NewCipher(kd.Keys[info.KeyId].Key)
		plain := make([]byte, len(raw))
		cipher.NewCTR(block, info.Iv).XORKeyStream(plain, raw)
		if strings.HasSuffix(p, ".sst") {
			if binary.LittleEndian.Uint64(raw[len(raw)-8:]) == tikv.SSTMagic {
				t.Fatalf("encrypted SST %s ends with the plaintext magic", p)
			}
			if binary.LittleEndian.Uint64(plain[len(plain)-8:]) != tikv.SSTMagic {
				t.Fatalf("SST %s does not decrypt back to the magic", p)
			}
		} else if bytes.HasPrefix(raw, []byte(tikv.RaftLogHeader)) || !bytes.HasPrefix(plain, []byte(tikv.RaftLogHeader)) {
			t.Fatalf("raft log %s: encrypted must hide the header and decrypt back to it", p)
		}
	}
	cur0, _ := os.ReadFile(filepath.Join(e.spec.DataDir, "db", "CURRENT"))
	if !bytes.HasPrefix(cur0, []byte("MANIFEST-")) {
		t.Fatal("CURRENT must stay plaintext")
	}

	if got := metricValue(t, e, tikv.MetricIsInitialized, ""); got != 1 {
		t.Fatalf("is_initialized %v", got)
	}
	if got := metricValue(t, e, tikv.MetricDataKeyStorageTotal, ""); got != 1 {
		t.Fatalf("data keys %v", got)
	}
	if got := metricValue(t, e, tikv.MetricFileNum, ""); int(got) != len(files) {
		t.Fatalf("file_num %v, file.dict has %d", got, len(files))
	}
	if metricValue(t, e, tikv.MetricRegionCount, "leader") != 3 || metricValue(t, e, tikv.MetricRegionCount, "region") != 7 {
		t.Fatal("region counts do not come from PD")
	}
	if code, body := e.get("/status"); code != 200 || body != "" {
		t.Fatalf("/status %d %q", code, body)
	}
	_, body := e.get("/config")
	var cfg struct {
		Security struct {
			Encryption map[string]any `json:"encryption"`
		} `json:"security"`
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	enc := cfg.Security.Encryption
	if enc["data-encryption-method"] != "aes256-ctr" || enc["data-key-rotation-period"] != "7d" ||
		enc["enable-file-dictionary-log"] != true || enc["file-dictionary-rewrite-threshold"] != float64(1000000) {
		t.Fatalf("/config encryption %v", enc)
	}
	if mk := enc["master-key"].(map[string]any); mk["type"] != "file" || mk["path"] != keyPath {
		t.Fatalf("/config master-key %v", mk)
	}

	e.node.Stop()
	if e.node.Running() || listening(e.spec.StatusAddr) {
		t.Fatal("stopped node still runs")
	}
	if _, stopped := e.pd.counts(); !strings.Contains(e.logText(), `["Key rotate worker has been cancelled."]`) || stopped != 1 {
		t.Fatal("stop did not cancel the rotate worker or tell PD")
	}
	e.mustStart()
	if !strings.Contains(e.logText(), `["encryption is enabled. method = Aes256Ctr"]`) ||
		!strings.Contains(e.logText(), `["encryption: found both of key dictionary and file dictionary."]`) {
		t.Fatalf("restart log:\n%s", e.logText())
	}
	if strings.Count(e.logText(), "encryption: rotate data key.") != 1 {
		t.Fatal("a restart within the period must not rotate the data key")
	}
}

func TestMasterKeyRotationViaPreviousKey(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	oldPath, _ := e.newKey("old.key")
	newPath, newKey := e.newKey("new.key")
	e.writeConfig(fileKeyConfig("aes256-ctr", oldPath))
	e.mustStart()
	e.node.Stop()
	// A broken previous key does no harm while master-key works (lazy build) — checked after rotation.
	e.writeConfig(fileKeyConfig("aes256-ctr", newPath) + "[security.encryption.previous-master-key]\ntype = \"file\"\npath = \"" + oldPath + "\"\n")
	before := len(e.logText())
	e.mustStart()
	log := e.logText()[before:]
	for _, want := range []string{
		`["encryption: failed to load key dictionary."]`,
		`[WARN]`, tikvlog.MsgFallbackPreviousKey.Text,
		`["encryption: persisted result after replace master key."]`,
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("rotation log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "encryption is enabled.") {
		t.Fatal(`"encryption is enabled" is not logged on the rotation path`)
	}
	if strings.Contains(log, "REDACTED") == false || strings.Contains(log, hexOf(newKey)) {
		t.Fatal("the fallback line must redact key material")
	}
	readKeyDict(t, e.spec.DataDir, newKey) // re-encrypted with the new key
	e.node.Stop()

	// previous-master-key now broken: unused, so harmless.
	e.writeConfig(fileKeyConfig("aes256-ctr", newPath) + "[security.encryption.previous-master-key]\ntype = \"file\"\npath = \"/nonexistent\"\n")
	e.mustStart()
	e.node.Stop()

	// Both keys wrong.
	w1, _ := e.newKey("wrong1.key")
	w2, _ := e.newKey("wrong2.key")
	e.writeConfig(fileKeyConfig("aes256-ctr", w1) + "[security.encryption.previous-master-key]\ntype = \"file\"\npath = \"" + w2 + "\"\n")
	err := e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Both master key failed, current key [components/encryption/src/master_key/mem.rs:") ||
		!strings.Contains(err.Error(), "decrypt in GCM mode failed") || !strings.Contains(err.Error(), "code: "+tikv.CodeBothMasterKeyFail) {
		t.Fatalf("want BothMasterKeyFail, got %v", err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestMissingFileDictFailsToLoad(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	p, _ := e.newKey("k")
	e.writeConfig(fileKeyConfig("aes256-ctr", p))
	e.mustStart()
	e.node.Stop()
	if err := os.Remove(filepath.Join(e.spec.DataDir, "file.dict")); err != nil {
		t.Fatal(err)
	}
	err := e.node.Start(t.Context())
	if err == nil || !regexp.MustCompile(`\[ERROR\] \[mod\.rs:\d+\] \["encryption: failed to load file dictionary\."\]`).MatchString(e.logText()) ||
		!strings.Contains(err.Error(), "IO error No such file or directory (os error 2). code: KV:Encryption:Io") {
		t.Fatalf("want a file.dict load failure, got %v\n%s", err, e.logText())
	}
}

func TestStaleEmptyFileDictIsRemoved(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	os.MkdirAll(e.spec.DataDir, 0o755)
	b, err := encodeFileDict(map[string]*encryptionpb.FileInfo{}, true)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.spec.DataDir, "file.dict"), b, 0o644)
	e.writeConfig("")
	e.mustStart()
	if !strings.Contains(e.logText(), `["encryption: file dict is empty and none of key dictionary are found."]`) {
		t.Fatalf("log:\n%s", e.logText())
	}
	if _, err := os.Stat(filepath.Join(e.spec.DataDir, "file.dict")); err == nil {
		t.Fatal("stale empty file.dict not deleted")
	}
}

func TestMethodPlaintextKeepsDictionaries(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	p, key := e.newKey("k")
	e.writeConfig(fileKeyConfig("aes128-ctr", p))
	e.mustStart()
	e.node.Stop()
	e.writeConfig(fileKeyConfig("plaintext", p))
	e.mustStart()
	if !strings.Contains(e.logText(), `["encryption is enabled. method = Plaintext"]`) {
		t.Fatalf("log:\n%s", e.logText())
	}
	_, kd := readKeyDict(t, e.spec.DataDir, key)
	if len(kd.Keys) != 2 || kd.Keys[kd.CurrentKeyId].Method != encryptionpb.EncryptionMethod_PLAINTEXT {
		t.Fatalf("want a new PLAINTEXT current key beside the old one, got %d keys", len(kd.Keys))
	}
	if metricValue(t, e, tikv.MetricIsInitialized, "") != 1 {
		t.Fatal("a manager exists with dictionaries even when the method is plaintext")
	}
	// New files are tracked as PLAINTEXT and keep the magic.
	if err := e.node.newSST(e.node.mgr); err != nil {
		t.Fatal(err)
	}
	_, files := readFileDict(t, e.spec.DataDir)
	ssts := listFiles(filepath.Join(e.spec.DataDir, "db"), ".sst")
	last := ssts[len(ssts)-1]
	if fi := files[last]; fi == nil || fi.Method != encryptionpb.EncryptionMethod_PLAINTEXT {
		t.Fatalf("new file %s tracked as %v", last, fi)
	}
	b, _ := os.ReadFile(last)
	if binary.LittleEndian.Uint64(b[len(b)-8:]) != tikv.SSTMagic {
		t.Fatal("plaintext file lacks the magic")
	}
}

func TestMasterKeyPlaintextMarksExposed(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	p, _ := e.newKey("k")
	e.writeConfig(fileKeyConfig("aes256-ctr", p))
	e.mustStart()
	e.node.Stop()

	// Master key plaintext without a previous key: BothMasterKeyFail.
	e.writeConfig("[security.encryption]\ndata-encryption-method = \"plaintext\"\n")
	err := e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Both master key failed") ||
		!strings.Contains(err.Error(), "encryption method mismatch, expected [112, 108, 97, 105, 110, 116, 101, 120, 116] vs actual [97, 101, 115, 50, 53, 54, 45, 103, 99, 109]") {
		t.Fatalf("want BothMasterKeyFail, got %v", err)
	}

	e.writeConfig("[security.encryption]\ndata-encryption-method = \"plaintext\"\n[security.encryption.previous-master-key]\ntype = \"file\"\npath = \"" + p + "\"\n")
	e.mustStart()
	if !strings.Contains(e.logText(), "encryption: persisted result after replace master key.") {
		t.Fatalf("log:\n%s", e.logText())
	}
	ec, kd := readKeyDict(t, e.spec.DataDir, nil)
	if string(ec.Metadata["method"]) != "plaintext" {
		t.Fatalf("key.dict metadata method %q, want plaintext", ec.Metadata["method"])
	}
	for id, k := range kd.Keys {
		if !k.WasExposed {
			t.Fatalf("key %d not marked was_exposed", id)
		}
	}
}

func TestDataKeyRotationAtSpeed(t *testing.T) {
	e := newEnv(t, "8.5.2", 200000) // 600 s sim = 3 ms wall
	p, key := e.newKey("k")
	e.writeConfig("[security.encryption]\ndata-encryption-method = \"aes192-ctr\"\ndata-key-rotation-period = \"0.5h\"\n[security.encryption.master-key]\ntype = \"file\"\npath = \"" + p + "\"\n")
	e.mustStart()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(e.logText(), "encryption: rotate data key.") < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	e.node.Stop()
	log := e.logText()
	n := strings.Count(log, "encryption: rotate data key.")
	if n < 4 {
		t.Fatalf("%d rotations, want >= 4", n)
	}
	if !strings.Contains(log, `["Try to rotate data key, current method:Aes192Ctr"]`) {
		t.Fatal("missing the background tick line")
	}
	_, kd := readKeyDict(t, e.spec.DataDir, key)
	if len(kd.Keys) < n {
		t.Fatalf("%d keys after %d rotations: keys are never garbage-collected", len(kd.Keys), n)
	}
	for _, k := range kd.Keys {
		if len(k.Key) != 24 {
			t.Fatalf("aes192 key of %d bytes", len(k.Key))
		}
	}
	// Background compaction rewrote files and kept the dictionary consistent.
	_, files := readFileDict(t, e.spec.DataDir)
	for path := range files {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("file.dict tracks a removed file %s", path)
		}
	}
	if len(listFiles(filepath.Join(e.spec.DataDir, "db"), ".sst")) > maxSSTs {
		t.Fatal("SST count is not bounded")
	}
}

func TestRaftEngineBugOn612(t *testing.T) {
	// Each release logs the crash in its own wording (tikvlog.MsgRaftEngineOpenFailed):
	// fatal! from server.rs up to v6.0.x, a panic logged by the panic hook (lib.rs) from v6.1.0.
	for _, c := range []struct {
		version string
		crash   bool
		want    string
	}{
		{"6.1.2", true, `[FATAL] [lib.rs:1783] ["failed to open raft engine: Nonce + Counter must be 12/16 bytes, 0"] [location=components/server/src/server.rs:`},
		{"6.0.0", true, `[FATAL] [server.rs:1783] ["Failed to create raft engine: Nonce + Counter must be 12/16 bytes, 0"]`},
		{"5.4.0", true, `[FATAL] [server.rs:1783] ["failed to create raft engine: Nonce + Counter must be 12/16 bytes, 0"]`},
		{"6.2.0", false, ""}, {"5.3.0", false, ""},
	} {
		t.Run(c.version, func(t *testing.T) {
			e := newEnv(t, c.version, 1)
			e.writeConfig("")
			e.mustStart() // plaintext raft-engine files
			e.node.Stop()
			p, _ := e.newKey("k")
			e.writeConfig(fileKeyConfig("aes256-ctr", p))
			err := e.node.Start(t.Context())
			if !c.crash {
				if err != nil {
					t.Fatalf("v%s must enable fine: %v", c.version, err)
				}
				return
			}
			if err == nil || !strings.Contains(e.logText(), c.want) || listening(e.spec.StatusAddr) {
				t.Fatalf("want the raft engine crash, got %v\n%s", err, e.logText())
			}
		})
	}
}

func TestSM4Gate(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	e.spec.SM4Build = true
	e.rebuild()
	p, _ := e.newKey("k")
	e.writeConfig(fileKeyConfig("SM4-CTR", p))
	e.mustStart()
	if !strings.Contains(e.logText(), "encryption is being enabled. method = Sm4Ctr") {
		t.Fatalf("log:\n%s", e.logText())
	}
}

func TestDiskFullAtEnable(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	p, _ := e.newKey("k")
	e.writeConfig(fileKeyConfig("aes256-ctr", p))
	e.node.SetDiskFull(e.spec.DataDir)
	err := e.node.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "No space left on device (os error 28)") {
		t.Fatalf("want ENOSPC, got %v", err)
	}
	e.node.SetDiskFull("")
	e.mustStart()
}

func TestFaults(t *testing.T) {
	e := newEnv(t, "8.5.2", 1000)
	e.writeConfig("")
	e.node.FailNextStart("boom at start")
	if err := e.node.Start(t.Context()); err == nil || !strings.Contains(e.stderrText(), "boom at start") {
		t.Fatalf("FailNextStart: %v", err)
	}
	e.node.SetSlowStart(10 * time.Second) // 10 ms wall
	e.mustStart()
	if hb, _ := e.pd.counts(); hb == 0 || e.node.StartTime().IsZero() {
		t.Fatal("no heartbeat at start")
	}
}

func TestReadableDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "168h": 168 * time.Hour, "1d12h": 36 * time.Hour,
		"1.5h": 90 * time.Minute, "10m30s": 630 * time.Second, "500ms": 500 * time.Millisecond, "3us": 3 * time.Microsecond,
	} {
		got, err := parseReadableDuration(in)
		if err != nil || got != want {
			t.Errorf("%q = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"7", "7x", "1h1d", "h", "-1h", "1hh"} {
		if _, err := parseReadableDuration(bad); err == nil || err.Error() != tikv.ErrDurationParse {
			t.Errorf("%q: got %v, want %q", bad, err, tikv.ErrDurationParse)
		}
	}
	if got := formatReadableDuration(36 * time.Hour); got != "1d12h" {
		t.Errorf("format 36h = %q", got)
	}
}

func TestFileDictV1WhenLogDisabled(t *testing.T) {
	e := newEnv(t, "8.5.2", 1)
	p, _ := e.newKey("k")
	e.writeConfig("[security.encryption]\ndata-encryption-method = \"aes256-ctr\"\nenable-file-dictionary-log = false\n[security.encryption.master-key]\ntype = \"file\"\npath = \"" + p + "\"\n")
	e.mustStart()
	v, files := readFileDict(t, e.spec.DataDir)
	if v != 1 || len(files) == 0 {
		t.Fatalf("file.dict version %d with %d files, want V1 with files", v, len(files))
	}
}

func TestLogQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"has space":        `"has space"`,
		`q"uote`:           `"q\"uote"`,
		"a=b":              `"a=b"`,
		"[x]":              `"[x]"`,
		"line\nbreak":      `"line\nbreak"`,
		"":                 "",
		"http://h:1/p?q&r": "http://h:1/p?q&r",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
