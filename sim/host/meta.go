package host

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// ClusterMeta is TiUP's meta.yaml (pingcap/tiup pkg/cluster/spec/util.go
// ClusterMeta; reference pd-and-tiup.md §3), with the fields the sim fills.
type ClusterMeta struct {
	User        string   `yaml:"user"`
	TiDBVersion string   `yaml:"tidb_version"`
	Topology    Topology `yaml:"topology"`
}

// Topology is meta.yaml's topology (pkg/cluster/spec/spec.go Specification).
type Topology struct {
	Global        GlobalOptions             `yaml:"global"`
	ServerConfigs map[string]map[string]any `yaml:"server_configs"`
	TiKVServers   []TiKVSpec                `yaml:"tikv_servers"`
	PDServers     []PDSpec                  `yaml:"pd_servers"`
}

// GlobalOptions is topology.global (spec.go GlobalOptions).
type GlobalOptions struct {
	User        string `yaml:"user"`
	SSHPort     int    `yaml:"ssh_port"`
	SSHType     string `yaml:"ssh_type,omitempty"`
	DeployDir   string `yaml:"deploy_dir"`
	DataDir     string `yaml:"data_dir"`
	OS          string `yaml:"os"`
	Arch        string `yaml:"arch"`
	SystemdMode string `yaml:"systemd_mode"`
}

// TiKVSpec is one tikv_servers entry (pkg/cluster/spec/tikv.go TiKVSpec).
type TiKVSpec struct {
	Host       string         `yaml:"host"`
	SSHPort    int            `yaml:"ssh_port"`
	Port       int            `yaml:"port"`
	StatusPort int            `yaml:"status_port"`
	DeployDir  string         `yaml:"deploy_dir"`
	DataDir    string         `yaml:"data_dir"`
	LogDir     string         `yaml:"log_dir"`
	Config     map[string]any `yaml:"config,omitempty"`
	Arch       string         `yaml:"arch"`
	OS         string         `yaml:"os"`
}

// PDSpec is one pd_servers entry (pkg/cluster/spec/pd.go PDSpec).
type PDSpec struct {
	Host       string `yaml:"host"`
	SSHPort    int    `yaml:"ssh_port,omitempty"`
	Name       string `yaml:"name"`
	ClientPort int    `yaml:"client_port"`
	PeerPort   int    `yaml:"peer_port,omitempty"`
	DeployDir  string `yaml:"deploy_dir,omitempty"`
	DataDir    string `yaml:"data_dir,omitempty"`
	LogDir     string `yaml:"log_dir,omitempty"`
	Arch       string `yaml:"arch"`
	OS         string `yaml:"os"`
}

// ClusterDir returns TiUP's per-cluster directory under a TiUP home:
// <home>/storage/cluster/clusters/<name> (pkg/cluster/spec/profile.go).
func ClusterDir(tiupHome, name string) string {
	return filepath.Join(tiupHome, "storage", "cluster", "clusters", name)
}

// WriteMeta writes <clusterDir>/meta.yaml.
func WriteMeta(clusterDir string, meta ClusterMeta) (string, error) {
	if err := os.MkdirAll(clusterDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", clusterDir, err)
	}
	data, err := yaml.Marshal(meta)
	if err != nil {
		return "", fmt.Errorf("encoding meta.yaml: %w", err)
	}
	path := filepath.Join(clusterDir, "meta.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// OperatorKey is the operator's SSH key pair.
type OperatorKey struct {
	Signer     ssh.Signer
	PrivatePEM []byte // OpenSSH private key format
}

// NewOperatorKey generates an ed25519 key pair (TiUP generates RSA for
// ssh/id_rsa; ed25519 is used here because it is instant to generate).
func NewOperatorKey() (OperatorKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return OperatorKey{}, fmt.Errorf("generating operator key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return OperatorKey{}, fmt.Errorf("loading operator key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "tikv-ear sim operator")
	if err != nil {
		return OperatorKey{}, fmt.Errorf("encoding operator key: %w", err)
	}
	return OperatorKey{Signer: signer, PrivatePEM: pem.EncodeToMemory(block)}, nil
}

// WriteKeyPair writes the private key (0600) and the public key (0644).
func (k OperatorKey) WriteKeyPair(privPath string) error {
	if err := os.MkdirAll(filepath.Dir(privPath), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(privPath), err)
	}
	if err := os.WriteFile(privPath, k.PrivatePEM, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", privPath, err)
	}
	if err := os.Chmod(privPath, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", privPath, err)
	}
	pub := ssh.MarshalAuthorizedKey(k.Signer.PublicKey())
	if err := os.WriteFile(privPath+".pub", pub, 0o644); err != nil {
		return fmt.Errorf("writing %s.pub: %w", privPath, err)
	}
	return nil
}
