package cli

import (
	"fmt"
	"os"
	"path/filepath"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/kmsdemo"
	"github.com/tikv-ear/tikv-ear/sim"
)

// SimGCPKeyID is the CryptoKey the offline GCP demo creates in its fake.
const SimGCPKeyID = kmsdemo.GCPKeyID

// simCloud is an in-process cloud KMS `sim up --cloud-kms` runs beside the
// sim, with the [key] table that points plan at it.
type simCloud struct {
	keyConfig string // path of the [key] TOML for `plan --key-config`
	close     func()
}

// startSimCloud starts the fake for vendor (package kmsdemo) and writes
// <dir>/key-<vendor>.toml. It sets the sim options the stores need to reach it.
func startSimCloud(vendor, dir string, opts *sim.Options) (*simCloud, error) {
	var c *kmsdemo.Cloud
	var err error
	switch vendor {
	case "":
		return nil, nil
	case "gcp":
		c, err = kmsdemo.StartGCP(dir)
	case "azure":
		c, err = kmsdemo.StartAzure(dir)
	default:
		return nil, fmt.Errorf("unknown cloud KMS %q", vendor)
	}
	if err != nil {
		return nil, err
	}
	kc, err := writeKeyConfig(filepath.Join(dir, "key-"+vendor+".toml"), c.Spec)
	if err != nil {
		c.Close()
		return nil, err
	}
	simCloudOptions(c, opts)
	return &simCloud{keyConfig: kc, close: c.Close}, nil
}

// simCloudOptions points the sim's stores at c (TiKV's hard-coded Cloud KMS
// endpoint or Entra authority stands replaced, its certificate trusted).
func simCloudOptions(c *kmsdemo.Cloud, opts *sim.Options) {
	if c.GCPEndpoint != "" {
		opts.GCPKMSEndpoint = c.GCPEndpoint
	}
	if c.AzureAuthorityHost != "" {
		opts.AzureAuthorityHost, opts.CloudCAFile = c.AzureAuthorityHost, c.CAFile
	}
}

// SimAzureKey is the Key Vault key the offline Azure demo creates in its fake.
const SimAzureKey = kmsdemo.AzureKey

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
