package ui_test

import (
	"errors"

	tea "charm.land/bubbletea/v2"

	"fmt"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// formsFake offers gcp, azure, vault and file (staging), each with the
// fields its real form has that these tests need; Azure's preflight fails.
func formsFake() *uitest.Fake {
	f := uitest.New(3)
	f.BackendOpts = []ui.BackendOption{
		{Name: "gcp", Title: "Google Cloud KMS", Fields: []ui.BackendField{
			{Key: "key-id", Label: "CryptoKey", Required: true, Placeholder: "projects/P/locations/L/keyRings/R/cryptoKeys/K"},
			{Key: "credential-file-path", Label: "Credential file on the hosts", Format: "abspath"}}},
		{Name: "azure", Title: "Azure Key Vault", Fields: []ui.BackendField{
			{Key: "key-id", Label: "Key name", Required: true, Placeholder: "tikv-master"},
			{Key: "client-secret-file", Label: "Client secret file", Secret: true, OneOf: "credential"},
			{Key: "client-certificate-file", Label: "Certificate file here", Secret: true, OneOf: "credential"}}},
		{Name: "vault", Title: "HashiCorp Vault", Fields: []ui.BackendField{
			{Key: "address", Label: "Vault address", Placeholder: "https://vault.example.com:8200", Format: "url"}}},
		{Name: "file", Title: "Key file on every host", Fields: []ui.BackendField{
			{Key: "key-dir", Label: "Key directory here", Value: "/tmp/keys", Required: true}}},
	}
	f.PreflightFor = func(c ui.Choices) ([]steps.Check, error) {
		if c.Backend == "azure" {
			return nil, errors.New("azure key vault refused the client secret")
		}
		return f.Checks, nil
	}
	return f
}

func stagingPrefill() ui.Options {
	o := prefilled()
	o.Prefill.Environment = steps.EnvStaging
	return o
}

// toBackends walks connect and algorithm to the backend screen.
func (h *harness) toBackends() {
	h.t.Helper()
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	h.press("enter")
	h.idle(ui.ScreenBackend)
}

// typeText types s into the focused input.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.press(string(r))
	}
}

func (h *harness) preflightDone() {
	h.t.Helper()
	h.until("preflight", func(m *ui.Model) bool {
		return m.Busy() == "" && m.Screen() == ui.ScreenBackend && h.m.Err() != nil || strings.Contains(h.view(), "Preflight")
	})
}

// TestBackendFormsKeepTheirOwnAnswers: a GCP key name typed in the GCP form
// never pre-fills Azure's key name, Azure's failure never shows on the file
// backend, and each backend gets its own answers and error back.
func TestBackendFormsKeepTheirOwnAnswers(t *testing.T) {
	const gcpKey = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
	f := formsFake()
	h := newHarness(t, f, stagingPrefill())
	h.toBackends()
	h.press("enter") // gcp
	h.focus("CryptoKey")
	h.typeText(gcpKey)
	h.press("enter")
	h.focus("Credential file on the hosts")
	h.press("enter")
	h.preflightDone()
	if c := f.LastChoices(); c.Backend != "gcp" || c.BackendFields["key-id"] != gcpKey {
		t.Fatalf("gcp choices %+v", c)
	}
	h.press("down", "enter") // azure: its own, empty form
	h.focus("Key name")
	if v := h.view(); strings.Contains(v, gcpKey) {
		t.Fatalf("Azure's form shows the GCP key name:\n%s", v)
	}
	h.typeText("tikv-master")
	h.press("enter")
	h.focus("Client secret file")
	h.typeText("/etc/secret")
	h.press("enter")
	h.focus("Certificate file here")
	h.press("enter")
	h.until("azure's failure", func(m *ui.Model) bool { return m.Busy() == "" && m.Err() != nil })
	if c := f.LastChoices(); c.Backend != "azure" || c.BackendFields["key-id"] != "tikv-master" {
		t.Fatalf("azure choices %+v", c)
	}
	contains(t, h.view(), "azure key vault refused the client secret")
	h.press("down", "down") // vault, then file
	if h.m.Err() != nil || strings.Contains(h.view(), "refused the client secret") {
		t.Fatalf("the file backend shows Azure's failure (%v):\n%s", h.m.Err(), h.view())
	}
	h.press("enter")
	h.focus("Key directory here")
	if v := h.view(); strings.Contains(v, "tikv-master") || strings.Contains(v, gcpKey) {
		t.Fatalf("the file form shows another backend's answer:\n%s", v)
	}
	h.press("esc")
	h.press("up", "up", "up") // back to gcp: its answers and preflight are still there
	contains(t, h.view(), gcpKey, "Preflight")
	h.press("down") // azure: its own failure again
	if h.m.Err() == nil || !strings.Contains(h.m.Err().Error(), "refused the client secret") {
		t.Fatalf("azure's own error is gone: %v", h.m.Err())
	}
}

// TestBackendFormPlaceholdersAndBadAddress: an empty input's example reads as
// an example ("e.g. …") and is never taken as the value; a bad Vault address
// is refused in one line with what to type.
func TestBackendFormPlaceholdersAndBadAddress(t *testing.T) {
	f := formsFake()
	h := newHarness(t, f, stagingPrefill())
	h.toBackends()
	h.press("down", "down", "enter") // vault
	h.focus("Vault address")
	contains(t, h.view(), "e.g. https://vault.example.com:8200")
	h.typeText("vault:8200/v1/x?y=1")
	h.press("enter")
	v := h.view()
	var errLines []string
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "vault address") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "vault address: use http(s)://HOST:PORT, e.g. https://vault.example.com:8200") {
		t.Fatalf("want one error line with a hint, got %q:\n%s", errLines, v)
	}
	if strings.Count(v, "vault:8200/v1/x?y=1") > 1 {
		t.Fatalf("the bad address is echoed more than once:\n%s", v)
	}
	if h.m.Busy() != "" || strings.Contains(v, "Preflight") {
		t.Fatal("a bad address reached preflight")
	}
}

// TestAzureFormNeedsACredential: without a client secret or certificate the
// form is refused before preflight, naming the fields that would do.
func TestAzureFormNeedsACredential(t *testing.T) {
	f := formsFake()
	h := newHarness(t, f, stagingPrefill())
	h.toBackends()
	h.press("down", "enter") // azure
	h.focus("Key name")
	h.typeText("tikv-master")
	h.press("enter")
	h.focus("Client secret file")
	h.press("enter")
	h.focus("Certificate file here")
	h.press("enter")
	h.until("refusal", func(m *ui.Model) bool { return m.Err() != nil })
	if err := h.m.Err().Error(); !strings.Contains(err, "credential needs one of: client secret file, certificate file here") {
		t.Fatalf("error %q", err)
	}
	for _, c := range f.Calls() {
		if c == "Preflight" {
			t.Fatal("preflight ran without a credential")
		}
	}
}

// TestPreflightHeaderCountsTheRowsShown: per-store results are one row per
// check, and the header counts those rows.
func TestPreflightHeaderCountsTheRowsShown(t *testing.T) {
	f := formsFake()
	f.Checks = nil
	for id := uint64(1); id <= 3; id++ {
		f.Checks = append(f.Checks,
			steps.Check{ID: "ssh", StoreID: id, Status: steps.Pass, Message: fmt.Sprintf("store %d: ssh works", id)},
			steps.Check{ID: "disk", StoreID: id, Status: steps.Warn, Message: fmt.Sprintf("store %d: key dir not on tmpfs", id), Fix: "mount a tmpfs"})
	}
	f.Checks = append(f.Checks, steps.Check{ID: "pd", Status: steps.Pass, Message: "PD answers"})
	h := newHarness(t, f, stagingPrefill())
	h.size(120, 40)
	h.toBackends()
	h.press("down", "down", "down", "enter") // file
	h.focus("Key directory here")
	h.press("enter")
	h.preflightDone()
	v := h.view()
	contains(t, v, "Preflight 2 pass · 1 warn · 0 fail", "(7 results, 3 stores)")
	rows := 0
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(l, "✓ ") || strings.HasPrefix(l, "! ") || strings.HasPrefix(l, "✗ ") {
			rows++
		}
	}
	if rows != 3 {
		t.Fatalf("%d rows for a header of 3:\n%s", rows, v)
	}
}

// TestNewPreflightStartsAtItsTop: after scrolling a long preflight down, a new
// verdict (here: the signer changed and preflight ran again) shows from the
// top, where failures are listed first.
func TestNewPreflightStartsAtItsTop(t *testing.T) {
	f := formsFake()
	f.Checks = nil
	for i := 0; i < 30; i++ {
		f.Checks = append(f.Checks, steps.Check{ID: fmt.Sprintf("check-%02d", i), Status: steps.Pass, Message: "fine"})
	}
	h := newHarness(t, f, stagingPrefill())
	h.toBackends()
	h.press("down", "down", "down", "enter") // file
	h.focus("Key directory here")
	h.press("enter")
	h.preflightDone()
	h.update(tea.KeyPressMsg{Code: tea.KeyEnd})
	if strings.Contains(h.view(), "Preflight") {
		t.Fatalf("end did not scroll:\n%s", h.view())
	}
	f.Checks = append([]steps.Check{{ID: "report-signer", Status: steps.Fail, Message: "the report cannot be signed"}}, f.Checks...)
	h.press("r")
	h.until("the new preflight", func(m *ui.Model) bool { return m.Busy() == "" && strings.Contains(h.view(), "1 fail") })
	contains(t, h.view(), "✗ report-signer the report cannot be signed")
}
