package wizard

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// Algorithms implements ui.Driver: each data-encryption-method with its
// version gate per store, AES-NI per host and throughput measured here.
func (d *Driver) Algorithms(ctx context.Context, disc ui.Discovery) ([]ui.AlgorithmOption, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	var aesni []ui.HostFlag
	if s != nil {
		aesni = hostAESNI(ctx, s)
	}
	mbps := d.throughput()
	gateEnc, gateSM4 := tikv.MustVersion(tikv.GateEncryption), tikv.MustVersion(tikv.GateSM4Docs)
	// Texts stay short: the wizard shows each on one line of an 80-column terminal.
	aesNote := "AES (FIPS 197) in CTR mode (NIST SP 800-38A)"
	opts := []ui.AlgorithmOption{
		{Method: tikv.MethodAES128CTR, Summary: "AES with a 128-bit data key", Compliance: aesNote},
		{Method: tikv.MethodAES192CTR, Summary: "AES with a 192-bit data key", Compliance: aesNote},
		{Method: tikv.MethodAES256CTR, Summary: "AES with a 256-bit data key", Compliance: aesNote, Recommended: true},
		// SM4 facts: reference tikv-encryption.md §2.4 (static OpenSSL builds only; "50% to 80% degradation on throughput").
		{Method: tikv.MethodSM4CTR, Summary: "SM4; only TiKV built with static OpenSSL",
			Compliance: "SM4 (GB/T 32907-2016); throughput can drop 50%–80%"},
	}
	for i := range opts {
		o := &opts[i]
		o.MBps = mbps[o.Method]
		o.AESNI = aesni
		gate := gateEnc
		if o.Method == tikv.MethodSM4CTR {
			gate = gateSM4
		}
		var bad []string
		for _, st := range disc.Stores {
			g := ui.Gate{StoreID: st.ID, OK: true}
			v, err := tikv.ParseVersion(st.Version)
			switch {
			case err != nil:
				g.OK, g.Reason = false, fmt.Sprintf("version %q does not parse: %v", st.Version, err)
			case v.Less(gate):
				g.OK, g.Reason = false, fmt.Sprintf("TiKV %s; %s needs %s or later", v, o.Method, gate)
			}
			if !g.OK {
				bad = append(bad, fmt.Sprintf("store %d", st.ID))
			}
			o.Gates = append(o.Gates, g)
		}
		if len(bad) > 0 {
			o.Disabled, o.Reason = true, fmt.Sprintf("%s run TiKV older than %s", strings.Join(bad, ", "), gate)
			o.Recommended = false
		}
	}
	return opts, nil
}

// hostAESNI reads /proc/cpuinfo on every host over SSH.
func hostAESNI(ctx context.Context, s *steps.Cluster) []ui.HostFlag {
	out := make([]ui.HostFlag, len(s.Inventory.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.Inventory.Nodes {
		out[i].Host = n.Host
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := ssh.Node{Exec: s.SSH, Host: steps.SSHTarget(steps.NodePlanOf(n, s.Flags.SSHUser))}
			if ok, err := node.CPUHasAES(ctx); err == nil {
				out[i].Value, out[i].Known = ok, true
			}
		}()
	}
	wg.Wait()
	return out
}

// throughput measures AES-CTR on this machine once (crypto/aes with
// cipher.NewCTR over a few MB per key size). Go has no SM4, so sm4-ctr stays 0.
func (d *Driver) throughput() map[string]float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mbps == nil {
		d.mbps = map[string]float64{}
		for _, m := range []string{tikv.MethodAES128CTR, tikv.MethodAES192CTR, tikv.MethodAES256CTR} {
			best := 0.0
			for range 3 { // best of three: the machine may be busy with other work
				best = max(best, measureCTR(tikv.MethodKeyLen(m), 4<<20))
			}
			d.mbps[m] = best
		}
	}
	return d.mbps
}

// measureCTR returns MB/s of AES-CTR with a keyLen-byte key over total bytes; 0 on error.
func measureCTR(keyLen, total int) float64 {
	key := make([]byte, keyLen)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(key); err != nil {
		return 0
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return 0
	}
	stream := cipher.NewCTR(block, iv)
	buf := make([]byte, 1<<20)
	start := time.Now()
	for done := 0; done < total; done += len(buf) {
		stream.XORKeyStream(buf, buf)
	}
	el := time.Since(start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(total) / 1e6 / el
}

// Backends implements ui.Driver: every backend with its settings; a file key
// is refused in production.
func (d *Driver) Backends(ctx context.Context, disc ui.Discovery, env string) ([]ui.BackendOption, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	keyDir, hostDir, owner := "", "/run/tikv-keys", "tidb" // kms/core DefaultHostKeyDir, DefaultOwner
	if s != nil && s.Flags.Sim != "" {
		spec := kms.Spec{Backend: "file"}
		steps.SimKeyDefaults(s, &spec)
		keyDir, hostDir, owner = spec.File.KeyDir, spec.File.HostKeyDir, spec.File.Owner
	}
	file := ui.BackendOption{Name: "file", Title: "Key file on every host", Summary: "generated here, copied to each host",
		Fields: []ui.BackendField{
			{Key: "key-dir", Label: "Key directory", Help: "private directory on this machine that keeps the generated keys", Value: keyDir, Required: true},
			{Key: "host-key-dir", Label: "Host key directory", Help: "where the key file goes on the TiKV hosts (tmpfs)", Value: hostDir, Required: true, Pattern: `^/`, PatternHelp: "use an absolute path, e.g. /run/tikv-keys"},
			{Key: "owner", Label: "Key file owner", Help: "the user TiKV runs as", Value: owner, Required: true},
		}}
	if env == steps.EnvProduction {
		file.Disabled, file.Reason = true, "refused for production: the master key would be generated and kept outside any key service"
	}
	aws := ui.BackendOption{Name: "aws", Title: "AWS KMS", Summary: "TiKV calls KMS itself at start",
		Fields: []ui.BackendField{
			{Key: "key-id", Label: "Key ID", Help: "CMK key id, key ARN or alias/NAME", Placeholder: "alias/tikv-master", Required: true,
				Pattern: `^(alias/.+|arn:aws[a-z-]*:kms:.+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`, PatternHelp: "use alias/NAME, a key ARN or a key id"},
			{Key: "region", Label: "Region", Placeholder: "us-west-2", Required: true},
			{Key: "endpoint", Label: "Endpoint", Help: "optional: a VPC endpoint (written into tikv.toml too)", Pattern: `^https?://`, PatternHelp: "use an http(s):// URL"},
			{Key: "credentials-file", Label: "Credentials file", Help: "optional: shared-credentials file for this tool (default chain otherwise)"},
		}}
	if a := d.cfg.AWS; a != nil {
		vals := map[string]string{"key-id": a.KeyID, "region": a.Region, "endpoint": a.Endpoint, "credentials-file": a.CredentialsFile}
		for i := range aws.Fields {
			aws.Fields[i].Value = vals[aws.Fields[i].Key]
		}
		aws.Summary = "local-kms emulator, " + a.KeyID
	}
	vlt := ui.BackendOption{Name: "vault", Title: "HashiCorp Vault", Summary: "file key wrapped by transit",
		Fields: []ui.BackendField{
			{Key: "address", Label: "Vault address", Placeholder: "https://vault:8200", Required: true, Pattern: `^https?://`, PatternHelp: "use an http(s):// URL"},
			{Key: "cluster", Label: "Cluster name", Help: "names the transit key and the KV path", Required: true},
			{Key: "token-file", Label: "Token file", Help: "file holding the Vault token (VAULT_TOKEN, else BAO_TOKEN, otherwise)"},
			{Key: "namespace", Label: "Namespace", Help: "optional: Vault Enterprise / OpenBao namespace (VAULT_NAMESPACE otherwise)"},
			{Key: "create-kek", Label: "Create the KEK", Help: "yes: create the transit key when it is missing (the token needs update on transit/keys/<kek>)", Value: "no", Pattern: `^(yes|no)$`, PatternHelp: "answer yes or no"},
			{Key: "host-key-dir", Label: "Host key directory", Value: hostDir, Pattern: `^/`, PatternHelp: "use an absolute path, e.g. /run/tikv-keys"},
			{Key: "owner", Label: "Key file owner", Value: owner},
		}}
	if v := d.cfg.Vault; v != nil {
		vals := map[string]string{"address": v.Address, "cluster": v.Cluster, "token-file": v.TokenFile, "namespace": v.Namespace, "create-kek": map[bool]string{true: "yes", false: "no"}[v.CreateKEK]}
		for i := range vlt.Fields {
			if val, ok := vals[vlt.Fields[i].Key]; ok && val != "" {
				vlt.Fields[i].Value = val
			}
		}
		vlt.Summary = "Vault at " + v.Address
	}
	gcp := ui.BackendOption{Name: "gcp", Title: "Google Cloud KMS", Summary: "experimental upstream",
		Fields: []ui.BackendField{
			{Key: "key-id", Label: "Key name", Placeholder: "projects/P/locations/L/keyRings/R/cryptoKeys/K", Required: true, Pattern: gcpkms.KeyIDPattern, PatternHelp: "use projects/P/locations/L/keyRings/R/cryptoKeys/K"},
			{Key: "credential-file-path", Label: "Credential file on the hosts", Help: "optional: TiKV's credential-file-path"},
		}}
	azure := ui.BackendOption{Name: "azure", Title: "Azure Key Vault",
		Fields: []ui.BackendField{
			{Key: "key-id", Label: "Key name", Required: true},
			{Key: "keyvault-url", Label: "Key Vault URL", Placeholder: "https://NAME.vault.azure.net", Required: true, Pattern: `^https://`, PatternHelp: "use an https:// URL"},
			{Key: "tenant-id", Label: "Tenant ID", Required: true},
			{Key: "client-id", Label: "Client ID", Required: true},
			{Key: "client-secret-file", Label: "Client secret file", Help: "file holding the client secret"},
		}}
	gateBackend(&gcp, disc, tikv.GateGCP)
	gateBackend(&azure, disc, tikv.GateAzure)
	order := []ui.BackendOption{aws, vlt, gcp, azure, file}
	switch {
	case d.cfg.Vault != nil:
		order = []ui.BackendOption{vlt, aws, gcp, azure, file}
	case d.cfg.AWS != nil:
	case env != steps.EnvProduction:
		order = []ui.BackendOption{file, aws, vlt, gcp, azure}
	}
	return order, nil
}

// gateBackend disables a backend some store's TiKV is too old for.
func gateBackend(b *ui.BackendOption, disc ui.Discovery, gate string) {
	g := tikv.MustVersion(gate)
	var old []string
	for _, st := range disc.Stores {
		if v, err := tikv.ParseVersion(st.Version); err == nil && v.Less(g) {
			old = append(old, fmt.Sprint(st.ID))
		}
	}
	if len(old) > 0 {
		b.Disabled, b.Reason = true, fmt.Sprintf("needs TiKV %s or later; store(s) %s run older", gate, strings.Join(old, ", "))
	}
}

// keySpec maps the backend screen's fields onto kms.Spec.
func keySpec(backend string, f map[string]string) (kms.Spec, error) {
	spec := kms.Spec{Backend: backend}
	switch backend {
	case "file":
		spec.File = &filekey.Config{KeyDir: f["key-dir"], HostKeyDir: f["host-key-dir"], Owner: f["owner"]}
	case "aws":
		spec.AWS = &awskms.Config{KeyID: f["key-id"], Region: f["region"], Endpoint: f["endpoint"], CredentialsFile: f["credentials-file"]}
	case "vault":
		spec.Vault = &vault.Config{Address: f["address"], Cluster: f["cluster"], TokenFile: f["token-file"], Namespace: f["namespace"],
			CreateKEK: f["create-kek"] == "yes", HostKeyDir: f["host-key-dir"], Owner: f["owner"]}
	case "gcp":
		spec.GCP = &gcpkms.Config{KeyID: f["key-id"], CredentialFilePath: f["credential-file-path"]}
	case "azure":
		spec.Azure = &azurekms.Config{KeyID: f["key-id"], KeyvaultURL: f["keyvault-url"], TenantID: f["tenant-id"], ClientID: f["client-id"], ClientSecretFile: f["client-secret-file"]}
	default:
		return spec, fmt.Errorf("key backend %q is unknown: choose file, aws, vault, gcp or azure", backend)
	}
	return spec, nil
}

// choiceKey identifies the choices a plan was built from.
func choiceKey(c ui.Choices) string {
	keys := make([]string, 0, len(c.BackendFields))
	for k := range c.BackendFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%v|%v", connectKey(c.Connect), c.Connect.Environment, c.Method, c.DataKeyRotation, c.Backend, c.Rotate, c.Incident)
	for _, k := range keys {
		fmt.Fprintf(&b, "|%s=%s", k, c.BackendFields[k])
	}
	return b.String()
}

// plan builds (or reuses) the plan for the choices with cli.BuildPlan.
func (d *Driver) plan(ctx context.Context, c ui.Choices) (*steps.Planned, error) {
	if c.Rotate || c.Incident {
		return nil, errors.New("a master-key rotation starts from its plan: use BuildPlan")
	}
	key := choiceKey(c)
	d.mu.Lock()
	if d.planned != nil && d.plannedBy == key {
		p := d.planned
		d.mu.Unlock()
		return p, nil
	}
	d.mu.Unlock()
	spec, err := keySpec(c.Backend, c.BackendFields)
	if err != nil {
		return nil, err
	}
	s, err := d.session(ctx, c.Connect)
	if err != nil {
		return nil, err
	}
	planned, err := steps.BuildPlan(ctx, s, steps.PlanRequest{
		Environment: c.Connect.Environment, Method: c.Method, RotationPeriod: c.DataKeyRotation, Key: spec,
		Strategy: d.cfg.Strategy, Policies: d.cfg.Policies, ReportDir: d.cfg.ReportDir, ReportKey: d.cfg.ReportKey, Rotation: d.cfg.Rotation,
	})
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.planned, d.plannedBy = planned, key
	d.mu.Unlock()
	return planned, nil
}

// Preflight implements ui.Driver: the read-only checks of the plan the
// choices make (key backend, PD, every host over SSH).
func (d *Driver) Preflight(ctx context.Context, c ui.Choices) ([]steps.Check, error) {
	if c.Rotate || c.Incident {
		prev, err := d.buildRotation(ctx, c)
		return prev.Checks, err
	}
	p, err := d.plan(ctx, c)
	if err != nil {
		return nil, err
	}
	return p.Checks, nil
}

// BuildPlan implements ui.Driver with cli.BuildPlan.
func (d *Driver) BuildPlan(ctx context.Context, c ui.Choices) (ui.PlanPreview, error) {
	if c.Rotate || c.Incident {
		return d.buildRotation(ctx, c)
	}
	p, err := d.plan(ctx, c)
	if err != nil {
		return ui.PlanPreview{}, err
	}
	if b := steps.Blocking(p.Checks); len(b) > 0 {
		return ui.PlanPreview{}, fmt.Errorf("preflight has %d blocking finding(s), first: %s", len(b), b[0].Message)
	}
	prev := ui.PlanPreview{Plan: p.Plan, Batches: p.Batches}
	for _, n := range p.Plan.Nodes {
		if diff := p.Diffs[n.StoreID]; diff != "" {
			prev.Diffs = append(prev.Diffs, ui.NodeDiff{StoreID: n.StoreID, Host: n.Host, Path: n.ConfigPath, Unified: diff})
		}
	}
	return prev, nil
}

// SavePlan implements ui.Driver: plan.toml at path, mode 0600.
func (d *Driver) SavePlan(_ context.Context, p ui.PlanPreview, path string) error {
	if p.Plan == nil {
		return errors.New("no plan to save: build one first")
	}
	data, err := p.Plan.Encode()
	if err != nil {
		return fmt.Errorf("encoding the plan: %w", err)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	d.mu.Lock()
	d.saved = path
	d.mu.Unlock()
	return nil
}
