// Package vault is the HashiCorp Vault master-key backend. TiKV has no Vault
// backend (only plaintext, file and kms; reference kms-and-evidence.md §0.1), so
// this backend gives TiKV a type = "file" key that never rests on disk in
// plaintext (reference §2.2):
//
//   - KEK: a transit key (aes256-gcm96, exportable=false,
//     allow_plaintext_backup=false), created when create-kek is set.
//   - Prepare(new): transit/datakey/wrapped/<kek> (bits 256) — the tool never
//     asks Vault for a plaintext datakey — then the wrapped ciphertext is stored in
//     KV v2 at <kv-mount>/data/<kv-path> with check-and-set and metadata
//     {ciphertext, transit_key, transit_key_version, generation, created_at,
//     fingerprint}. The fingerprint (core.Fingerprint of the 65-byte file) is
//     computed by decrypting once in memory.
//   - Deliver (push mode): transit/decrypt in memory → hex+LF (65 bytes) streamed
//     over stdin to a 0400 file on the host's tmpfs (<host-key-dir>/master-g<N>.key).
//     Agent mode instead writes a Vault Agent config whose template renders the
//     same file on the host (backup = false, perms 0400, error_on_missing_key;
//     reference §1.4); the host's AppRole needs only update on transit/decrypt.
//   - Master-key rotation: Prepare(new), deliver both generations, render
//     master-key = new, previous-master-key = old, rolling restart, then Retire old.
//   - Retire: the KEK is shared by every generation, so retiring a generation
//     never touches the KEK: it KV-destroys every version holding that
//     generation (and, with opts.Hosts, shreds the host files). The current
//     generation cannot be retired.
//   - KEK rotation (RotateKEK, SetAutoRotate): transit rotate, rewrap the
//     current generation into a new KV version; TiKV is untouched because it only
//     sees the unwrapped key. RaiseMinDecryptionVersion then retires old KEK
//     versions up to the oldest one still referenced by a live KV version.
//   - Auth: token (token-file or VAULT_TOKEN) or AppRole (role id + secret-id
//     file). VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT and VAULT_NAMESPACE are honoured
//     through api.DefaultConfig, then OpenBao's BAO_* twins for what they leave
//     unset. Evidence records the token accessor, never the token.
//   - Preflight (preflight.go): sys/health without the namespace header, auth,
//     sys/capabilities-self on every path, the transit mount and the KEK, the KV
//     mount (KV v2 only). API failures come back as *Error: one line and a fix.
//   - Policy returns the Vault policy HCL for the operator and for hosts.
package vault

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/core"
)

// Delivery modes.
const (
	DeliveryPush  = "push"  // the tool decrypts and streams the key over SSH
	DeliveryAgent = "agent" // Vault Agent on each host renders the key
)

// Config is the [key.vault] section of a plan.
type Config struct {
	// Cluster names the TiKV cluster in default paths (KEK tikv-<cluster>-kek, KV tikv/<cluster>/master-key).
	Cluster string `toml:"cluster"`
	// Address overrides VAULT_ADDR.
	Address string `toml:"address,omitempty"`
	// Namespace overrides VAULT_NAMESPACE (Vault Enterprise).
	Namespace string `toml:"namespace,omitempty"`
	// CACert overrides VAULT_CACERT.
	CACert string `toml:"ca-cert,omitempty"`
	// Auth is "token" (default) or "approle".
	Auth string `toml:"auth,omitempty"`
	// TokenFile holds the token (else VAULT_TOKEN).
	TokenFile string `toml:"token-file,omitempty"`
	// RoleID or RoleIDFile identify the AppRole; SecretIDFile holds its secret id.
	RoleID       string `toml:"role-id,omitempty"`
	RoleIDFile   string `toml:"role-id-file,omitempty"`
	SecretIDFile string `toml:"secret-id-file,omitempty"`
	// AppRoleMount is the AppRole mount path (default "approle").
	AppRoleMount string `toml:"approle-mount,omitempty"`
	// TransitMount (default "transit") and KEK (default tikv-<cluster>-kek).
	TransitMount string `toml:"transit-mount,omitempty"`
	KEK          string `toml:"kek,omitempty"`
	// CreateKEK lets Prepare create the KEK when it is absent.
	CreateKEK bool `toml:"create-kek,omitempty"`
	// KEKAutoRotatePeriod is passed to transit when the KEK is created (e.g. "2160h"; ≥ 1h).
	KEKAutoRotatePeriod string `toml:"kek-auto-rotate-period,omitempty"`
	// KVMount (default "secret") and KVPath (default tikv/<cluster>/master-key).
	KVMount string `toml:"kv-mount,omitempty"`
	KVPath  string `toml:"kv-path,omitempty"`
	// HostKeyDir (default /run/tikv-keys, tmpfs) and Owner (default "tidb") of host key files.
	HostKeyDir string `toml:"host-key-dir,omitempty"`
	Owner      string `toml:"owner,omitempty"`
	// Delivery is "push" (default) or "agent".
	Delivery string `toml:"delivery,omitempty"`
	// AgentConfigPath is where agent mode writes the Vault Agent config on hosts
	// (default /etc/vault-agent/tikv-master-key.hcl); AgentRoleIDFile and
	// AgentSecretIDFile are the AppRole files on the host.
	AgentConfigPath   string `toml:"agent-config-path,omitempty"`
	AgentRoleIDFile   string `toml:"agent-role-id-file,omitempty"`
	AgentSecretIDFile string `toml:"agent-secret-id-file,omitempty"`
}

// Fields lists the [key.vault] settings for form generation. TiKV has no Vault
// backend (reference kms-and-evidence.md §1.1): it gets a type = "file" key
// this backend unwraps and delivers, so no field has a TiKVKey. The token is
// named by a file (else VAULT_TOKEN, then BAO_TOKEN), never typed.
func Fields() []core.Field {
	return []core.Field{
		{Key: "address", Label: "Vault address", Help: "VAULT_ADDR (then BAO_ADDR) when empty", Placeholder: "https://vault.example.com:8200", Format: core.FormatURL},
		{Key: "cluster", Label: "Cluster name", Help: "names the transit key tikv-<cluster>-kek and the KV path", Placeholder: "prod-east", Required: true,
			Pattern: `^[A-Za-z0-9][A-Za-z0-9_.-]*$`, PatternHelp: "letters, digits, dot, dash and underscore"},
		{Key: "token-file", Label: "Token file", Help: "file holding the Vault token (VAULT_TOKEN, else BAO_TOKEN, when empty)", Placeholder: "/etc/tikv-ear/vault-token", Secret: true},
		{Key: "namespace", Label: "Namespace", Help: "Vault Enterprise / OpenBao namespace (VAULT_NAMESPACE when empty)"},
		{Key: "create-kek", Label: "Create the KEK", Help: "yes: create the transit key when missing (needs update on transit/keys/<kek>)", Default: "no", Format: core.FormatYesNo},
		{Key: "host-key-dir", Label: "Key directory on the hosts", Help: "where the unwrapped key file goes (a tmpfs)", Default: core.DefaultHostKeyDir, Format: core.FormatAbsPath},
		{Key: "owner", Label: "Key file owner", Help: "the user TiKV runs as", Default: core.DefaultOwner},
		{Key: "ca-cert", Label: "CA certificate", Help: "PEM to trust for Vault's TLS (VAULT_CACERT when empty)", Advanced: true},
		{Key: "transit-mount", Label: "Transit mount", Help: "default transit", Advanced: true},
		{Key: "kv-mount", Label: "KV v2 mount", Help: "default secret", Advanced: true},
	}
}

func (c *Config) defaults() {
	if c.Auth == "" {
		c.Auth = "token"
	}
	if c.AppRoleMount == "" {
		c.AppRoleMount = "approle"
	}
	if c.TransitMount == "" {
		c.TransitMount = "transit"
	}
	if c.KEK == "" && c.Cluster != "" {
		c.KEK = "tikv-" + c.Cluster + "-kek"
	}
	if c.KVMount == "" {
		c.KVMount = "secret"
	}
	if c.KVPath == "" && c.Cluster != "" {
		c.KVPath = "tikv/" + c.Cluster + "/master-key"
	}
	if c.HostKeyDir == "" {
		c.HostKeyDir = core.DefaultHostKeyDir
	}
	if c.Owner == "" {
		c.Owner = core.DefaultOwner
	}
	if c.Delivery == "" {
		c.Delivery = DeliveryPush
	}
	if c.AgentConfigPath == "" {
		c.AgentConfigPath = "/etc/vault-agent/tikv-master-key.hcl"
	}
	if c.AgentRoleIDFile == "" {
		c.AgentRoleIDFile = "/etc/vault-agent/role_id"
	}
	if c.AgentSecretIDFile == "" {
		c.AgentSecretIDFile = "/etc/vault-agent/secret_id"
	}
}

// Backend is the Vault backend.
type Backend struct {
	cfg      Config
	client   *api.Client
	loggedIn bool
	now      func() time.Time
}

var _ core.Backend = (*Backend)(nil)

// Environment variables. The Vault client reads VAULT_* (api.DefaultConfig,
// api.NewClient); OpenBao's own client reads BAO_* instead (openbao/openbao
// api/client.go at v2.6.2: EnvVaultAddress = "BAO_ADDR", EnvVaultToken =
// "BAO_TOKEN", EnvVaultNamespace = "BAO_NAMESPACE", EnvVaultCACert =
// "BAO_CACERT"). Each BAO_* variable applies only when its VAULT_* twin is unset.
var envFallbacks = [...][2]string{
	{"VAULT_ADDR", "BAO_ADDR"},
	{"VAULT_TOKEN", "BAO_TOKEN"},
	{"VAULT_NAMESPACE", "BAO_NAMESPACE"},
	{"VAULT_CACERT", "BAO_CACERT"},
}

// fromEnv returns the VAULT_* variable vaultName, else its BAO_* twin.
func fromEnv(vaultName string) string {
	if v := os.Getenv(vaultName); v != "" {
		return v
	}
	for _, f := range envFallbacks {
		if f[0] == vaultName {
			return os.Getenv(f[1])
		}
	}
	return ""
}

// New builds the backend and its Vault client (api.DefaultConfig, so VAULT_*
// variables apply, then BAO_* ones for what VAULT_* leaves unset, then the
// plan's overrides). No request is sent.
func New(cfg Config) (*Backend, error) {
	cfg.defaults()
	vc := api.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault key backend: reading VAULT_* environment: %w", vc.Error)
	}
	switch {
	case cfg.Address != "":
		vc.Address = cfg.Address
	case os.Getenv("VAULT_ADDR") == "" && os.Getenv("BAO_ADDR") != "":
		vc.Address = os.Getenv("BAO_ADDR")
	}
	caCert := cfg.CACert
	if caCert == "" && os.Getenv("VAULT_CACERT") == "" {
		caCert = os.Getenv("BAO_CACERT")
	}
	if caCert != "" {
		if err := vc.ConfigureTLS(&api.TLSConfig{CACert: caCert}); err != nil {
			return nil, fmt.Errorf("vault key backend: reading ca-cert %s: %w", caCert, err)
		}
	}
	vc.MaxRetries = 0
	c, err := api.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault key backend: creating client: %w", err)
	}
	if ns := cmp.Or(cfg.Namespace, fromEnv("VAULT_NAMESPACE")); ns != "" {
		c.SetNamespace(ns)
	}
	if c.Token() == "" {
		c.SetToken(fromEnv("VAULT_TOKEN"))
	}
	if cfg.Auth == "token" && cfg.TokenFile != "" {
		tok, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("vault key backend: reading token-file %s: %w", cfg.TokenFile, err)
		}
		c.SetToken(strings.TrimSpace(string(tok)))
	}
	return &Backend{cfg: cfg, client: c, now: time.Now}, nil
}

// SetClock replaces the clock used for created_at (tests).
func (b *Backend) SetClock(now func() time.Time) { b.now = now }

// Name implements core.Backend.
func (b *Backend) Name() string { return core.BackendVault }

// Validate implements core.Backend.
func (b *Backend) Validate(env core.Environment, tikvVersions []string) []core.Finding {
	_, fs := core.VersionFindings(tikvVersions)
	c := b.cfg
	bad := func(code, msg, fix string) {
		fs = append(fs, core.Finding{Severity: core.SeverityError, Code: code, Message: msg, Fix: fix})
	}
	if c.KEK == "" || c.KVPath == "" {
		bad("vault-cluster", "[key.vault] cluster is empty and kek/kv-path are not set", "set [key.vault] cluster to the cluster name")
	}
	switch c.Auth {
	case "token":
	case "approle":
		if c.RoleID == "" && c.RoleIDFile == "" {
			bad("vault-approle", "[key.vault] auth = \"approle\" needs role-id or role-id-file", "set role-id-file to a file holding the role id")
		}
		if c.SecretIDFile == "" {
			bad("vault-approle", "[key.vault] auth = \"approle\" needs secret-id-file (secrets are never inline)", "set secret-id-file to a 0600 file holding the secret id")
		}
	default:
		bad("vault-auth", fmt.Sprintf("[key.vault] auth = %q is not \"token\" or \"approle\"", c.Auth), "use auth = \"token\" or auth = \"approle\"")
	}
	if c.Delivery != DeliveryPush && c.Delivery != DeliveryAgent {
		bad("vault-delivery", fmt.Sprintf("[key.vault] delivery = %q is not \"push\" or \"agent\"", c.Delivery), "use delivery = \"push\" or \"agent\"")
	}
	if !filepath.IsAbs(c.HostKeyDir) {
		bad("host-key-dir", fmt.Sprintf("[key.vault] host-key-dir %q is not an absolute path", c.HostKeyDir), "use e.g. /run/tikv-keys")
	}
	if c.KEKAutoRotatePeriod != "" && c.KEKAutoRotatePeriod != "0" {
		if d, err := time.ParseDuration(c.KEKAutoRotatePeriod); err != nil || d < time.Hour {
			bad("vault-auto-rotate", fmt.Sprintf("[key.vault] kek-auto-rotate-period %q must be a duration of at least 1h", c.KEKAutoRotatePeriod),
				"use e.g. \"2160h\" (90 days); transit's minimum is 1h")
		}
	}
	return fs
}

// ---- auth ----

func (b *Backend) ensureAuth(ctx context.Context) error {
	if b.cfg.Auth != "approle" || b.loggedIn {
		return nil
	}
	roleID := b.cfg.RoleID
	if b.cfg.RoleIDFile != "" {
		r, err := os.ReadFile(b.cfg.RoleIDFile)
		if err != nil {
			return fmt.Errorf("vault approle: reading role-id-file %s: %w", b.cfg.RoleIDFile, err)
		}
		roleID = strings.TrimSpace(string(r))
	}
	ar, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromFile: b.cfg.SecretIDFile}, approle.WithMountPath(b.cfg.AppRoleMount))
	if err != nil {
		return fmt.Errorf("vault approle: %w", err)
	}
	if _, err := b.client.Auth().Login(ctx, ar); err != nil {
		return b.explain("vault approle login at auth/"+b.cfg.AppRoleMount+"/login", err)
	}
	b.loggedIn = true
	return nil
}

// ---- generations ----

type record struct {
	ciphertext        string
	transitKey        string
	transitKeyVersion int
	generation        int
	createdAt         time.Time
	fingerprint       string
	kvVersion         int
	kvCreated         time.Time
}

func anyInt(v any) int {
	n, _ := strconv.Atoi(fmt.Sprint(v))
	return n
}

func parseRecord(s *api.KVSecret) (record, error) {
	if s == nil || s.Data == nil {
		return record{}, errors.New("record has no data (destroyed or deleted)")
	}
	r := record{
		ciphertext:        fmt.Sprint(s.Data["ciphertext"]),
		transitKey:        fmt.Sprint(s.Data["transit_key"]),
		transitKeyVersion: anyInt(s.Data["transit_key_version"]),
		generation:        anyInt(s.Data["generation"]),
		fingerprint:       fmt.Sprint(s.Data["fingerprint"]),
	}
	r.createdAt, _ = time.Parse(time.RFC3339, fmt.Sprint(s.Data["created_at"]))
	if s.VersionMetadata != nil {
		r.kvVersion = s.VersionMetadata.Version
		r.kvCreated = s.VersionMetadata.CreatedTime
	}
	if !strings.HasPrefix(r.ciphertext, "vault:v") || r.generation < 1 {
		return r, fmt.Errorf("record lacks a vault:vN ciphertext or a generation ≥ 1")
	}
	return r, nil
}

func (b *Backend) kvLocation() string { return b.cfg.KVMount + "/data/" + b.cfg.KVPath }

func (b *Backend) ref(r record) core.KeyRef {
	return core.KeyRef{
		Backend: core.BackendVault, ID: b.cfg.KVMount + "/" + b.cfg.KVPath, Version: strconv.Itoa(r.kvVersion),
		Generation: r.generation, Fingerprint: r.fingerprint, Created: r.createdAt,
		Attrs: map[string]string{"transit_key": r.transitKey, "transit_key_version": strconv.Itoa(r.transitKeyVersion)},
	}
}

// latest returns the newest record, or ok=false when the KV path is empty.
func (b *Backend) latest(ctx context.Context) (record, bool, error) {
	s, err := b.client.KVv2(b.cfg.KVMount).Get(ctx, b.cfg.KVPath)
	if errors.Is(err, api.ErrSecretNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, b.explain(fmt.Sprintf("reading %s", b.kvLocation()), err)
	}
	r, err := parseRecord(s)
	if err != nil {
		return record{}, false, fmt.Errorf("reading %s: %w", b.kvLocation(), err)
	}
	return r, true, nil
}

// Prepare implements core.Backend.
func (b *Backend) Prepare(ctx context.Context, purpose core.Purpose) (core.KeyRef, error) {
	if purpose != core.PurposeCurrent && purpose != core.PurposeNew {
		return core.KeyRef{}, fmt.Errorf("vault key backend: unknown purpose %q", purpose)
	}
	if err := b.ensureAuth(ctx); err != nil {
		return core.KeyRef{}, err
	}
	cur, ok, err := b.latest(ctx)
	if err != nil {
		return core.KeyRef{}, err
	}
	if ok && purpose == core.PurposeCurrent {
		return b.ref(cur), nil
	}
	if err := b.requireKVv2(ctx); err != nil {
		return core.KeyRef{}, err
	}
	next, cas := 1, 0
	if ok {
		next, cas = cur.generation+1, cur.kvVersion
	}
	if err := b.ensureKEK(ctx); err != nil {
		return core.KeyRef{}, err
	}
	dk, err := b.client.Logical().WriteWithContext(ctx, b.cfg.TransitMount+"/datakey/wrapped/"+b.cfg.KEK, map[string]any{"bits": 256})
	if err != nil {
		return core.KeyRef{}, b.explain(fmt.Sprintf("vault transit datakey/wrapped/%s", b.cfg.KEK), err)
	}
	if dk == nil || dk.Data["ciphertext"] == nil {
		return core.KeyRef{}, fmt.Errorf("vault transit datakey/wrapped/%s: empty response", b.cfg.KEK)
	}
	ct := fmt.Sprint(dk.Data["ciphertext"])
	content, err := b.unwrap(ctx, ct)
	if err != nil {
		return core.KeyRef{}, err
	}
	fp := core.Fingerprint(content)
	core.Wipe(content)
	rec := map[string]any{
		"ciphertext": ct, "transit_key": b.cfg.KEK, "transit_key_version": anyInt(dk.Data["key_version"]),
		"generation": next, "created_at": b.now().UTC().Format(time.RFC3339), "fingerprint": fp,
	}
	if _, err := b.client.KVv2(b.cfg.KVMount).Put(ctx, b.cfg.KVPath, rec, api.WithCheckAndSet(cas)); err != nil {
		if isCASConflict(err) {
			return core.KeyRef{}, &Error{Msg: fmt.Sprintf("writing generation %d to %s: another run changed the record since version %d (check-and-set conflict); retry once the other run has finished: %s",
				next, b.kvLocation(), cas, textCASConflict+" the current version"), Status: http.StatusBadRequest, err: err}
		}
		return core.KeyRef{}, b.explain(fmt.Sprintf("writing generation %d to %s", next, b.kvLocation()), err)
	}
	r, ok, err := b.latest(ctx)
	if err != nil {
		return core.KeyRef{}, err
	}
	if !ok || r.generation != next || r.fingerprint != fp {
		return core.KeyRef{}, fmt.Errorf("reading back %s: generation %d not found", b.kvLocation(), next)
	}
	return b.ref(r), nil
}

func (b *Backend) ensureKEK(ctx context.Context) error {
	p := b.cfg.TransitMount + "/keys/" + b.cfg.KEK
	s, err := b.read(ctx, p)
	if isNoHandler(err) {
		return &Error{Msg: "creating vault kek " + p + ": transit is not mounted at " + b.cfg.TransitMount + "/", Fix: b.enableFix("transit", b.cfg.TransitMount), err: err}
	}
	if err != nil {
		return b.explain(fmt.Sprintf("reading vault kek %s", p), err)
	}
	if s != nil {
		return nil
	}
	if !b.cfg.CreateKEK {
		return fmt.Errorf("vault kek %s does not exist: set [key.vault] create-kek = true or create it with type=aes256-gcm96", p)
	}
	body := map[string]any{"type": "aes256-gcm96", "exportable": false, "allow_plaintext_backup": false}
	if b.cfg.KEKAutoRotatePeriod != "" {
		body["auto_rotate_period"] = b.cfg.KEKAutoRotatePeriod
	}
	if _, err := b.client.Logical().WriteWithContext(ctx, p, body); err != nil {
		return b.explain(fmt.Sprintf("creating vault kek %s", p), err)
	}
	return nil
}

// unwrap decrypts a wrapped datakey in memory and returns the 65-byte file
// content; the caller must Wipe it.
func (b *Backend) unwrap(ctx context.Context, ciphertext string) ([]byte, error) {
	s, err := b.client.Logical().WriteWithContext(ctx, b.cfg.TransitMount+"/decrypt/"+b.cfg.KEK, map[string]any{"ciphertext": ciphertext})
	if err != nil {
		return nil, b.explain(fmt.Sprintf("vault transit decrypt/%s", b.cfg.KEK), err)
	}
	if s == nil {
		return nil, fmt.Errorf("vault transit decrypt/%s: empty response", b.cfg.KEK)
	}
	pt, _ := s.Data["plaintext"].(string)
	raw, err := base64.StdEncoding.DecodeString(pt)
	s.Data["plaintext"] = nil
	if err != nil {
		return nil, fmt.Errorf("vault transit decrypt/%s: plaintext is not base64", b.cfg.KEK)
	}
	defer core.Wipe(raw)
	content, err := core.EncodeFileKey(raw)
	if err != nil {
		return nil, fmt.Errorf("vault transit decrypt/%s: %w", b.cfg.KEK, err)
	}
	return content, nil
}

// MasterKey implements core.Backend: type = "file" at the generation's host path.
func (b *Backend) MasterKey(ref core.KeyRef) tikv.MasterKey {
	return core.FileMasterKey(b.HostPath(ref))
}

// HostPath is where ref's key file lives on a TiKV host.
func (b *Backend) HostPath(ref core.KeyRef) string {
	return core.HostKeyPath(b.cfg.HostKeyDir, ref.Generation)
}

func (b *Backend) record(ctx context.Context, ref core.KeyRef) (record, error) {
	v, err := strconv.Atoi(ref.Version)
	if err != nil {
		return record{}, fmt.Errorf("key ref for generation %d has no KV version", ref.Generation)
	}
	s, err := b.client.KVv2(b.cfg.KVMount).GetVersion(ctx, b.cfg.KVPath, v)
	if err != nil {
		return record{}, b.explain(fmt.Sprintf("reading %s version %d", b.kvLocation(), v), err)
	}
	r, err := parseRecord(s)
	if err != nil {
		return record{}, fmt.Errorf("reading %s version %d: %w", b.kvLocation(), v, err)
	}
	return r, nil
}

// Deliver implements core.Backend. Push mode unwraps the key in memory and
// streams it to the host; agent mode writes the Vault Agent config instead.
func (b *Backend) Deliver(ctx context.Context, h core.Host, ref core.KeyRef) error {
	if err := b.ensureAuth(ctx); err != nil {
		return err
	}
	r, err := b.record(ctx, ref)
	if err != nil {
		return err
	}
	if r.generation != ref.Generation {
		return fmt.Errorf("%s version %s holds generation %d, not %d", b.kvLocation(), ref.Version, r.generation, ref.Generation)
	}
	if b.cfg.Delivery == DeliveryAgent {
		hcl := b.AgentConfig(ref, r.ciphertext)
		if err := h.WriteSecretFile(ctx, b.cfg.AgentConfigPath, strings.NewReader(hcl), 0o400, "root"); err != nil {
			return fmt.Errorf("writing vault agent config %s on %s: %w", b.cfg.AgentConfigPath, h.Name(), err)
		}
		return nil
	}
	content, err := b.unwrap(ctx, r.ciphertext)
	if err != nil {
		return err
	}
	defer core.Wipe(content)
	if fp := core.Fingerprint(content); fp != ref.Fingerprint {
		return fmt.Errorf("generation %d unwraps to fingerprint %s, the plan expects %s: refusing to deliver a substituted key", ref.Generation, fp, ref.Fingerprint)
	}
	return core.DeliverFileKey(ctx, h, b.HostPath(ref), b.cfg.Owner, content)
}

// AgentConfig renders the Vault Agent config that makes the agent on a host
// render ref's key file (reference kms-and-evidence.md §1.4): AppRole auto-auth,
// exit_on_retry_failure, and one template with backup = false (the default true
// would leave the old key in a backup file on disk), perms 0400 and
// error_on_missing_key. The template decrypts the wrapped ciphertext (not a
// secret) with transit and prints it as hex; the heredoc's final newline makes
// it hex+LF. Run with OpenBao v2.6.2's agent (realparts test AgentRenders):
// the rendered file is the 65-byte key, mode 0400, with the planned
// fingerprint, and the agent deletes the secret-id file after its login.
func (b *Backend) AgentConfig(ref core.KeyRef, ciphertext string) string {
	addr := b.client.Address()
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Vault Agent config for the TiKV master key, generation %d (rendered by tikv-ear).\n", ref.Generation)
	fmt.Fprintf(&sb, "vault {\n  address = %q\n}\n\n", addr)
	fmt.Fprintf(&sb, "auto_auth {\n  method {\n    type       = \"approle\"\n    mount_path = %q\n    config = {\n", "auth/"+b.cfg.AppRoleMount)
	fmt.Fprintf(&sb, "      role_id_file_path                   = %q\n", b.cfg.AgentRoleIDFile)
	fmt.Fprintf(&sb, "      secret_id_file_path                 = %q\n", b.cfg.AgentSecretIDFile)
	sb.WriteString("      remove_secret_id_file_after_reading = true\n    }\n  }\n}\n\n")
	sb.WriteString("template_config {\n  exit_on_retry_failure         = true\n  static_secret_render_interval = \"5m\"\n}\n\n")
	sb.WriteString("template {\n")
	fmt.Fprintf(&sb, "  destination          = %q\n", b.HostPath(ref))
	sb.WriteString("  perms                = \"0400\"\n")
	fmt.Fprintf(&sb, "  user                 = %q # DERIVED: passed through to consul-template (reference §1.4)\n", b.cfg.Owner)
	sb.WriteString("  backup               = false\n")
	sb.WriteString("  error_on_missing_key = true\n")
	sb.WriteString("  contents = <<EOT\n")
	fmt.Fprintf(&sb, "{{- with secret %q %q -}}{{ printf \"%%x\" (base64Decode .Data.plaintext) }}{{- end }}\n",
		b.cfg.TransitMount+"/decrypt/"+b.cfg.KEK, "ciphertext="+ciphertext)
	sb.WriteString("EOT\n}\n")
	return sb.String()
}

// Policy returns the Vault policy HCL for role "operator" (the tool) or "host"
// (Vault Agent on a TiKV host, which may only decrypt).
func (b *Backend) Policy(role string) (string, error) {
	t, k, m, p := b.cfg.TransitMount, b.cfg.KEK, b.cfg.KVMount, b.cfg.KVPath
	line := func(path string, caps ...string) string {
		return fmt.Sprintf("path %q {\n  capabilities = [\"%s\"]\n}\n", path, strings.Join(caps, "\", \""))
	}
	switch role {
	case "host":
		return "# TiKV host (Vault Agent): unwrap the master key only.\n" + line(t+"/decrypt/"+k, "update"), nil
	case "operator":
		kek := []string{"read"}
		if b.cfg.CreateKEK { // creating a transit key is an update (see neededPaths)
			kek = []string{"read", "update"}
		}
		return "# tikv-ear operator: manage the TiKV master key for cluster " + b.cfg.Cluster + ".\n" +
			line(t+"/keys/"+k, kek...) +
			line(t+"/keys/"+k+"/rotate", "update") +
			line(t+"/keys/"+k+"/config", "update") +
			line(t+"/datakey/wrapped/"+k, "update") +
			line(t+"/decrypt/"+k, "update") +
			line(t+"/rewrap/"+k, "update") +
			line(m+"/data/"+p, "create", "read", "update") +
			line(m+"/metadata/"+p, "read") +
			line(m+"/destroy/"+p, "update"), nil
	}
	return "", fmt.Errorf("vault policy: unknown role %q (want \"operator\" or \"host\")", role)
}

// versions lists the live (not destroyed) KV versions with their records.
func (b *Backend) versions(ctx context.Context) ([]record, error) {
	md, err := b.client.KVv2(b.cfg.KVMount).GetMetadata(ctx, b.cfg.KVPath)
	if err != nil {
		return nil, b.explain(fmt.Sprintf("reading metadata of %s/metadata/%s", b.cfg.KVMount, b.cfg.KVPath), err)
	}
	var out []record
	for n := 1; n <= md.CurrentVersion; n++ {
		v, ok := md.Versions[strconv.Itoa(n)]
		if !ok || v.Destroyed {
			continue
		}
		s, err := b.client.KVv2(b.cfg.KVMount).GetVersion(ctx, b.cfg.KVPath, n)
		if err != nil {
			return nil, b.explain(fmt.Sprintf("reading %s version %d", b.kvLocation(), n), err)
		}
		r, err := parseRecord(s)
		if err != nil {
			continue // deleted (not destroyed) or foreign data: not ours to judge
		}
		out = append(out, r)
	}
	return out, nil
}

// Retire implements core.Backend: KV-destroys every version of ref's
// generation (refusing the current generation) and shreds host copies.
func (b *Backend) Retire(ctx context.Context, ref core.KeyRef, opts core.RetireOptions) (core.Evidence, error) {
	ev := core.Evidence{Backend: core.BackendVault, KeyID: ref.ID, KeyVersion: ref.Version, Generation: ref.Generation, Fingerprint: ref.Fingerprint, Created: ref.Created}
	if !opts.Confirmed {
		return ev, fmt.Errorf("retiring vault key generation %d: not confirmed: KV destroy is irreversible; confirm explicitly", ref.Generation)
	}
	if opts.Action != "" && opts.Action != "destroy" {
		return ev, fmt.Errorf("retiring vault key generation %d: unknown action %q (want \"destroy\")", ref.Generation, opts.Action)
	}
	if err := b.ensureAuth(ctx); err != nil {
		return ev, err
	}
	cur, ok, err := b.latest(ctx)
	if err != nil {
		return ev, err
	}
	if ok && cur.generation == ref.Generation {
		return ev, fmt.Errorf("retiring vault key generation %d: it is the current generation; prepare and roll out a new one first", ref.Generation)
	}
	recs, err := b.versions(ctx)
	if err != nil {
		return ev, err
	}
	var doomed []int
	for _, r := range recs {
		if r.generation == ref.Generation {
			doomed = append(doomed, r.kvVersion)
		}
	}
	for _, h := range opts.Hosts {
		hp := b.HostPath(ref)
		fi, err := h.Stat(ctx, hp)
		if err != nil {
			return ev, fmt.Errorf("checking %s on %s: %w", hp, h.Name(), err)
		}
		if fi.Exists {
			if err := h.Remove(ctx, hp, true); err != nil {
				return ev, fmt.Errorf("removing %s on %s: %w", hp, h.Name(), err)
			}
			ev.Actions = append(ev.Actions, "shredded "+hp+" on "+h.Name())
		}
	}
	if len(doomed) > 0 {
		if err := b.client.KVv2(b.cfg.KVMount).Destroy(ctx, b.cfg.KVPath, doomed); err != nil {
			return ev, b.explain(fmt.Sprintf("destroying %s versions %v", b.kvLocation(), doomed), err)
		}
		ev.Actions = append(ev.Actions, fmt.Sprintf("destroyed %s/%s versions %v", b.cfg.KVMount, b.cfg.KVPath, doomed))
	}
	ev.State = "destroyed"
	return ev, nil
}

// Evidence implements core.Backend: KV version metadata, the KEK's versions,
// rotation settings and the token accessor.
func (b *Backend) Evidence(ctx context.Context, ref core.KeyRef) (core.Evidence, error) {
	ev := core.Evidence{Backend: core.BackendVault, KeyID: ref.ID, KeyVersion: ref.Version, Generation: ref.Generation,
		Fingerprint: ref.Fingerprint, Created: ref.Created, State: "active", Attrs: map[string]string{}}
	if err := b.ensureAuth(ctx); err != nil {
		return ev, err
	}
	if self, err := b.client.Auth().Token().LookupSelfWithContext(ctx); err == nil {
		ev.Accessor, _ = self.TokenAccessor()
	}
	md, err := b.client.KVv2(b.cfg.KVMount).GetMetadata(ctx, b.cfg.KVPath)
	if err != nil {
		return ev, b.explain(fmt.Sprintf("reading metadata of %s/metadata/%s", b.cfg.KVMount, b.cfg.KVPath), err)
	}
	if v, ok := md.Versions[ref.Version]; ok {
		ev.Attrs["kv_created"] = v.CreatedTime.UTC().Format(time.RFC3339)
		if v.Destroyed {
			ev.State = "destroyed"
		}
	}
	ev.Attrs["kv_current_version"] = strconv.Itoa(md.CurrentVersion)
	k, err := b.read(ctx, b.cfg.TransitMount+"/keys/"+b.cfg.KEK)
	if err != nil {
		return ev, b.explain(fmt.Sprintf("reading vault kek %s", b.cfg.KEK), err)
	}
	if k != nil {
		ev.Attrs["kek"] = b.cfg.TransitMount + "/keys/" + b.cfg.KEK
		ev.Attrs["kek_type"] = fmt.Sprint(k.Data["type"])
		ev.Attrs["kek_latest_version"] = fmt.Sprint(k.Data["latest_version"])
		ev.Attrs["kek_min_decryption_version"] = fmt.Sprint(k.Data["min_decryption_version"])
		ev.Attrs["transit_key_version"] = ref.Attrs["transit_key_version"]
		secs := anyInt(k.Data["auto_rotate_period"])
		on := secs > 0
		ev.RotationEnabled = &on
		if on {
			ev.RotationPeriod = (time.Duration(secs) * time.Second).String()
		}
		if keys, ok := k.Data["keys"].(map[string]any); ok {
			if ts := anyInt(keys[fmt.Sprint(k.Data["latest_version"])]); ts > 0 {
				ev.Attrs["kek_latest_created"] = time.Unix(int64(ts), 0).UTC().Format(time.RFC3339)
			}
		}
	}
	return ev, nil
}

// KEKPath is the KEK's transit path, e.g. transit/keys/tikv-c1-kek.
func (b *Backend) KEKPath() string { return b.cfg.TransitMount + "/keys/" + b.cfg.KEK }

// RotateKEK rotates the transit KEK and rewraps the current generation into a
// new KV version (same generation and fingerprint, new transit_key_version).
// TiKV is untouched: it only ever sees the unwrapped key.
func (b *Backend) RotateKEK(ctx context.Context) (core.KeyRef, error) {
	if err := b.ensureAuth(ctx); err != nil {
		return core.KeyRef{}, err
	}
	if _, ok, err := b.latest(ctx); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("rotating kek: %s holds no generation yet", b.kvLocation())
		}
		return core.KeyRef{}, err
	}
	if _, err := b.client.Logical().WriteWithContext(ctx, b.KEKPath()+"/rotate", nil); err != nil {
		return core.KeyRef{}, b.explain(fmt.Sprintf("rotating vault kek %s", b.cfg.KEK), err)
	}
	return b.Rewrap(ctx)
}

// Rewrap rewraps the current generation under the KEK's latest version (after
// transit's auto-rotation) into a new KV version; when it already is, nothing
// is written and its ref is returned.
func (b *Backend) Rewrap(ctx context.Context) (core.KeyRef, error) {
	if err := b.ensureAuth(ctx); err != nil {
		return core.KeyRef{}, err
	}
	cur, ok, err := b.latest(ctx)
	if err != nil {
		return core.KeyRef{}, err
	}
	if !ok {
		return core.KeyRef{}, fmt.Errorf("rewrapping: %s holds no generation yet", b.kvLocation())
	}
	k, err := b.read(ctx, b.KEKPath())
	if err != nil {
		return core.KeyRef{}, b.explain("reading vault kek "+b.KEKPath(), err)
	}
	if k != nil && anyInt(k.Data["latest_version"]) == cur.transitKeyVersion {
		return b.ref(cur), nil
	}
	s, err := b.client.Logical().WriteWithContext(ctx, b.cfg.TransitMount+"/rewrap/"+b.cfg.KEK, map[string]any{"ciphertext": cur.ciphertext})
	if err != nil {
		return core.KeyRef{}, b.explain(fmt.Sprintf("rewrapping generation %d with %s", cur.generation, b.cfg.KEK), err)
	}
	if s == nil || s.Data["ciphertext"] == nil {
		return core.KeyRef{}, fmt.Errorf("rewrapping generation %d with %s: empty response", cur.generation, b.cfg.KEK)
	}
	rec := map[string]any{
		"ciphertext": fmt.Sprint(s.Data["ciphertext"]), "transit_key": b.cfg.KEK, "transit_key_version": anyInt(s.Data["key_version"]),
		"generation": cur.generation, "created_at": cur.createdAt.UTC().Format(time.RFC3339), "fingerprint": cur.fingerprint,
	}
	if _, err := b.client.KVv2(b.cfg.KVMount).Put(ctx, b.cfg.KVPath, rec, api.WithCheckAndSet(cur.kvVersion)); err != nil {
		return core.KeyRef{}, b.explain(fmt.Sprintf("writing rewrapped generation %d to %s", cur.generation, b.kvLocation()), err)
	}
	r, _, err := b.latest(ctx)
	if err != nil {
		return core.KeyRef{}, err
	}
	return b.ref(r), nil
}

// DestroySuperseded KV-destroys the versions of the record whose generation
// also has a newer live KV version (what RotateKEK and Rewrap leave behind:
// the same key wrapped under an older KEK version), except the versions refs
// in keep name. The newest version of every generation stays, so no key is
// lost; what goes is only the older wrapping, so RaiseMinDecryptionVersion can
// then retire the older KEK versions. Returns the destroyed KV versions.
func (b *Backend) DestroySuperseded(ctx context.Context, keep []core.KeyRef) ([]int, error) {
	if err := b.ensureAuth(ctx); err != nil {
		return nil, err
	}
	recs, err := b.versions(ctx)
	if err != nil {
		return nil, err
	}
	newest := map[int]int{}
	for _, r := range recs {
		newest[r.generation] = max(newest[r.generation], r.kvVersion)
	}
	var doomed []int
	for _, r := range recs {
		kept := slices.ContainsFunc(keep, func(k core.KeyRef) bool { return k.Version == strconv.Itoa(r.kvVersion) })
		if r.kvVersion < newest[r.generation] && !kept {
			doomed = append(doomed, r.kvVersion)
		}
	}
	if len(doomed) == 0 {
		return nil, nil
	}
	if err := b.client.KVv2(b.cfg.KVMount).Destroy(ctx, b.cfg.KVPath, doomed); err != nil {
		return nil, b.explain(fmt.Sprintf("destroying superseded %s versions %v", b.kvLocation(), doomed), err)
	}
	return doomed, nil
}

// RaiseMinDecryptionVersion sets the KEK's min_decryption_version to the
// oldest transit version still referenced by a live KV version, so retired KEK
// versions can no longer decrypt anything. Returns the new minimum.
func (b *Backend) RaiseMinDecryptionVersion(ctx context.Context) (int, error) {
	if err := b.ensureAuth(ctx); err != nil {
		return 0, err
	}
	recs, err := b.versions(ctx)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, fmt.Errorf("raising min_decryption_version: %s holds no live generation", b.kvLocation())
	}
	lowest := recs[0].transitKeyVersion
	for _, r := range recs {
		lowest = min(lowest, r.transitKeyVersion)
	}
	if _, err := b.client.Logical().WriteWithContext(ctx, b.cfg.TransitMount+"/keys/"+b.cfg.KEK+"/config", map[string]any{"min_decryption_version": lowest}); err != nil {
		return 0, b.explain(fmt.Sprintf("setting min_decryption_version of %s to %d", b.cfg.KEK, lowest), err)
	}
	return lowest, nil
}

// SetAutoRotate sets the KEK's auto_rotate_period ("0" disables; minimum 1h).
func (b *Backend) SetAutoRotate(ctx context.Context, period string) error {
	if err := b.ensureAuth(ctx); err != nil {
		return err
	}
	if _, err := b.client.Logical().WriteWithContext(ctx, b.cfg.TransitMount+"/keys/"+b.cfg.KEK+"/config", map[string]any{"auto_rotate_period": period}); err != nil {
		return b.explain(fmt.Sprintf("setting auto_rotate_period of %s", b.cfg.KEK), err)
	}
	return nil
}
