package gcpkms_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kmsapi "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms/gcpkmsfake"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
)

const key = "projects/p/locations/global/keyRings/r/cryptoKeys/tikv"

// fake starts the REST fake with one HSM key rotated every 90 days.
func fake(t *testing.T, opts gcpkmsfake.Options) *gcpkmsfake.Server {
	t.Helper()
	s, err := gcpkmsfake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.CreateKey(key, gcpkmsfake.Key{ProtectionLevel: kmspb.ProtectionLevel_HSM, RotationPeriod: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	return s
}

// unauthenticated is the real REST client pointed at the fake without credentials.
func unauthenticated(t *testing.T, s *gcpkmsfake.Server) *kmsapi.KeyManagementClient {
	t.Helper()
	c, err := kmsapi.NewKeyManagementRESTClient(context.Background(), option.WithEndpoint(s.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func statuses(cs []core.Check) string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c.Status)+" "+c.Name+": "+c.Reason)
	}
	return strings.Join(out, "\n")
}

func TestPreflightThroughTheRealClient(t *testing.T) {
	ctx := context.Background()
	s := fake(t, gcpkmsfake.Options{})
	b := gcpkms.NewWithClient(gcpkms.Config{KeyID: key}, unauthenticated(t, s))
	cs := b.Preflight(ctx)
	if len(cs) != 3 || cs[0].Status != core.StatusPass || cs[1].Status != core.StatusPass || cs[2].Status != core.StatusPass {
		t.Fatalf("preflight:\n%s", statuses(cs))
	}
	if !strings.Contains(cs[0].Reason, "HSM") || !strings.Contains(cs[0].Reason, "2160h") {
		t.Errorf("key check does not report protection level and rotation period: %s", cs[0].Reason)
	}
	calls := strings.Join(s.Calls(), "\n")
	for _, want := range []string{"GET /v1/" + key, "POST /v1/" + key + ":testIamPermissions",
		"POST /v1/projects/p/locations/global:generateRandomBytes", "POST /v1/" + key + ":encrypt", "POST /v1/" + key + ":decrypt"} {
		if !strings.Contains(calls, want) {
			t.Errorf("no %q in calls:\n%s", want, calls)
		}
	}
}

func TestPreflightFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("decrypt denied", func(t *testing.T) {
		s := fake(t, gcpkmsfake.Options{})
		s.Deny(gcpkmsfake.PermDecrypt)
		cs := gcpkms.NewWithClient(gcpkms.Config{KeyID: key}, unauthenticated(t, s)).Preflight(ctx)
		if cs[1].Status != core.StatusFail || !strings.Contains(cs[1].Reason, "useToDecrypt") {
			t.Fatalf("iam check:\n%s", statuses(cs))
		}
		if cs[2].Status != core.StatusFail || !strings.Contains(cs[2].Reason, "PermissionDenied") {
			t.Fatalf("round trip:\n%s", statuses(cs))
		}
	})
	t.Run("rotation not granted", func(t *testing.T) {
		s := fake(t, gcpkmsfake.Options{})
		s.Deny(gcpkmsfake.PermCreateVersion)
		cs := gcpkms.NewWithClient(gcpkms.Config{KeyID: key}, unauthenticated(t, s)).Preflight(ctx)
		if cs[1].Status != core.StatusWarn || !strings.Contains(cs[1].Reason, "cryptoKeyVersions.create") || cs[2].Status != core.StatusPass {
			t.Fatalf("preflight:\n%s", statuses(cs))
		}
	})
	t.Run("primary disabled", func(t *testing.T) {
		s := fake(t, gcpkmsfake.Options{})
		if err := s.SetVersionState(key, 1, kmspb.CryptoKeyVersion_DISABLED); err != nil {
			t.Fatal(err)
		}
		cs := gcpkms.NewWithClient(gcpkms.Config{KeyID: key}, unauthenticated(t, s)).Preflight(ctx)
		if len(cs) != 1 || cs[0].Status != core.StatusFail || !strings.Contains(cs[0].Reason, "DISABLED") {
			t.Fatalf("preflight:\n%s", statuses(cs))
		}
	})
	t.Run("missing key", func(t *testing.T) {
		s := fake(t, gcpkmsfake.Options{})
		other := "projects/p/locations/global/keyRings/r/cryptoKeys/nope"
		cs := gcpkms.NewWithClient(gcpkms.Config{KeyID: other}, unauthenticated(t, s)).Preflight(ctx)
		if len(cs) != 1 || cs[0].Status != core.StatusFail || !strings.Contains(cs[0].Reason, "NotFound") {
			t.Fatalf("preflight:\n%s", statuses(cs))
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		s := fake(t, gcpkmsfake.Options{RequireAuth: true})
		cs := gcpkms.NewWithClient(gcpkms.Config{KeyID: key}, unauthenticated(t, s)).Preflight(ctx)
		if cs[0].Status != core.StatusFail || !strings.Contains(cs[0].Reason, "Unauthenticated") {
			t.Fatalf("preflight:\n%s", statuses(cs))
		}
	})
}

// TestCredentialsFileAndRotation builds the client the way plan/apply do, from
// credentials-file and endpoint, against a fake that demands authentication.
func TestCredentialsFileAndRotation(t *testing.T) {
	ctx := context.Background()
	s := fake(t, gcpkmsfake.Options{RequireAuth: true})
	sa, err := s.ServiceAccountJSON("tikv@p.iam.gserviceaccount.com", "p")
	if err != nil {
		t.Fatal(err)
	}
	credFile := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(credFile, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := gcpkms.Config{KeyID: key, CredentialsFile: credFile, CredentialFilePath: "/etc/tikv/gcp-kms.json", Owner: "tidb", Endpoint: s.URL}
	b := gcpkms.New(cfg)
	if cs := b.Preflight(ctx); cs[0].Status != core.StatusPass || cs[2].Status != core.StatusPass {
		t.Fatalf("preflight with a service-account file:\n%s", statuses(cs))
	}
	cur, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil || cur.ID != key || cur.Version != "1" {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	next, err := b.Prepare(ctx, core.PurposeNew)
	if err != nil || next.ID != key || next.Version != "2" || next.Attrs["protection_level"] != "HSM" {
		t.Fatalf("new = %+v, %v", next, err)
	}
	ev, err := b.Evidence(ctx, next)
	if err != nil || ev.KeyVersion != "2" || ev.State != "ENABLED" || ev.RotationPeriod != "90d" || ev.RotationEnabled == nil || !*ev.RotationEnabled || ev.NextRotation.IsZero() {
		t.Fatalf("evidence of the new version = %+v, %v", ev, err)
	}
	old, err := b.Evidence(ctx, cur)
	if err != nil || old.KeyVersion != "1" || old.Attrs["primary_version"] != "2" {
		t.Fatalf("evidence of the old version = %+v, %v", old, err)
	}
	if cs := b.Preflight(ctx); cs[2].Status != core.StatusPass || !strings.Contains(cs[2].Reason, "encrypted with 2") {
		t.Fatalf("preflight after rotation:\n%s", statuses(cs))
	}
	mk := b.MasterKey(next)
	if mk.Type != "kms" || mk.Vendor != "gcp" || mk.KeyID != key || mk.GCP == nil || *mk.GCP != (tikv.GCPKMS{CredentialFilePath: "/etc/tikv/gcp-kms.json"}) {
		t.Fatalf("master key = %+v", mk)
	}

	h := kmstest.NewHost("tikv-1")
	if cs := b.HostPreflight(ctx, h); cs[0].Status != core.StatusPass || !strings.Contains(cs[0].Reason, "apply delivers") {
		t.Fatalf("host preflight before delivery: %+v", cs)
	}
	if err := b.Deliver(ctx, h, next); err != nil {
		t.Fatal(err)
	}
	got, mode, owner, _ := h.File("/etc/tikv/gcp-kms.json")
	if string(got) != string(sa) || mode != 0o400 || owner != "tidb" {
		t.Fatalf("delivered %d bytes mode %#o owner %q", len(got), mode, owner)
	}
	if cs := b.HostPreflight(ctx, h); cs[0].Status != core.StatusPass || !strings.Contains(cs[0].Reason, "0400") {
		t.Fatalf("host preflight after delivery: %+v", cs)
	}
}

func TestValidate(t *testing.T) {
	codes := map[string]bool{}
	for _, f := range gcpkms.New(gcpkms.Config{KeyID: "projects/p/keyRings/r"}).Validate(core.EnvProduction, []string{"v7.5.0"}) {
		codes[f.Code] = true
	}
	for _, c := range []string{"gcp-key-id", "gcp-version", "gcp-experimental", "kms-rotation-bug"} {
		if !codes[c] {
			t.Errorf("missing finding %s in %v", c, codes)
		}
	}
	if fs := gcpkms.New(gcpkms.Config{KeyID: key}).Validate(core.EnvProduction, []string{"v8.5.0"}); len(fs) != 1 || fs[0].Code != "gcp-experimental" {
		t.Fatalf("v8.5.0 findings = %+v", fs)
	}
	bad := filepath.Join(t.TempDir(), "ext.json")
	if err := os.WriteFile(bad, []byte(`{"type":"external_account"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	codes = map[string]bool{}
	for _, f := range gcpkms.New(gcpkms.Config{KeyID: key, CredentialsFile: bad}).Validate(core.EnvProduction, []string{"v8.5.0"}) {
		codes[f.Code] = true
	}
	if !codes["gcp-credentials-file"] || !codes["gcp-credential-path"] {
		t.Fatalf("an external_account file without credential-file-path gave %v", codes)
	}
}
