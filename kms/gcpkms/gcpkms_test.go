package gcpkms

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

const key = "projects/p/locations/global/keyRings/r/cryptoKeys/tikv"

// fakeClient "encrypts" by prefixing the key name; it records the location asked for randomness.
type fakeClient struct {
	location, level string
	failDecrypt     bool
}

func (f *fakeClient) Encrypt(_ context.Context, k string, pt []byte) ([]byte, error) {
	return append([]byte(k+"|"), pt...), nil
}
func (f *fakeClient) Decrypt(_ context.Context, k string, ct []byte) ([]byte, error) {
	if f.failDecrypt {
		return nil, errors.New("rpc error: code = PermissionDenied")
	}
	return []byte(strings.TrimPrefix(string(ct), k+"|")), nil
}
func (f *fakeClient) GenerateRandomBytes(_ context.Context, loc string, n int, level string) ([]byte, error) {
	f.location, f.level = loc, level
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}

func TestGCP(t *testing.T) {
	ctx := context.Background()
	fc := &fakeClient{}
	b := New(Config{KeyID: key, CredentialFilePath: "/etc/tikv/gcp.json"}, fc)
	if c := b.Preflight(ctx); c[0].Status != core.StatusPass || fc.location != "projects/p/locations/global" || fc.level != "HSM" {
		t.Fatalf("preflight = %+v, location %q level %q", c, fc.location, fc.level)
	}
	fc.failDecrypt = true
	if c := b.Preflight(ctx); c[0].Status != core.StatusFail || !strings.Contains(c[0].Reason, "PermissionDenied") {
		t.Fatalf("preflight with decrypt failure = %+v", c)
	}
	if c := New(Config{KeyID: key}, nil).Preflight(ctx); c[0].Status != core.StatusWarn {
		t.Fatalf("preflight without client = %+v", c)
	}
	ref, err := b.Prepare(ctx, core.PurposeCurrent)
	if err != nil {
		t.Fatal(err)
	}
	mk := b.MasterKey(ref)
	if mk.Type != "kms" || mk.Vendor != "gcp" || mk.KeyID != key || mk.GCP == nil || *mk.GCP != (tikv.GCPKMS{CredentialFilePath: "/etc/tikv/gcp.json"}) {
		t.Fatalf("master key = %+v", mk)
	}
	codes := map[string]bool{}
	for _, f := range New(Config{KeyID: "projects/p/keyRings/r"}, nil).Validate(core.EnvProduction, []string{"v7.5.0"}) {
		codes[f.Code] = true
	}
	for _, c := range []string{"gcp-key-id", "gcp-version", "gcp-experimental", "kms-rotation-bug"} {
		if !codes[c] {
			t.Errorf("missing finding %s in %v", c, codes)
		}
	}
	if fs := b.Validate(core.EnvProduction, []string{"v8.5.0"}); len(fs) != 1 || fs[0].Code != "gcp-experimental" {
		t.Fatalf("v8.5.0 findings = %+v", fs)
	}
}
