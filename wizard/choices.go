package wizard

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
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
		o.Speed = mbps[o.Method]
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

// Throughput sampling: how many samples per method and how much each encrypts.
const (
	speedSamples = 9
	speedBytes   = 4 << 20
)

// throughput samples AES-CTR on this machine once (crypto/aes with
// cipher.NewCTR): speedSamples rounds, each method once per round, so a
// burst of other work slows every method alike instead of one. Go has no
// SM4, so sm4-ctr has no samples.
func (d *Driver) throughput() map[string]ui.Throughput {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mbps == nil {
		methods := []string{tikv.MethodAES128CTR, tikv.MethodAES192CTR, tikv.MethodAES256CTR}
		d.mbps = map[string]ui.Throughput{}
		machine := machineName()
		for _, m := range methods {
			d.mbps[m] = ui.Throughput{Bytes: speedBytes, Machine: machine}
		}
		for range speedSamples {
			for _, m := range methods {
				if v := measureCTR(tikv.MethodKeyLen(m), speedBytes); v > 0 {
					t := d.mbps[m]
					t.Samples = append(t.Samples, v)
					d.mbps[m] = t
				}
			}
		}
	}
	return d.mbps
}

// machineName names the machine the samples were taken on: the CPU model
// (Linux /proc/cpuinfo "model name"), its cores and GOARCH.
func machineName() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	return strings.TrimPrefix(fmt.Sprintf("%s, %d cores, %s", model, runtime.NumCPU(), runtime.GOARCH), ", ")
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

// Backends implements ui.Driver: every backend with its settings, generated
// from the backend's own field list (kms.Fields) and pre-filled from the
// demo's key services (Config.AWS, Vault, GCP, Azure) or the sim's
// directories; a file key is refused in production.
func (d *Driver) Backends(ctx context.Context, disc ui.Discovery, env string) ([]ui.BackendOption, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	sim := map[string]string{} // a sim's hosts are directories on this machine, run as the operator
	if s != nil && s.Flags.Sim != "" {
		spec := kms.Spec{Backend: "file"}
		steps.SimKeyDefaults(s, &spec)
		sim = map[string]string{"key-dir": spec.File.KeyDir, "host-key-dir": spec.File.HostKeyDir, "owner": spec.File.Owner}
	}
	opt := func(name, title, summary string, prefill *kms.Spec) ui.BackendOption {
		vals := map[string]string{}
		if prefill != nil {
			vals = kms.FieldValues(*prefill)
		}
		return ui.BackendOption{Name: name, Title: title, Summary: summary, Fields: formFields(kms.Fields(name), vals, sim)}
	}
	file := opt("file", "Key file on every host", "generated here, copied to each host", nil)
	if env == steps.EnvProduction {
		file.Disabled, file.Reason = true, "refused for production: the master key would be generated and kept outside any key service"
	}
	var awsPre, vaultPre, gcpPre, azurePre *kms.Spec
	if d.cfg.AWS != nil {
		awsPre = &kms.Spec{Backend: "aws", AWS: d.cfg.AWS}
	}
	if d.cfg.Vault != nil {
		vaultPre = &kms.Spec{Backend: "vault", Vault: d.cfg.Vault}
	}
	if d.cfg.GCP != nil {
		gcpPre = &kms.Spec{Backend: "gcp", GCP: d.cfg.GCP}
	}
	if d.cfg.Azure != nil {
		azurePre = &kms.Spec{Backend: "azure", Azure: d.cfg.Azure}
	}
	aws := opt("aws", "AWS KMS", "TiKV calls KMS itself at start", awsPre)
	if a := d.cfg.AWS; a != nil {
		aws.Summary = "local-kms emulator, " + a.KeyID
	}
	vlt := opt("vault", "HashiCorp Vault", "file key wrapped by transit", vaultPre)
	if v := d.cfg.Vault; v != nil {
		vlt.Summary = "Vault at " + v.Address
	}
	gcp := opt("gcp", "Google Cloud KMS", "experimental upstream", gcpPre)
	if d.cfg.GCP != nil {
		gcp.Summary = "in-process Cloud KMS fake"
	}
	azure := opt("azure", "Azure Key Vault", "Key Vault key + Managed HSM", azurePre)
	if d.cfg.Azure != nil {
		azure.Summary = "in-process Key Vault fake"
	}
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

// formFields turns a backend's fields into the form's, each value taken from
// vals (the pre-filled spec), else the sim's directories, else the field's default.
func formFields(fields []kms.Field, vals, sim map[string]string) []ui.BackendField {
	out := make([]ui.BackendField, 0, len(fields))
	for _, f := range fields {
		v := cmp.Or(vals[f.Key], sim[f.Key], f.Default)
		out = append(out, ui.BackendField{Key: f.Key, Label: f.Label, Help: f.Help, Value: v, Placeholder: f.Placeholder,
			Required: f.Required, Pattern: f.Pattern, PatternHelp: f.PatternHelp, Format: f.Format, OneOf: f.OneOf,
			Secret: f.Secret, Advanced: f.Advanced})
	}
	return out
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
	spec, err := kms.SpecFromFields(backend, f)
	if err != nil {
		return spec, fmt.Errorf("key backend settings: %w", err)
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
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%v|%v|%s|%s", connectKey(c.Connect), c.Connect.Environment, c.Method, c.DataKeyRotation, c.Backend, c.Rotate, c.Incident, c.Signer, c.SignerKey)
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
	req := steps.PlanRequest{
		Environment: c.Connect.Environment, Method: c.Method, RotationPeriod: c.DataKeyRotation, Key: spec,
		Strategy: d.cfg.Strategy, Policies: d.cfg.Policies, ReportDir: d.cfg.ReportDir, ReportKey: d.cfg.ReportKey, Rotation: d.cfg.Rotation,
	}
	d.signer(c, &req)
	planned, err := steps.BuildPlan(ctx, s, req)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.planned, d.plannedBy = planned, key
	d.mu.Unlock()
	return planned, nil
}

// signer puts the report signer the operator chose into req. A Vault or AWS
// signing key is reached like the key backend of the same service when that
// is the backend (steps.Plan.SignerConfig), else like the service the driver
// was pre-pointed at (the demo's Vault or local-kms), else through the
// environment (VAULT_ADDR/VAULT_TOKEN, the AWS SDK's chain). An unusable
// signer fails preflight ("report-signer"), never falls back to a file key.
func (d *Driver) signer(c ui.Choices, req *steps.PlanRequest) {
	req.Signer = c.Signer
	switch c.Signer {
	case report.SignerVault:
		v := &report.VaultSignerConfig{Key: c.SignerKey}
		if pre := d.cfg.Vault; pre != nil && c.Backend != "vault" {
			v.Address, v.TokenFile, v.Namespace, v.CACert = pre.Address, pre.TokenFile, pre.Namespace, pre.CACert
		}
		req.SignerVault = v
	case report.SignerAWS:
		a := &report.AWSSignerConfig{KeyID: c.SignerKey}
		if pre := d.cfg.AWS; pre != nil && c.Backend != "aws" {
			a.Region, a.Endpoint, a.Profile, a.CredentialsFile = pre.Region, pre.Endpoint, pre.Profile, pre.CredentialsFile
		}
		req.SignerAWS = a
	}
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
