// Package kmsdemo runs the offline cloud key services of the demo and of
// 'tikv-ear sim up --cloud-kms': the in-process Cloud KMS and Azure Key Vault
// fakes (gcpkmsfake, azurekmsfake) behind the real SDKs, each with a key,
// credentials in files, and the [key.<vendor>] spec that reaches it. One
// implementation serves the command line, the wizard's demo and their tests.
package kmsdemo

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms/azurekmsfake"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms/gcpkmsfake"
)

// GCPKeyID is the CryptoKey the offline GCP service holds.
const GCPKeyID = "projects/tikv-ear-sim/locations/global/keyRings/tikv/cryptoKeys/master"

// GCPRotationPeriod is that key's automatic rotation period.
const GCPRotationPeriod = 90 * 24 * time.Hour

// AzureKey is the Key Vault key the offline Azure service holds.
const AzureKey = "tikv-master"

// azureClientID is the application the offline Azure service knows.
const azureClientID = "5a1ba7e0-0000-4000-8000-00000000a2ce"

// Cloud is one running offline key service.
type Cloud struct {
	// Spec is the [key] table that points a plan at it.
	Spec kms.Spec
	// GCPEndpoint is what the sim's stores use instead of TiKV's hard-coded
	// https://cloudkms.googleapis.com/v1/ (sim.Options.GCPKMSEndpoint); "" for Azure.
	GCPEndpoint string
	// AzureAuthorityHost and CAFile are what the sim's stores use to sign in
	// to and trust the Azure service (sim.Options); "" for GCP.
	AzureAuthorityHost, CAFile string
	close                      func()
}

// Close stops the service.
func (c *Cloud) Close() {
	if c != nil && c.close != nil {
		c.close()
	}
}

// operator is the user every sim host runs as: the operator on this machine.
func operator() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// StartGCP runs a Cloud KMS REST fake that demands authentication, with an
// HSM key rotated every GCPRotationPeriod and a service account for it; the
// spec's credentials-file (under dir/gcp) is what apply delivers to every
// store at dir/tikv-credentials/gcp-kms.json.
func StartGCP(dir string) (*Cloud, error) {
	f, err := gcpkmsfake.Start(gcpkmsfake.Options{RequireAuth: true})
	if err != nil {
		return nil, fmt.Errorf("starting the Cloud KMS fake: %w", err)
	}
	fail := func(err error) (*Cloud, error) { f.Close(); return nil, err }
	if err := f.CreateKey(GCPKeyID, gcpkmsfake.Key{ProtectionLevel: kmspb.ProtectionLevel_HSM, RotationPeriod: GCPRotationPeriod}); err != nil {
		return fail(err)
	}
	sa, err := f.ServiceAccountJSON("tikv@tikv-ear-sim.iam.gserviceaccount.com", "tikv-ear-sim")
	if err != nil {
		return fail(err)
	}
	gdir := filepath.Join(dir, "gcp")
	if err := os.MkdirAll(gdir, 0o700); err != nil {
		return fail(fmt.Errorf("creating %s: %w", gdir, err))
	}
	credFile := filepath.Join(gdir, "service-account.json")
	if err := os.WriteFile(credFile, sa, 0o600); err != nil {
		return fail(fmt.Errorf("writing %s: %w", credFile, err))
	}
	spec := kms.Spec{Backend: "gcp", GCP: &gcpkms.Config{
		KeyID: GCPKeyID, CredentialsFile: credFile, Owner: operator(), Endpoint: f.URL,
		CredentialFilePath: filepath.Join(dir, "tikv-credentials", "gcp-kms.json"),
	}}
	return &Cloud{Spec: spec, GCPEndpoint: f.URL + "/v1/", close: f.Close}, nil
}

// StartAzure runs the HTTPS Entra + Key Vault + Managed HSM fake with an RSA
// key and an application whose client secret is in a file under dir/azure;
// create-keys is on, so a rotation makes "tikv-master-g2".
func StartAzure(dir string) (*Cloud, error) {
	f, err := azurekmsfake.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the Azure Key Vault fake: %w", err)
	}
	fail := func(err error) (*Cloud, error) { f.Close(); return nil, err }
	if err := f.CreateKey(AzureKey); err != nil {
		return fail(err)
	}
	adir := filepath.Join(dir, "azure")
	if err := os.MkdirAll(adir, 0o700); err != nil {
		return fail(fmt.Errorf("creating %s: %w", adir, err))
	}
	files := map[string][]byte{"ca.pem": f.CAPEM, "client-secret": []byte(f.AddClientSecret(azureClientID) + "\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(adir, name), data, 0o600); err != nil {
			return fail(fmt.Errorf("writing %s: %w", name, err))
		}
	}
	ca := filepath.Join(adir, "ca.pem")
	spec := kms.Spec{Backend: "azure", Azure: &azurekms.Config{
		KeyID: AzureKey, TenantID: azurekmsfake.Tenant, ClientID: azureClientID,
		KeyvaultURL: f.VaultURL, HSMName: "tikv-ear-sim-hsm", HSMURL: f.HSMURL,
		ClientSecretFile: filepath.Join(adir, "client-secret"), CreateKeys: true, Owner: operator(),
		AuthorityHost: f.AuthorityHost, CAFile: ca, DisableChallengeResourceVerification: true,
	}}
	return &Cloud{Spec: spec, AzureAuthorityHost: f.AuthorityHost, CAFile: ca, close: f.Close}, nil
}
