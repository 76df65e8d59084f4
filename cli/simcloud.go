package cli

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	toml "github.com/pelletier/go-toml/v2"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms/azurekmsfake"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms/gcpkmsfake"
	"github.com/tikv-ear/tikv-ear/sim"
)

// SimGCPKeyID is the CryptoKey the offline GCP demo creates in its fake.
const SimGCPKeyID = "projects/tikv-ear-sim/locations/global/keyRings/tikv/cryptoKeys/master"

// simCloud is an in-process cloud KMS `sim up --cloud-kms` runs beside the
// sim, with the [key] table that points plan at it.
type simCloud struct {
	keyConfig string // path of the [key] TOML for `plan --key-config`
	close     func()
}

// startSimCloud starts the fake for vendor and writes <dir>/key-<vendor>.toml.
// It sets the sim options the stores need to reach it.
func startSimCloud(vendor, dir string, opts *sim.Options) (*simCloud, error) {
	switch vendor {
	case "":
		return nil, nil
	case "gcp":
		return startSimGCP(dir, opts)
	case "azure":
		return startSimAzure(dir, opts)
	}
	return nil, fmt.Errorf("unknown cloud KMS %q", vendor)
}

// startSimGCP runs a Cloud KMS REST fake that demands authentication, creates
// an HSM key rotated every 90 days and a service account for it, and writes a
// [key.gcp] table whose credentials-file apply delivers to every store.
func startSimGCP(dir string, opts *sim.Options) (*simCloud, error) {
	f, err := gcpkmsfake.Start(gcpkmsfake.Options{RequireAuth: true})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*simCloud, error) { f.Close(); return nil, err }
	if err := f.CreateKey(SimGCPKeyID, gcpkmsfake.Key{ProtectionLevel: kmspb.ProtectionLevel_HSM, RotationPeriod: 90 * 24 * time.Hour}); err != nil {
		return fail(err)
	}
	sa, err := f.ServiceAccountJSON("tikv@tikv-ear-sim.iam.gserviceaccount.com", "tikv-ear-sim")
	if err != nil {
		return fail(err)
	}
	gdir := filepath.Join(dir, "gcp")
	if err := os.MkdirAll(gdir, 0o700); err != nil {
		return fail(err)
	}
	credFile := filepath.Join(gdir, "service-account.json")
	if err := os.WriteFile(credFile, sa, 0o600); err != nil {
		return fail(err)
	}
	owner := ""
	if u, err := user.Current(); err == nil {
		owner = u.Username // every sim host runs as the operator on this machine
	}
	spec := kms.Spec{Backend: "gcp", GCP: &gcpkms.Config{
		KeyID: SimGCPKeyID, CredentialsFile: credFile, Owner: owner, Endpoint: f.URL,
		CredentialFilePath: filepath.Join(dir, "tikv-credentials", "gcp-kms.json"),
	}}
	kc, err := writeKeyConfig(filepath.Join(dir, "key-gcp.toml"), spec)
	if err != nil {
		return fail(err)
	}
	opts.GCPKMSEndpoint = f.URL + "/v1/"
	return &simCloud{keyConfig: kc, close: f.Close}, nil
}

// SimAzureKey is the Key Vault key the offline Azure demo creates in its fake.
const SimAzureKey = "tikv-master"

// startSimAzure runs the HTTPS Entra + Key Vault + Managed HSM fake, creates
// an RSA key and an application with a client secret, and writes a
// [key.azure] table (create-keys on, so rotate makes "tikv-master-g2").
func startSimAzure(dir string, opts *sim.Options) (*simCloud, error) {
	f, err := azurekmsfake.Start()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*simCloud, error) { f.Close(); return nil, err }
	if err := f.CreateKey(SimAzureKey); err != nil {
		return fail(err)
	}
	adir := filepath.Join(dir, "azure")
	if err := os.MkdirAll(adir, 0o700); err != nil {
		return fail(err)
	}
	const clientID = "5a1ba7e0-0000-4000-8000-00000000a2ce"
	files := map[string][]byte{"ca.pem": f.CAPEM, "client-secret": []byte(f.AddClientSecret(clientID) + "\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(adir, name), data, 0o600); err != nil {
			return fail(err)
		}
	}
	spec := kms.Spec{Backend: "azure", Azure: &azurekms.Config{
		KeyID: SimAzureKey, TenantID: azurekmsfake.Tenant, ClientID: clientID,
		KeyvaultURL: f.VaultURL, HSMName: "tikv-ear-sim-hsm", HSMURL: f.HSMURL,
		ClientSecretFile: filepath.Join(adir, "client-secret"), CreateKeys: true,
		AuthorityHost: f.AuthorityHost, CAFile: filepath.Join(adir, "ca.pem"), DisableChallengeResourceVerification: true,
	}}
	kc, err := writeKeyConfig(filepath.Join(dir, "key-azure.toml"), spec)
	if err != nil {
		return fail(err)
	}
	opts.AzureAuthorityHost, opts.CloudCAFile = f.AuthorityHost, filepath.Join(adir, "ca.pem")
	return &simCloud{keyConfig: kc, close: f.Close}, nil
}

// writeKeyConfig writes spec as the [key] table `plan --key-config` reads.
func writeKeyConfig(path string, spec kms.Spec) (string, error) {
	data, err := toml.Marshal(struct {
		Key kms.Spec `toml:"key"`
	}{spec})
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
