package cli

// End-to-end tests of the GCP part of issue 14: the offline cloud KMS that
// `sim up --cloud-kms` runs (startSimCloud), the stores reaching it the way
// TiKV does, and plan / apply / verify / rotate / deliver through cli.Main.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
)

// keStartCloudSim starts the small fast cluster with the cloud KMS fake of
// vendor, exactly as `sim up --cloud-kms vendor` does, and returns the [key] file.
func keStartCloudSim(t *testing.T, vendor string) (*sim.Cluster, string) {
	t.Helper()
	dir := t.TempDir()
	opts := sim.Options{Stores: 3, Zones: 3, Regions: 30, Speed: 50, Dir: dir}
	cloud, err := startSimCloud(vendor, dir, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := sim.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	keWait(t, "every simulated store to serve", func() bool {
		for _, n := range cl.Nodes() {
			if !n.Proc.Running() {
				return false
			}
		}
		return true
	})
	return cl, cloud.keyConfig
}

func TestKeysGCPLifecycle(t *testing.T) {
	cl, keyConfig := keStartCloudSim(t, "gcp")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")

	r := keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", keyConfig, "--output", "json")...)
	for _, want := range []string{"primary version 1 ENABLED, protection level HSM", "absent; apply delivers credentials-file there"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r)
		}
	}
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != SimGCPKeyID || p.Target.MasterKey.Version != "1" {
		t.Fatalf("planned key %+v", p.Target.MasterKey)
	}
	credPath := p.Target.Key.GCP.CredentialFilePath

	r = keMust(t, "apply", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	for _, e := range keMasterKeys(t, cl) {
		mk := e.MasterKey
		if mk.Type != tikv.MasterKeyKMS || mk.Vendor != tikv.VendorGCP || mk.KeyID != SimGCPKeyID || mk.GCP == nil || mk.GCP.CredentialFilePath != credPath {
			t.Fatalf("tikv.toml after apply: %+v", mk)
		}
	}
	fi, err := os.Stat(credPath)
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("delivered credential file: %v, %v", fi, err)
	}
	for _, n := range cl.Nodes() {
		m, err := tikv.ReadKeyDictMeta(keReadFile(t, filepath.Join(n.Paths.DataDir, "key.dict")))
		if err != nil || m.KMSVendor != tikv.StoredVendorGCP || !m.HasKMSCiphertextKey {
			t.Fatalf("store %d key.dict: %+v, %v", n.StoreID, m, err)
		}
	}

	// Rotation makes a new primary CryptoKeyVersion; TiKV's key-id stays.
	r = keMust(t, "rotate", plan, "--yes")
	rep := keReportVerified(t, r)
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != SimGCPKeyID || p.Target.MasterKey.Version != "2" {
		t.Fatalf("plan after rotate: %+v", p.Target.MasterKey)
	}
	data := string(keReadFile(t, rep))
	if !strings.Contains(data, `"key_version": "2"`) && !strings.Contains(data, `"key_version":"2"`) {
		t.Errorf("rotate report does not carry the new key version:\n%s", data)
	}
}

func TestKeysAzureLifecycle(t *testing.T) {
	cl, keyConfig := keStartCloudSim(t, "azure")
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")

	r := keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", keyConfig, "--output", "json")...)
	for _, want := range []string{"enabled RSA key, version", "32 HSM random bytes encrypted and decrypted with RSA-OAEP-256"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r)
		}
	}
	p := keLoadPlan(t, plan)
	first := p.Target.MasterKey
	if first.ID != SimAzureKey || first.Version == "" {
		t.Fatalf("planned key %+v", first)
	}

	r = keMust(t, "apply", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	for _, e := range keMasterKeys(t, cl) {
		mk := e.MasterKey
		if mk.Type != tikv.MasterKeyKMS || mk.Vendor != tikv.VendorAzure || mk.KeyID != SimAzureKey || mk.Azure == nil ||
			mk.Azure.TenantID == "" || mk.Azure.ClientID == "" || mk.Azure.HSMName != "tikv-ear-sim-hsm" || mk.Azure.ClientSecret == "" {
			t.Fatalf("tikv.toml after apply: %+v", mk)
		}
	}
	for _, n := range cl.Nodes() {
		m, err := tikv.ReadKeyDictMeta(keReadFile(t, filepath.Join(n.Paths.DataDir, "key.dict")))
		if err != nil || m.KMSVendor != tikv.StoredVendorAzure || !m.HasKMSCiphertextKey {
			t.Fatalf("store %d key.dict: %+v, %v", n.StoreID, m, err)
		}
	}

	// Rotation creates a new key (a new version would strand key.dict) and
	// TiKV moves to it through previous-master-key.
	r = keMust(t, "rotate", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != SimAzureKey+"-g2" || p.Target.MasterKey.Version == "" {
		t.Fatalf("plan after rotate: %+v", p.Target.MasterKey)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.KeyID != SimAzureKey+"-g2" {
			t.Fatalf("tikv.toml after rotate: %+v", e.MasterKey)
		}
	}
}
