package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPAEVector(t *testing.T) {
	// DSSE protocol.md test vector (reference kms-and-evidence.md §4.1).
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if got := string(PAE("", nil)); got != "DSSEv1 0  0 " {
		t.Fatalf("empty PAE = %q", got)
	}
}

func TestCanonicalDeterministicAndRoundTrips(t *testing.T) {
	r := sampleReport()
	a, err := Canonical(r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Canonical(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("Canonical is not deterministic")
	}
	if !strings.Contains(string(a), `"started_at": "2026-11-27T13:00:00Z"`) {
		t.Fatalf("times are not UTC RFC 3339:\n%s", a)
	}
	if r.StartedAt.Location().String() != "CST" {
		t.Fatal("Canonical modified its input")
	}
	// Re-canonicalizing the generic document must not change it: keys are sorted.
	again, err := canonicalJSON(a)
	if err != nil || !bytes.Equal(a, again) {
		t.Fatalf("canonical bytes are not a fixed point (err %v)", err)
	}
	if strings.Index(string(a), `"cluster"`) > strings.Index(string(a), `"kind"`) {
		t.Fatal("top-level keys are not sorted")
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(path, a, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Canonical(loaded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Fatalf("Load+Canonical changed the bytes:\n%s\n---\n%s", a, c)
	}
}

func TestRejectFloats(t *testing.T) {
	if _, err := canonicalJSON([]byte(`{"a":{"b":[1,2.5]}}`)); err == nil || !strings.Contains(err.Error(), "$.a.b[1]") {
		t.Fatalf("float not rejected with its path: %v", err)
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	r := sampleReport()
	r.Schema = "other/v9"
	r.Stores[1].ID = 1
	r.Stores[0].After.Method = "aes999-ctr"
	r.Stores[0].After.MasterKey.Fingerprint = "deadbeef"
	r.Timeline[1].Decision = &Decision{Question: "q", Choice: "c", DecidedBy: "someone"}
	r.Findings[0].Severity = "meh"
	err := r.Validate()
	if err == nil {
		t.Fatal("invalid report validated")
	}
	for _, want := range []string{
		`schema: is "other/v9", want "tikv-ear/report/v1"`,
		"stores[1].id: store 1 appears twice",
		`stores[0].after.method: "aes999-ctr" is not a data-encryption-method`,
		"stores[0].after.master_key.fingerprint: is not of the form sha256:",
		"timeline[1].decision.decided_by",
		`findings[0].severity: "meh"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Canonical(r); err == nil {
		t.Fatal("Canonical accepted an invalid report")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := Canonical(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	m["surprise"] = 1
	unknown, _ := json.MarshalIndent(m, "", "  ")
	cases := map[string]struct {
		data string
		want []string
	}{
		"unknown.json": {string(unknown), []string{"unknown.json", `unknown field "surprise"`}},
		"syntax.json":  {"{\n  \"schema\": \"tikv-ear/report/v1\",\n  oops\n}", []string{"syntax.json", "line 3"}},
		"type.json":    {"{\n\"schema\": 5\n}", []string{"type.json", "line 2", `"schema"`}},
		"invalid.json": {`{"schema":"tikv-ear/report/v1","kind":"apply","outcome":"succeeded","stores":[]}`, []string{"invalid.json", "cluster.pd_cluster_id: is empty"}},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", name, err, w)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	hexKey := strings.Repeat("0a1b2c3d", 8)
	cases := []struct{ in, secret string }{
		{"key " + hexKey + " loaded", hexKey},
		{`secret-access-key = "wJalrXUtnFEMI/K7MDENG"`, "wJalrXUtnFEMI"},
		{"client_secret: s3cr3tValue", "s3cr3tValue"},
		{"endpoint https://user:pa55word@kms.local:4566/x", "pa55word"},
		{"token hvs.CAESIJ0123456789abcdefghij", "hvs.CAESIJ0123456789abcdefghij"},
		{"ciphertext vault:v3:QmFzZTY0Q2lwaGVydGV4dA==", "QmFzZTY0Q2lwaGVydGV4dA=="},
		{"id AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"},
		{"blob q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ0a== end", "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ0a"},
		{"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----", "MIGH"},
		{`{"plaintext":"c2VjcmV0"}`, "c2VjcmV0"},
	}
	for _, c := range cases {
		got := Redact(c.in)
		if strings.Contains(got, c.secret) {
			t.Errorf("Redact(%q) = %q still holds %q", c.in, got, c.secret)
		}
		if Redact(got) != got {
			t.Errorf("Redact is not idempotent on %q", got)
		}
	}
	keep := []string{
		"encryption is enabled. method = Aes256Ctr",
		"fingerprint sha256:" + hexKey,
		"tikv_encryption_write_read_file_duration_seconds",
		"arn:aws:kms:us-west-2:111122223333:key/bc436485-5092-42b8-92a3-0aa8b93536dc",
		"/tidb-deploy/tikv-20160/conf/tikv.toml",
		"client-certificate-path = /etc/azure/cert.pem",
	}
	for _, k := range keep {
		if got := Redact(k); got != k {
			t.Errorf("Redact(%q) = %q, want unchanged", k, got)
		}
	}
}
