package cli

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// wizardConfig is what the wizard's driver needs besides the operator's answers.
type wizardConfig struct {
	// Base holds connection settings the Connect screen does not ask for
	// (--sim, PD TLS files, timeouts); the screen's answers override it.
	Base ConnectFlags
	// PlanPath is where the plan is saved; the journal is PlanPath + ".journal".
	PlanPath  string
	ReportDir string
	ReportKey string
	Strategy  steps.Strategy
	Policies  steps.Policies
	// Rotation is the master-key rotation period written into the plan ("365d").
	Rotation string
	// AWS pre-fills the AWS backend (the demo's local-kms) and offers it first; nil for none.
	AWS *awskms.Config
	// Journal overrides the journal path (default PlanPath + ".journal").
	Journal string
	// Incident and Retire shape a rotation (tikv-ear rotate --incident,
	// --retire-old): incident tightens the strategy, and both revoke the old
	// generation at the end once the operator confirms it on the dashboard.
	Incident, Retire bool
}

// wizardDriver is ui.Driver over the real engine: the same session, planner,
// runner, journal and report writer as 'tikv-ear plan' and 'tikv-ear apply'.
type wizardDriver struct {
	cfg wizardConfig

	mu        sync.Mutex
	sess      *Session // the last Discover's session
	sessKey   string
	planned   *Planned // the last Preflight/BuildPlan, reused while the choices stay the same
	plannedBy string
	saved     string // the path the plan was last saved to
	run       *wizardRun
	mbps      map[string]float64
	report    *ui.ReportFiles // the last report written
}

// wizardRun is what the last Apply left for Verify and WriteReport.
type wizardRun struct {
	sess *Session
	eng  *Engine
	refs []kms.KeyRef
	kind string
	res  *steps.Result
}

var _ ui.Driver = (*wizardDriver)(nil)

func newWizardDriver(cfg wizardConfig) *wizardDriver {
	if cfg.PlanPath == "" {
		cfg.PlanPath = "plan.toml"
	}
	if cfg.ReportDir == "" {
		cfg.ReportDir = "tikv-ear-reports"
	}
	if cfg.Strategy.Batching == "" {
		cfg.Strategy = steps.DefaultStrategy()
	}
	if cfg.Policies.OnEvictTimeout == "" {
		cfg.Policies = steps.DefaultPolicies()
	}
	if cfg.Rotation == "" {
		cfg.Rotation = "365d"
	}
	if cfg.Base.Timeout == 0 {
		cfg.Base.Timeout = 10 * time.Second
	}
	if cfg.Base.Concurrency == 0 {
		cfg.Base.Concurrency = 20
	}
	return &wizardDriver{cfg: cfg}
}

// Close releases the SSH connections the driver holds.
func (d *wizardDriver) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != nil {
		d.sess.Close()
		d.sess = nil
	}
	if d.run != nil && d.run.sess != nil {
		d.run.sess.Close()
		d.run.sess = nil
	}
}

func (d *wizardDriver) journalPath() string { return journalPath(d.planPath(), d.cfg.Journal) }

func (d *wizardDriver) planPath() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.saved != "" {
		return d.saved
	}
	return d.cfg.PlanPath
}

// connectFlags lays the Connect screen's answers over the base flags.
func (d *wizardDriver) connectFlags(in ui.ConnectInput) ConnectFlags {
	f := d.cfg.Base
	if len(in.PD) > 0 {
		f.PD = slices.Clone(in.PD)
	}
	if in.TiUPName != "" {
		f.TiUPCluster = in.TiUPName
	}
	if in.SSHUser != "" {
		f.SSHUser = in.SSHUser
	}
	if in.Identity != "" {
		f.Identity = []string{in.Identity}
	}
	if in.KnownHosts != "" {
		f.KnownHosts = []string{in.KnownHosts}
	}
	if in.SSHConfig != "" {
		f.SSHConfig = in.SSHConfig
	}
	return f
}

func connectKey(in ui.ConnectInput) string {
	return fmt.Sprintf("%q", []string{strings.Join(in.PD, ","), in.TiUPName, in.SSHUser, in.Identity, in.KnownHosts, in.SSHConfig})
}

// session returns a session for in, reusing the last one for the same input.
func (d *wizardDriver) session(ctx context.Context, in ui.ConnectInput) (*Session, error) {
	d.mu.Lock()
	if d.sess != nil && d.sessKey == connectKey(in) {
		s := d.sess
		d.mu.Unlock()
		return s, nil
	}
	d.mu.Unlock()
	s, err := d.connectFlags(in).Connect(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess != nil {
		d.sess.Close()
	}
	d.sess, d.sessKey, d.planned = s, connectKey(in), nil
	return s, nil
}

// Discover implements ui.Driver: PD's stores joined with the inventory, each
// store's running encryption, and the findings that block a rollout.
func (d *wizardDriver) Discover(ctx context.Context, in ui.ConnectInput) (ui.Discovery, error) {
	d.mu.Lock()
	if d.sess != nil && d.sessKey == connectKey(in) { // "discover again" reads fresh
		d.sess.Close()
		d.sess = nil
	}
	d.mu.Unlock()
	s, err := d.session(ctx, in)
	if err != nil {
		return ui.Discovery{}, err
	}
	disc := ui.Discovery{ClusterID: s.ClusterID, ClusterName: clusterName(s), PD: s.Flags.PD}
	counts := map[uint64][2]int{}
	for _, st := range s.Stores {
		counts[st.Store.Id] = [2]int{st.Status.LeaderCount, st.Status.RegionCount}
	}
	rows := make([]ui.StoreRow, len(s.Inventory.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.Inventory.Nodes {
		np := NodePlan(n, s.Flags.SSHUser)
		rows[i] = ui.StoreRow{ID: n.StoreID, Address: n.Address, Host: n.Host, Zone: n.Labels["zone"], Version: n.Version,
			State: n.StateName, Leaders: counts[n.StoreID][0], Regions: counts[n.StoreID][1], Encryption: "?"}
		if n.StatusAddress == "" || n.StateName != "Up" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := StatusClient(np, s.Flags.Timeout).Config(ctx)
			if err != nil {
				return
			}
			rows[i].Encryption, rows[i].MasterKey = enc.EffectiveMethod(), masterKeyLabel(enc.MasterKey)
		}()
	}
	wg.Wait()
	disc.Stores = rows
	disc.Findings = d.findings(ctx, s)
	return disc, nil
}

// findings are the quick checks that block a rollout before any choice: stores
// not Up, an evict-leader scheduler already present, an unfinished run in the journal.
func (d *wizardDriver) findings(ctx context.Context, s *Session) []steps.Check {
	var out []steps.Check
	var notUp []string
	for _, n := range s.Inventory.Nodes {
		if n.StateName != "Up" {
			notUp = append(notUp, fmt.Sprintf("store %d (%s) is %s", n.StoreID, n.Address, n.StateName))
		}
	}
	if len(notUp) > 0 {
		out = append(out, steps.Check{ID: "stores-up", Status: steps.Fail, Message: strings.Join(notUp, "; "),
			Fix: "bring every store Up before a rolling restart: a restart next to a down store can cost regions their quorum"})
	} else {
		out = append(out, steps.Check{ID: "stores-up", Status: steps.Pass, Message: fmt.Sprintf("all %d stores are Up", len(s.Inventory.Nodes))})
	}
	pdc := steps.PDClient{C: s.PD}
	switch ev, err := pdc.EvictLeaderStores(ctx); {
	case err != nil:
		out = append(out, steps.Check{ID: "no-evict-scheduler", Status: steps.Warn, Message: "cannot list PD's schedulers: " + err.Error()})
	case len(ev) > 0:
		out = append(out, steps.Check{ID: "no-evict-scheduler", Status: steps.Fail,
			Message: "an evict-leader scheduler already covers store(s) " + joinIDs(ev) + " (a failed earlier run?)",
			Fix:     "if it is tikv-ear's, restart the wizard and clean up the unfinished run; otherwise remove it with pd-ctl scheduler remove evict-leader-scheduler-<id>"})
	default:
		out = append(out, steps.Check{ID: "no-evict-scheduler", Status: steps.Pass, Message: "no evict-leader scheduler present"})
	}
	jpath := d.journalPath()
	switch recs, err := steps.ReadJournal(jpath); {
	case err != nil:
		out = append(out, steps.Check{ID: "journal", Status: steps.Fail, Message: err.Error(), Fix: "move " + jpath + " aside after reading it"})
	default:
		if last, ok := steps.LastRun(recs); ok && !last.Finished {
			out = append(out, steps.Check{ID: "journal", Status: steps.Fail,
				Message: fmt.Sprintf("%s records an unfinished %s run (%s)", jpath, last.Kind, last.Run),
				Fix:     "restart the wizard to resume or clean it up, or run 'tikv-ear apply " + d.planPath() + " --resume' (or --abort)"})
		}
	}
	return out
}

func joinIDs(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}

// clusterName is the TiUP cluster name when the inventory came from one.
func clusterName(s *Session) string {
	if s.Flags.TiUPCluster != "" {
		return s.Flags.TiUPCluster
	}
	if s.Inventory.Meta != nil {
		dir := filepath.Dir(s.Inventory.Meta.Path)
		if filepath.Base(filepath.Dir(dir)) == "clusters" { // <tiup>/storage/cluster/clusters/<name>/meta.yaml
			return filepath.Base(dir)
		}
	}
	return ""
}

func masterKeyLabel(k tikv.MasterKey) string {
	switch k.EffectiveType() {
	case tikv.MasterKeyFile:
		return "file"
	case tikv.MasterKeyKMS:
		v := k.Vendor
		if v == "" {
			v = tikv.VendorAWS // vendor "" means AWS (components/encryption/export/src/lib.rs)
		}
		return "kms (" + v + ")"
	}
	return ""
}

// Algorithms implements ui.Driver: each data-encryption-method with its
// version gate per store, AES-NI per host and throughput measured here.
func (d *wizardDriver) Algorithms(ctx context.Context, disc ui.Discovery) ([]ui.AlgorithmOption, error) {
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
func hostAESNI(ctx context.Context, s *Session) []ui.HostFlag {
	out := make([]ui.HostFlag, len(s.Inventory.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.Inventory.Nodes {
		out[i].Host = n.Host
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := ssh.Node{Exec: s.SSH, Host: steps.SSHTarget(NodePlan(n, s.Flags.SSHUser))}
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
func (d *wizardDriver) throughput() map[string]float64 {
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
func (d *wizardDriver) Backends(ctx context.Context, disc ui.Discovery, env string) ([]ui.BackendOption, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	keyDir, hostDir, owner := "", "/run/tikv-keys", "tidb" // kms/core DefaultHostKeyDir, DefaultOwner
	if s != nil && s.SimEnv != nil {
		spec := kms.Spec{Backend: "file"}
		simKeyDefaults(s, &spec)
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
			{Key: "token-file", Label: "Token file", Help: "file holding the Vault token (VAULT_TOKEN otherwise)"},
			{Key: "host-key-dir", Label: "Host key directory", Value: hostDir, Pattern: `^/`, PatternHelp: "use an absolute path, e.g. /run/tikv-keys"},
			{Key: "owner", Label: "Key file owner", Value: owner},
		}}
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
		spec.Vault = &vault.Config{Address: f["address"], Cluster: f["cluster"], TokenFile: f["token-file"], HostKeyDir: f["host-key-dir"], Owner: f["owner"]}
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
func (d *wizardDriver) plan(ctx context.Context, c ui.Choices) (*Planned, error) {
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
	planned, err := BuildPlan(ctx, s, PlanRequest{
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
func (d *wizardDriver) Preflight(ctx context.Context, c ui.Choices) ([]steps.Check, error) {
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
func (d *wizardDriver) BuildPlan(ctx context.Context, c ui.Choices) (ui.PlanPreview, error) {
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
func (d *wizardDriver) SavePlan(_ context.Context, p ui.PlanPreview, path string) error {
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

// Apply implements ui.Driver with the wiring of 'tikv-ear apply': the plan is
// saved first (the journal sits beside it, so 'tikv-ear apply PLAN --resume'
// can take over), the cluster id is checked, schedulers an interrupted run
// left are removed, preflight runs again, then the engine's runner, then the
// TiUP meta.yaml sync. Events go to sink, decisions to decider.
func (d *wizardDriver) Apply(ctx context.Context, prev ui.PlanPreview, sink steps.Sink, decider steps.Decider) (*steps.Result, error) {
	p := prev.Plan
	if p == nil {
		return nil, errors.New("no plan to apply")
	}
	if prev.Rotation != nil {
		return d.applyRotation(ctx, prev, sink, decider)
	}
	path := d.planPath()
	if err := d.SavePlan(ctx, prev, path); err != nil {
		return nil, err
	}
	jpath := d.journalPath()
	s, err := planConnect(p).Connect(ctx)
	if err != nil {
		return nil, err
	}
	if p.Cluster.ClusterID != 0 && s.ClusterID != p.Cluster.ClusterID {
		s.Close()
		return nil, Failf("build the plan again against this cluster", "the plan was made for PD cluster %d, but %s is cluster %d", p.Cluster.ClusterID, strings.Join(p.Cluster.PD, ","), s.ClusterID)
	}
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("key backend: %w", err)
	}
	eng := NewEngine(s, p, backend)
	run := &wizardRun{sess: s, eng: eng, kind: steps.KindApply, refs: planRefs(p)}
	d.mu.Lock()
	if d.run != nil && d.run.sess != nil {
		d.run.sess.Close()
	}
	d.run = run
	d.mu.Unlock()

	recs, err := steps.ReadJournal(jpath)
	if err != nil {
		return nil, err
	}
	if last, ok := steps.LastRun(recs); ok && !last.Finished {
		// Resume: drop the interrupted run's schedulers; the runner re-reads
		// every store's real state and skips the finished ones.
		if _, err := removeEvicted(ctx, eng.PD, last); err != nil {
			return nil, err
		}
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.Info, Step: steps.StepRun, Message: "resuming " + last.Run + " from the cluster's real state"})
	}
	sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepStarted, Step: steps.StepPreflight, Message: fmt.Sprintf("preflight of %d stores", len(p.Nodes))})
	facts := steps.GatherFacts(ctx, p, eng.PD, eng.Nodes, s.Flags.Concurrency)
	for _, c := range backend.Preflight(ctx) {
		facts.KeyChecks = append(facts.KeyChecks, keyCheck(c, 0))
	}
	if blocking := steps.Blocking(steps.RunPreflight(facts)); len(blocking) > 0 {
		msg := fmt.Sprintf("preflight failed with %d blocking finding(s); nothing changed: %s", len(blocking), blocking[0].Message)
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepFailed, Step: steps.StepPreflight, Error: msg})
		return nil, &Error{Msg: msg, Hints: []string{blocking[0].Fix}, Code: ExitFailure}
	}
	sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepDone, Step: steps.StepPreflight, Message: "no blocking finding"})
	batches := prev.Batches
	if len(batches.Batches) == 0 {
		regions, err := eng.PD.Regions(ctx)
		if err != nil {
			regions = nil
		}
		batches = steps.PlanBatches(p.Nodes, regions, p.Strategy.Canary, p.Strategy.Batching)
	}
	journal, err := steps.OpenJournal(jpath)
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	res, runErr := eng.Runner(p, run.kind, run.refs, journal, sink, decider).Run(ctx, batches)
	d.mu.Lock()
	run.res = res
	d.mu.Unlock()
	if runErr == nil && p.Cluster.MetaYAML != "" {
		if err := syncTiUPMeta(p.Cluster.MetaYAML, eng.Desired); err != nil {
			sink.Emit(steps.Event{Time: time.Now(), Kind: steps.Warning, Step: steps.StepFinalize, Message: err.Error() + " ('tiup cluster reload' would revert the encryption keys)"})
		} else {
			sink.Emit(steps.Event{Time: time.Now(), Kind: steps.Info, Step: steps.StepFinalize, Message: "wrote the encryption keys into " + p.Cluster.MetaYAML + " server_configs.tikv (backup kept)"})
		}
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return res, &Error{Msg: runErr.Error(), Hints: []string{fmt.Sprintf("every evict-leader scheduler was removed; fix the cause, then 'tikv-ear apply %s --resume'", path)}, Code: ExitFailure, Err: runErr}
	}
	return res, runErr
}

// planRefs are the key generations a plan names: current, then previous.
func planRefs(p *steps.Plan) []kms.KeyRef {
	refs := []kms.KeyRef{p.Target.MasterKey}
	if p.Target.PreviousMasterKey != nil {
		refs = append(refs, *p.Target.PreviousMasterKey)
	}
	return refs
}

// removeEvicted removes the evict-leader schedulers an interrupted run left,
// and restores PD's leader-schedule-limit when the run raised it;
// and returns how many. runPlan (resume) and abortRun in apply.go do the same
// loop and could call it.
func removeEvicted(ctx context.Context, pdc steps.PD, last steps.RunState) (int, error) {
	ids := make([]uint64, 0, len(last.Evicted))
	for id := range last.Evicted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if err := pdc.RemoveEvictLeader(ctx, id); err != nil {
			return i, fmt.Errorf("removing the evict-leader scheduler of store %d left by run %s: %w", id, last.Run, err)
		}
	}
	// The run raised PD's leader-schedule-limit and did not record restoring it.
	if last.LimitToRestore != "" {
		orig, err := strconv.Atoi(last.LimitToRestore)
		if err != nil {
			return len(ids), fmt.Errorf("the journal of run %s records leader-schedule-limit %q: %w", last.Run, last.LimitToRestore, err)
		}
		if err := pdc.SetLeaderScheduleLimit(ctx, orig); err != nil {
			return len(ids), fmt.Errorf("restoring PD's leader-schedule-limit to %d after run %s: %w", orig, last.Run, err)
		}
	}
	return len(ids), nil
}

// closeAbortedRun marks an interrupted run aborted in its journal (the record
// abortRun in apply.go appends).
func closeAbortedRun(jpath string, last steps.RunState) error {
	j, err := steps.OpenJournal(jpath)
	if err != nil {
		return err
	}
	defer j.Close()
	if last.LimitToRestore != "" { // removeEvicted restored it
		if err := j.Append(steps.Record{Run: last.Run, Kind: last.Kind, Step: steps.StepScheduleLimit, State: steps.StateDone, Detail: map[string]string{"restored": last.LimitToRestore}}); err != nil {
			return err
		}
	}
	return j.Append(steps.Record{Run: last.Run, Kind: last.Kind, Step: steps.StepRun, State: steps.StateFailed, Detail: map[string]string{"aborted": "true"}})
}

// lastRun returns the run the driver is working on, or an error naming why none.
func (d *wizardDriver) lastRun() (*wizardRun, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil || d.run.res == nil {
		return nil, errors.New("no rollout has run in this session")
	}
	return d.run, nil
}

// Verify implements ui.Driver: per-store evidence from the runner's result
// (running config, key.dict metadata, metrics, log lines, the target's rules)
// and the on-disk proof of each data directory.
func (d *wizardDriver) Verify(ctx context.Context, prev ui.PlanPreview) ([]ui.StoreEvidence, error) {
	run, err := d.lastRun()
	if err != nil {
		return nil, err
	}
	p := prev.Plan
	if p == nil {
		return nil, errors.New("no plan to verify against")
	}
	rules := steps.VerifyTarget(run.eng.Desired, run.kind)
	byID := map[uint64]*steps.StoreResult{}
	for _, sr := range run.res.Stores {
		byID[sr.StoreID] = sr
	}
	out := make([]ui.StoreEvidence, len(p.Nodes))
	var wg sync.WaitGroup
	for i, n := range p.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = d.evidence(ctx, run, n, byID[n.StoreID], rules)
		}()
	}
	wg.Wait()
	return out, nil
}

func (d *wizardDriver) evidence(ctx context.Context, run *wizardRun, n steps.NodePlan, sr *steps.StoreResult, rules func(steps.NodePlan, steps.NodeState) []string) ui.StoreEvidence {
	e := ui.StoreEvidence{StoreID: n.StoreID, Address: n.Address}
	if sr == nil || (!sr.Skipped && !slices.ContainsFunc(sr.Phases, func(ph steps.Phase) bool { return ph.Step == steps.StepSwap })) {
		e.Problems = []string{"unchanged: the run stopped before this store's config was swapped"}
		if sr != nil && sr.Failed != "" {
			e.Problems = append(e.Problems, sr.Failed)
		}
		return e
	}
	st := sr.State
	node := run.eng.Nodes[n.StoreID]
	if node != nil { // metrics now, after the settle, rather than the sample taken right after the restart
		if s, err := node.Metrics(ctx); err == nil {
			st.Sample = s
		}
	}
	after := sr.After
	if st.RunningOK {
		after = st.Running
	}
	e.Method, e.MasterKey = after.EffectiveMethod(), masterKeyLabel(after.MasterKey)
	e.KeyDict, e.Initialized = st.KeyDict.Method, st.Sample.Initialized
	e.FileNum, e.DataKeys = st.Sample.FileNum, st.Sample.DataKeys
	for _, name := range st.LogMatches {
		for _, m := range tikv.Catalogue() {
			if m.Name == name {
				e.LogLines = append(e.LogLines, m.Text)
			}
		}
	}
	if sr.Failed != "" {
		e.Problems = append(e.Problems, sr.Failed)
	}
	e.Problems = append(e.Problems, rules(n, st)...)
	if node != nil && n.DataDir != "" {
		if proof, err := node.Prove(ctx, n.DataDir); err != nil {
			e.Problems = append(e.Problems, err.Error())
		} else {
			e.Encrypted, e.Plaintext = proof.Encrypted.Files, proof.Plaintext.Files
		}
	}
	e.OK = len(e.Problems) == 0
	return e
}

// ScheduleOptions implements ui.Driver: the systemd timer, cron line and
// Kubernetes CronJob that run 'tikv-ear rotate PLAN --yes --output json',
// written beside the plan, plus the KMS's own rotation where there is one.
func (d *wizardDriver) ScheduleOptions(ctx context.Context, prev ui.PlanPreview) ([]ui.ScheduleOption, error) {
	p := prev.Plan
	if p == nil {
		return nil, errors.New("no plan: build one first")
	}
	periodText := firstNonEmpty(p.Schedule.MasterKeyRotation, d.cfg.Rotation)
	period, err := schedule.ParseTiKVDuration(periodText)
	if err != nil {
		return nil, fmt.Errorf("plan [schedule] master-key-rotation %q: %w", periodText, err)
	}
	planAbs, err := filepath.Abs(d.planPath())
	if err != nil {
		return nil, err
	}
	reportAbs, err := filepath.Abs(firstNonEmpty(p.Report.Dir, d.cfg.ReportDir))
	if err != nil {
		return nil, err
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating the tikv-ear binary: %w", err)
	}
	job := schedule.Job{Binary: bin, Plan: planAbs, ReportDir: reportAbs, Period: period}
	dir := filepath.Join(filepath.Dir(planAbs), "tikv-ear-schedule")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	write := func(name string, data []byte) (string, error) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
		return path, nil
	}
	var out []ui.ScheduleOption
	switch p.Target.Key.Backend {
	case "aws":
		if a := p.Target.Key.AWS; a != nil {
			if n, err := schedule.AWSKeyRotation(a.KeyID, int(period/schedule.Day)); err == nil {
				// Transparent to TiKV: kms/awskms package doc (reference kms-and-evidence.md §2.1).
				out = append(out, ui.ScheduleOption{ID: "aws-auto", Title: "AWS KMS automatic key rotation", Period: periodText, KMSNative: true,
					Install: n.Setting + "=" + n.Value, Notes: "transparent to TiKV: old ciphertexts still decrypt, no restart"})
			}
		}
	case "vault":
		if v := p.Target.Key.Vault; v != nil && v.KEK != "" {
			if n, err := schedule.VaultTransitAutoRotate(v.KEK, period); err == nil {
				out = append(out, ui.ScheduleOption{ID: "vault-auto", Title: "Vault transit auto-rotation of the wrapping key", Period: periodText, KMSNative: true,
					Install: n.Setting + "=" + n.Value, Notes: "rewrap the stored TiKV key after each rotation"})
			}
		}
	}
	svc, timer, err := schedule.Systemd(job)
	if err != nil {
		return nil, err
	}
	if _, err := write(schedule.DefaultName+".service", svc); err != nil {
		return nil, err
	}
	timerPath, err := write(schedule.DefaultName+".timer", timer)
	if err != nil {
		return nil, err
	}
	out = append(out, ui.ScheduleOption{ID: "systemd", Title: "systemd timer on this machine", Period: periodText, Artefact: timerPath,
		Install: "systemctl enable --now " + schedule.DefaultName + ".timer",
		Notes:   "copy the .service and .timer to /etc/systemd/system first; runs tikv-ear rotate"})
	line, err := schedule.Cron(job)
	if err != nil {
		return nil, err
	}
	cronPath, err := write(schedule.DefaultName+".cron", []byte(line))
	if err != nil {
		return nil, err
	}
	out = append(out, ui.ScheduleOption{ID: "cron", Title: "cron on this machine", Period: periodText, Artefact: cronPath,
		Install: "copy it to /etc/cron.d/" + schedule.DefaultName, Notes: "cron does not catch up a run missed while the machine is off"})
	kjob := schedule.Job{Binary: "/usr/local/bin/tikv-ear", Plan: "/etc/tikv-ear/plan.toml", ReportDir: "/var/lib/tikv-ear/reports", Period: period}
	cj, err := schedule.KubernetesCronJob(kjob, schedule.Kube{Image: "tikv-ear:" + Version, PlanConfigMap: "tikv-ear-plan", ReportsClaim: "tikv-ear-reports"})
	if err != nil {
		return nil, err
	}
	yml, err := cj.YAML()
	if err != nil {
		return nil, err
	}
	cjPath, err := write(schedule.DefaultName+"-cronjob.yaml", yml)
	if err != nil {
		return nil, err
	}
	out = append(out, ui.ScheduleOption{ID: "kubernetes", Title: "Kubernetes CronJob", Period: periodText, Artefact: cjPath,
		Install: "kubectl apply -f " + filepath.Base(cjPath), Notes: "edit its image, ConfigMap and volume claim names first"})
	out = append(out, ui.ScheduleOption{ID: "manual", Title: "no schedule: I rotate by hand", Period: periodText,
		Install: "tikv-ear rotate " + filepath.Base(planAbs), Notes: "the report records the rotation as manual"})
	return out, nil
}

// WriteReport implements ui.Driver: cli.BuildReport and cli.WriteReport, with
// the schedule the operator chose recorded in the report.
func (d *wizardDriver) WriteReport(ctx context.Context, res *steps.Result, prev ui.PlanPreview) (ui.ReportFiles, error) {
	run, err := d.lastRun()
	if err != nil {
		return ui.ReportFiles{}, err
	}
	if res == nil {
		res = run.res
	}
	p := prev.Plan
	if p == nil {
		return ui.ReportFiles{}, errors.New("no plan to report on")
	}
	rep := BuildReport(ctx, report.Kind(run.kind), p, res, run.eng, run.refs)
	if sc := prev.Schedule; sc != nil && rep.Schedule != nil {
		switch {
		case sc.KMSNative:
			rep.Schedule.KMSNative = sc.Install
		case sc.ID == "systemd" || sc.ID == "cron" || sc.ID == "kubernetes":
			rep.Schedule.Mechanism = sc.ID
		}
	}
	files, _, err := WriteReport(ctx, p, rep, res.Run)
	if err != nil {
		return ui.ReportFiles{}, fmt.Errorf("writing the signed report: %w", err)
	}
	out := ui.ReportFiles{JSON: files.Report, HTML: files.HTML, Bundle: files.Bundle,
		VerifyCommand: "tikv-ear report verify " + files.Report} // pub.pem and the bundle are found beside it
	d.mu.Lock()
	d.report = &out
	d.mu.Unlock()
	return out, nil
}

// lastReport returns the files of the last report written, or nil.
func (d *wizardDriver) lastReport() *ui.ReportFiles {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.report
}

// Journal implements ui.Driver: the unfinished run recorded beside the plan.
func (d *wizardDriver) Journal(_ context.Context) (*ui.Unfinished, error) {
	path := d.planPath()
	jpath := d.journalPath()
	recs, err := steps.ReadJournal(jpath)
	if err != nil {
		return nil, err
	}
	last, ok := steps.LastRun(recs)
	if !ok || last.Finished {
		return nil, nil
	}
	p, err := steps.LoadPlan(path)
	if err != nil {
		return nil, fmt.Errorf("%s records an unfinished run (%s) but its plan cannot be read: %w", jpath, last.Run, err)
	}
	u := &ui.Unfinished{Run: last.Run, Kind: last.Kind, Total: len(p.Nodes),
		Preview: ui.PlanPreview{Plan: p, Batches: steps.PlanBatches(p.Nodes, nil, p.Strategy.Canary, p.Strategy.Batching)}}
	if last.Kind == steps.KindRotate { // resuming goes on with the generations the plan names
		r := d.rotationPreview(p)
		u.Preview.Rotation = &r
	}
	if len(last.Records) > 0 {
		u.Started = last.Records[0].Time
		r := last.Records[len(last.Records)-1]
		u.LastStep = r.Step + " " + r.State
		if r.StoreID != 0 {
			u.LastStep = fmt.Sprintf("%s of store %d %s", r.Step, r.StoreID, r.State)
		}
	}
	for _, n := range p.Nodes {
		if last.Done[fmt.Sprintf("%s/%d", steps.StepRelease, n.StoreID)] {
			u.Done++
		}
	}
	for id := range last.Evicted {
		u.Evicted = append(u.Evicted, id)
	}
	slices.Sort(u.Evicted)
	return u, nil
}

// AbortUnfinished implements ui.Driver as 'tikv-ear apply --abort' does:
// remove the run's evict-leader schedulers and close its journal.
func (d *wizardDriver) AbortUnfinished(ctx context.Context, u ui.Unfinished) error {
	jpath := d.journalPath()
	recs, err := steps.ReadJournal(jpath)
	if err != nil {
		return err
	}
	last, ok := steps.LastRun(recs)
	if !ok || last.Finished || last.Run != u.Run {
		return fmt.Errorf("%s no longer records run %s as unfinished", jpath, u.Run)
	}
	p := u.Preview.Plan
	if p == nil {
		return errors.New("the unfinished run has no plan")
	}
	s, err := planConnect(p).Connect(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := removeEvicted(ctx, steps.PDClient{C: s.PD}, last); err != nil {
		return err
	}
	return closeAbortedRun(jpath, last)
}

// ---- master-key rotation ------------------------------------------------------

// runRotateWizard is 'tikv-ear rotate PLAN' on a terminal without --yes: the
// wizard's rotation flow (ui.NewRotate) on the plan, pre-filled from it. The
// caller holds the rotation lock. Without a terminal it refuses (exit 2).
func runRotateWizard(g *Globals, c *RotateCmd) error {
	if !g.IO.Interactive() {
		return Usagef("pass --yes to rotate without a terminal", "the rotation wizard needs a terminal on stdin and stderr")
	}
	p, err := steps.LoadPlan(c.Plan)
	if err != nil {
		return err
	}
	base := planConnect(p)
	d := newWizardDriver(wizardConfig{Base: base, PlanPath: c.Plan, Journal: c.Journal,
		ReportDir: firstNonEmpty(c.ReportDir, p.Report.Dir), ReportKey: p.Report.KeyFile,
		Strategy: p.Strategy, Policies: p.Policies, Rotation: p.Schedule.MasterKeyRotation,
		Incident: c.Incident, Retire: c.Retire})
	defer d.Close()
	in := ui.ConnectInput{Environment: p.Environment, PD: slices.Clone(p.Cluster.PD), SSHUser: p.Cluster.SSHUser,
		Identity: p.Cluster.Identity, KnownHosts: p.Cluster.KnownHosts, SSHConfig: p.Cluster.SSHConfig}
	err = ui.Run(g.Ctx, d, ui.Options{Rotate: true, Incident: c.Incident, Out: g.IO.Err, PlanPath: c.Plan, Prefill: in,
		Accessible: g.IO.Getenv != nil && g.IO.Getenv("ACCESSIBLE") != ""})
	if r := d.lastReport(); r != nil { // full paths here: the screen shows them relative to their directory
		fmt.Fprintf(g.IO.Err, "tikv-ear: signed report: %s (html: %s)\ntikv-ear: verify it: %s\n", r.JSON, r.HTML, r.VerifyCommand)
	}
	switch {
	case errors.Is(err, ui.ErrClosed):
		fmt.Fprintln(g.IO.Err, "tikv-ear: closed before the rotation; nothing was changed")
		return nil
	case errors.Is(err, context.Canceled) && g.Ctx.Err() == nil:
		return &Error{Msg: "the rotation was aborted from the dashboard", Code: ExitAborted, Err: err,
			Hints: []string{"every evict-leader scheduler was removed; 'tikv-ear rotate " + c.Plan + " --resume' goes on with the same generations"}}
	}
	return err
}

// incidentStrategy is the fastest safe rollout of an incident rotation: zone
// batches where PD's regions prove them safe, no canary, polls of at most
// 500ms (the same as RotateCmd's Adjust).
func incidentStrategy(p *steps.Plan) {
	p.Strategy.Canary = 0
	p.Strategy.Batching = steps.BatchZone
	for _, d := range []*steps.Duration{&p.Strategy.EvictPoll, &p.Strategy.ReadyPoll, &p.Strategy.SettlePoll} {
		if d.Duration > 500*time.Millisecond {
			d.Duration = 500 * time.Millisecond
		}
	}
}

// genLabel names a key generation as an operator reads it.
func genLabel(r kms.KeyRef) string {
	s := r.ID
	if r.Generation > 0 {
		s = fmt.Sprintf("generation %d (%s)", r.Generation, r.ID)
	}
	if r.Fingerprint != "" {
		s += " " + r.Fingerprint
	}
	return s
}

// rotationPreview says what rotating p does, without touching anything.
func (d *wizardDriver) rotationPreview(p *steps.Plan) ui.RotationPreview {
	backend := p.Target.Key.Backend
	r := ui.RotationPreview{Backend: backend, Current: genLabel(p.Target.MasterKey), Incident: d.cfg.Incident,
		Revoke: d.cfg.Incident || d.cfg.Retire}
	first := fmt.Sprintf("create the next master-key generation in %s; plan.toml records it (nothing else changes if this fails)", backend)
	if p.Target.MasterKey.Generation > 0 {
		r.Next = fmt.Sprintf("generation %d (created when you rotate)", p.Target.MasterKey.Generation+1)
	} else {
		r.Next = "a new " + backend + " key (created when you rotate)"
	}
	if prev := p.Target.PreviousMasterKey; prev != nil { // an interrupted rotation: same generations
		r.Continuing, r.Current, r.Next = true, genLabel(*prev), genLabel(p.Target.MasterKey)
		first = "no new generation: the plan already names both (an interrupted rotation goes on)"
	}
	r.Steps = []string{first,
		// The log line each store writes: tikv.MsgPersistedReplaceMasterKey (components/encryption/src/manager/mod.rs).
		fmt.Sprintf("pass 1, batch by batch: evict leaders, write master-key = new and previous-master-key = old into tikv.toml, restart; each store re-encrypts key.dict and logs %q", tikv.MsgPersistedReplaceMasterKey.Text),
		"pass 2: previous-master-key removed from every tikv.toml and old key files shredded; no restart (TiKV reads the previous key only when the current one fails)",
	}
	if r.Revoke {
		r.Steps = append(r.Steps, fmt.Sprintf("revoke the old generation in %s once every store is on the new one (you confirm on the dashboard; it cannot be undone)", backend))
	} else {
		r.Steps = append(r.Steps, "the old generation stays in "+backend+" (tikv-ear rotate --retire-old revokes it)")
	}
	return r
}

// buildRotation loads the plan, connects, runs the read-only preflight and
// previews the rotation. Nothing changes: the new generation is created only
// by Apply.
func (d *wizardDriver) buildRotation(ctx context.Context, c ui.Choices) (ui.PlanPreview, error) {
	path := d.planPath()
	p, err := steps.LoadPlan(path)
	if err != nil {
		return ui.PlanPreview{}, err
	}
	if p.Target.Key.Backend == "" || p.Target.MasterKey.ID == "" {
		return ui.PlanPreview{}, Usagef("enable encryption first with 'tikv-ear apply "+path+"'", "%s names no master key to rotate", path)
	}
	if c.Incident || d.cfg.Incident {
		incidentStrategy(p)
	}
	if d.cfg.ReportDir != "" {
		p.Report.Dir = d.cfg.ReportDir
	}
	s, err := d.session(ctx, c.Connect)
	if err != nil {
		return ui.PlanPreview{}, err
	}
	if p.Cluster.ClusterID != 0 && s.ClusterID != p.Cluster.ClusterID {
		return ui.PlanPreview{}, Failf("re-create the plan against this cluster with 'tikv-ear plan'", "%s was made for PD cluster %d, but this is cluster %d", path, p.Cluster.ClusterID, s.ClusterID)
	}
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		return ui.PlanPreview{}, Usagef("fix [target.key] in "+path, "key backend: %v", err)
	}
	eng := NewEngine(s, p, backend)
	facts := steps.GatherFacts(ctx, p, eng.PD, eng.Nodes, s.Flags.Concurrency)
	facts.Desired = &eng.Desired
	for _, kc := range backend.Preflight(ctx) {
		facts.KeyChecks = append(facts.KeyChecks, keyCheck(kc, 0))
	}
	regions, err := eng.PD.Regions(ctx)
	if err != nil {
		regions = nil
	}
	r := d.rotationPreview(p)
	if c.Incident {
		r.Incident, r.Revoke = true, true
	}
	return ui.PlanPreview{Plan: p, Batches: steps.PlanBatches(p.Nodes, regions, p.Strategy.Canary, p.Strategy.Batching),
		Rotation: &r, Checks: steps.RunPreflight(facts)}, nil
}

// applyRotation is 'tikv-ear rotate' for the wizard, on the same primitives:
// preflight, a new generation from the backend (the plan saved with it),
// the rotation's own preflight, the runner (kind rotate), then secondPass,
// the plan saved without previous-master-key, and retireOld once the operator
// confirmed it through decider. A resumed run goes on with the generations
// the plan names. Lines the primitives print become Info events.
func (d *wizardDriver) applyRotation(ctx context.Context, prev ui.PlanPreview, sink steps.Sink, decider steps.Decider) (*steps.Result, error) {
	path, jpath := d.planPath(), d.journalPath()
	p := prev.Plan
	s, err := planConnect(p).Connect(ctx)
	if err != nil {
		return nil, err
	}
	if p.Cluster.ClusterID != 0 && s.ClusterID != p.Cluster.ClusterID {
		s.Close()
		return nil, Failf("re-create the plan against this cluster with 'tikv-ear plan'", "%s was made for PD cluster %d, but this is cluster %d", path, p.Cluster.ClusterID, s.ClusterID)
	}
	backend, err := kms.New(p.Target.Key)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("key backend: %w", err)
	}
	eng := NewEngine(s, p, backend)
	run := &wizardRun{sess: s, eng: eng, kind: steps.KindRotate, refs: planRefs(p)}
	d.mu.Lock()
	if d.run != nil && d.run.sess != nil {
		d.run.sess.Close()
	}
	d.run = run
	d.mu.Unlock()
	gl := &Globals{Ctx: ctx, IO: IO{Err: &eventWriter{sink: sink, step: "rotate"}, Getenv: func(string) string { return "" }}}

	recs, err := steps.ReadJournal(jpath)
	if err != nil {
		return nil, err
	}
	last, ok := steps.LastRun(recs)
	resume := ok && !last.Finished
	if resume {
		if _, err := removeEvicted(ctx, eng.PD, last); err != nil {
			return nil, err
		}
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.Info, Step: steps.StepRun, Message: "resuming " + last.Run + " from the cluster's real state"})
	}
	check := func(what string) error {
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepStarted, Step: steps.StepPreflight, Message: what})
		facts := steps.GatherFacts(ctx, p, eng.PD, eng.Nodes, s.Flags.Concurrency)
		facts.Desired = &eng.Desired
		for _, c := range backend.Preflight(ctx) {
			facts.KeyChecks = append(facts.KeyChecks, keyCheck(c, 0))
		}
		if blocking := steps.Blocking(steps.RunPreflight(facts)); len(blocking) > 0 {
			msg := fmt.Sprintf("preflight failed with %d blocking finding(s): %s", len(blocking), blocking[0].Message)
			sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepFailed, Step: steps.StepPreflight, Error: msg})
			return &Error{Msg: msg, Hints: []string{blocking[0].Fix}, Code: ExitFailure}
		}
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepDone, Step: steps.StepPreflight, Message: "no blocking finding"})
		return nil
	}
	if err := check(fmt.Sprintf("preflight of %d stores", len(p.Nodes))); err != nil {
		return nil, err
	}
	old := p.Target.MasterKey
	switch {
	case p.Target.PreviousMasterKey != nil: // an interrupted rotation: go on with its generations
		old = *p.Target.PreviousMasterKey
	case resume:
		return nil, Failf("run 'tikv-ear rotate "+path+" --abort', then rotate again", "%s records an unfinished run, but the plan names no previous-master-key to go on with", jpath)
	default:
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepStarted, Step: steps.StepPrepare, Message: "creating the next master-key generation in " + backend.Name()})
		next, err := backend.Prepare(ctx, kms.Purpose("new")) // core.PurposeNew, as RotateCmd asks
		if err != nil {
			err = fmt.Errorf("creating the new master-key generation in %s: %w", backend.Name(), err)
			sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepFailed, Step: steps.StepPrepare, Error: err.Error()})
			return nil, err
		}
		p.Target.MasterKey, p.Target.PreviousMasterKey = next, &old
		if err := savePlan(path, p); err != nil {
			return nil, err
		}
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepDone, Step: steps.StepPrepare, Message: "new master key " + genLabel(next) + "; " + path + " updated"})
		eng = NewEngine(s, p, backend)
		// The rotation's own gates (previous-master-key, KMS→KMS) before any restart.
		if err := check("preflight of the rotation"); err != nil {
			return nil, err
		}
	}
	refs := []kms.KeyRef{p.Target.MasterKey, old}
	regions, err := eng.PD.Regions(ctx)
	if err != nil {
		regions = nil
	}
	batches := steps.PlanBatches(p.Nodes, regions, p.Strategy.Canary, p.Strategy.Batching)
	journal, err := steps.OpenJournal(jpath)
	if err != nil {
		return nil, err
	}
	defer journal.Close()
	d.mu.Lock()
	run.eng, run.refs = eng, refs
	d.mu.Unlock()
	res, runErr := eng.Runner(p, steps.KindRotate, refs, journal, sink, decider).Run(ctx, batches)
	if runErr == nil {
		runErr = d.finishRotation(ctx, gl, prev, p, eng, res, old, sink, decider)
		res.Err = runErr
	}
	d.mu.Lock()
	run.res = res
	d.mu.Unlock()
	if runErr == nil && p.Cluster.MetaYAML != "" {
		if err := syncTiUPMeta(p.Cluster.MetaYAML, NewEngine(s, p, backend).Desired); err != nil {
			sink.Emit(steps.Event{Time: time.Now(), Kind: steps.Warning, Step: steps.StepFinalize, Message: err.Error() + " ('tiup cluster reload' would revert the encryption keys)"})
		}
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return res, &Error{Msg: runErr.Error(), Hints: []string{fmt.Sprintf("every evict-leader scheduler was removed; fix the cause, then 'tikv-ear rotate %s --resume'", path)}, Code: ExitFailure, Err: runErr}
	}
	return res, runErr
}

// finishRotation is the part of RotateCmd's After the wizard shares: the
// second pass, the plan saved without previous-master-key, and the old
// generation revoked when the preview says so and the operator agrees.
func (d *wizardDriver) finishRotation(ctx context.Context, gl *Globals, prev ui.PlanPreview, p *steps.Plan, eng *Engine, res *steps.Result, old kms.KeyRef, sink steps.Sink, decider steps.Decider) error {
	sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepStarted, Step: "second-pass", Message: "removing previous-master-key from every tikv.toml"})
	if err := secondPass(ctx, gl, p, eng, res, old); err != nil {
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepFailed, Step: "second-pass", Error: err.Error()})
		return err
	}
	p.Target.PreviousMasterKey = nil
	if err := savePlan(d.planPath(), p); err != nil {
		return err
	}
	sink.Emit(steps.Event{Time: time.Now(), Kind: steps.StepDone, Step: "second-pass", Message: "every store runs on the new master key alone; " + d.planPath() + " updated"})
	if prev.Rotation == nil || !prev.Rotation.Revoke {
		return nil
	}
	dec := steps.Decision{ID: "retire-old", Options: []string{"revoke", "keep"}, Default: "revoke",
		Question: fmt.Sprintf("revoke the old master key %s in %s? It cannot be undone; every store already runs on the new one", genLabel(old), eng.Backend.Name())}
	sink.Emit(steps.Event{Time: time.Now(), Kind: steps.DecisionAsk, Step: "retire", Decision: &dec})
	choice, by, err := decider.Decide(ctx, dec)
	if err != nil {
		return err
	}
	dec.Chosen, dec.By = choice, by
	sink.Emit(steps.Event{Time: time.Now(), Kind: steps.DecisionMade, Step: "retire", Decision: &dec})
	if choice != "revoke" {
		sink.Emit(steps.Event{Time: time.Now(), Kind: steps.Info, Step: "retire", Message: "the old generation was kept; revoke it later in " + eng.Backend.Name()})
		return nil
	}
	return retireOld(ctx, gl, true, eng, res, old)
}

// eventWriter turns the lines the CLI's rotation primitives print into Info
// events, so they reach the dashboard's timeline instead of the terminal the
// wizard draws on.
type eventWriter struct {
	mu   sync.Mutex
	sink steps.Sink
	step string
	buf  []byte
}

// Write emits one event per complete line.
func (w *eventWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := strings.TrimPrefix(string(w.buf[:i]), "tikv-ear: ")
		w.buf = w.buf[i+1:]
		if strings.TrimSpace(line) != "" {
			w.sink.Emit(w.event(line))
		}
	}
}

// printedStep matches secondPass's lines: "15:04:05 second-pass store 3: ...".
var printedStep = regexp.MustCompile(`^\d\d:\d\d:\d\d (\S+) (store (\d+): .*)$`)

// event is the event a printed line stands for: secondPass's per-store lines
// become that store's step-done (the events it records in the result's
// timeline), anything else an Info line.
func (w *eventWriter) event(line string) steps.Event {
	e := steps.Event{Time: time.Now(), Kind: steps.Info, Step: w.step, Message: line}
	if m := printedStep.FindStringSubmatch(line); m != nil {
		id, _ := strconv.ParseUint(m[3], 10, 64)
		e.Kind, e.Step, e.StoreID, e.Message = steps.StepDone, m[1], id, m[2]
	}
	return e
}

// LeaderCounts implements ui.LeaderCounter: every store's leader count read
// from its status port's /metrics, as the engine reads it during eviction and
// settle. A store that does not answer (restarting) is left out.
func (d *wizardDriver) LeaderCounts(ctx context.Context) (map[uint64]int, error) {
	d.mu.Lock()
	var eng *Engine
	if d.run != nil {
		eng = d.run.eng
	}
	d.mu.Unlock()
	if eng == nil {
		return nil, errors.New("no rollout is running yet")
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Base.Timeout)
	defer cancel()
	out := map[uint64]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, d.cfg.Base.Concurrency))
	for id, n := range eng.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if s, err := n.Metrics(ctx); err == nil {
				mu.Lock()
				out[id] = s.Leaders
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out, nil
}

var _ ui.LeaderCounter = (*wizardDriver)(nil)
