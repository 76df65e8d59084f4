package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/tikv-ear/tikv-ear/kms/core"
)

// need is a set of capabilities the operator's token must hold on a path.
type need struct {
	path string
	caps []string
}

// neededPaths lists what the operator's token needs; kek adds the paths of
// the KEK lifecycle commands (rotate and rewrap, min_decryption_version and
// auto_rotate_period through keys/<kek>/config). Creating the KEK needs
// update, not create, on transit/keys/<kek>: that path has no existence check,
// so every POST is an update (OpenBao v2.6.2 builtin/logical/transit/path_keys.go
// pathKeys Operations; measured: a token with create+read gets 403).
func (b *Backend) neededPaths(kek bool) []need {
	t, k := b.cfg.TransitMount, b.cfg.KEK
	m, p := b.cfg.KVMount, b.cfg.KVPath
	keys := []string{"read"}
	if b.cfg.CreateKEK {
		keys = append(keys, "update")
	}
	out := []need{
		{t + "/keys/" + k, keys},
		{t + "/datakey/wrapped/" + k, []string{"update"}},
		{t + "/decrypt/" + k, []string{"update"}},
		{m + "/data/" + p, []string{"create", "read", "update"}},
		{m + "/metadata/" + p, []string{"read"}},
		{m + "/destroy/" + p, []string{"update"}},
	}
	if kek {
		out = append(out,
			need{t + "/keys/" + k + "/rotate", []string{"update"}},
			need{t + "/rewrap/" + k, []string{"update"}},
			need{t + "/keys/" + k + "/config", []string{"update"}})
	}
	return out
}

// Preflight implements core.Backend: health (sealed?), auth (token accessor
// and TTL), capabilities on every path the run needs, the transit mount and
// the KEK's settings, and the KV mount (must be KV v2). It writes nothing.
func (b *Backend) Preflight(ctx context.Context) []core.Check { return b.preflight(ctx, false) }

// PreflightKEK is Preflight for the KEK lifecycle commands: it also checks
// the capabilities RotateKEK, RaiseMinDecryptionVersion and SetAutoRotate need.
func (b *Backend) PreflightKEK(ctx context.Context) []core.Check { return b.preflight(ctx, true) }

func (b *Backend) preflight(ctx context.Context, kek bool) []core.Check {
	checks := []core.Check{b.healthCheck(ctx)}
	if checks[0].Status == core.StatusFail {
		return checks
	}
	checks = append(checks, b.authCheck(ctx))
	if checks[1].Status == core.StatusFail {
		return checks
	}
	caps := b.capabilitiesCheck(ctx, b.neededPaths(kek))
	checks = append(checks, caps)
	if caps.Status == core.StatusFail {
		return checks
	}
	return append(checks, b.transitCheck(ctx), b.kvCheck(ctx))
}

// healthCheck asks sys/health WITHOUT the namespace header: sys/health is a
// root-namespace API and answers 400 "operation unavailable in namespaces"
// inside one (OpenBao v2.6.2 http/handler.go restrictedSysAPIsNonLogical).
func (b *Backend) healthCheck(ctx context.Context) core.Check {
	addr := b.client.Address()
	h, err := b.client.WithNamespace("").Sys().HealthWithContext(ctx)
	c := core.Check{Name: "vault health", Status: core.StatusFail}
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		} else {
			err = b.explain("GET sys/health", err)
		}
		c.Reason, c.Fix = fmt.Sprintf("GET %s/v1/sys/health: %v", addr, err), fixAddress
	case !h.Initialized:
		c.Reason, c.Fix = "vault at "+addr+" is not initialized", "initialize (vault operator init) and unseal Vault"
	case h.Sealed:
		c.Reason, c.Fix = "vault at "+addr+" is sealed", fixUnseal
	default:
		c.Status, c.Reason = core.StatusPass, fmt.Sprintf("vault %s at %s is initialized and unsealed", h.Version, addr)
	}
	return c
}

func (b *Backend) authCheck(ctx context.Context) core.Check {
	c := core.Check{Name: "vault auth", Status: core.StatusFail}
	if b.cfg.Auth != "approle" && b.client.Token() == "" {
		c.Reason = "no Vault token: [key.vault] token-file, VAULT_TOKEN and BAO_TOKEN are all unset"
		c.Fix = "set [key.vault] token-file (or VAULT_TOKEN) to a token, or use auth = \"approle\""
		return c
	}
	if err := b.ensureAuth(ctx); err != nil {
		c.Reason, c.Fix = err.Error(), fixApproleAuth
		var e *Error
		if errors.As(err, &e) && e.Fix != "" {
			c.Fix = e.Fix
		}
		return c
	}
	self, err := b.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		var e *Error
		errors.As(b.explain("token lookup-self", err), &e)
		c.Reason, c.Fix = e.Msg, e.Fix
		if e.Fix == "" {
			c.Fix = "check the token"
		}
		if strings.Contains(e.Msg, "token rejected") { // keep the documented wording
			c.Reason = "token rejected (permission denied): it is missing, expired or revoked"
		}
		return c
	}
	acc, _ := self.TokenAccessor()
	ttl, _ := self.TokenTTL()
	c.Status = core.StatusPass
	c.Reason = fmt.Sprintf("token accessor %s, ttl %s", acc, ttl)
	if ns := b.client.Namespace(); ns != "" {
		c.Reason += ", namespace " + ns
	}
	return c
}

// capabilitiesCheck asks sys/capabilities-self for every path at once (the
// "paths" form; the answer has one key per path).
func (b *Backend) capabilitiesCheck(ctx context.Context, needs []need) core.Check {
	c := core.Check{Name: "vault capabilities", Status: core.StatusFail}
	paths := make([]string, len(needs))
	for i, n := range needs {
		paths[i] = n.path
	}
	s, err := b.client.Logical().WriteWithContext(ctx, "sys/capabilities-self", map[string]any{"paths": paths})
	if err != nil {
		var e *Error
		errors.As(b.explain("sys/capabilities-self", err), &e)
		c.Reason, c.Fix = e.Msg, e.Fix
		return c
	}
	if s == nil || s.Data == nil {
		c.Reason = "sys/capabilities-self: empty answer"
		return c
	}
	var missing []string
	for _, n := range needs {
		var caps []string
		if raw, ok := s.Data[n.path].([]any); ok {
			for _, x := range raw {
				caps = append(caps, fmt.Sprint(x))
			}
		}
		if lack := lacking(caps, n.caps); len(lack) > 0 {
			missing = append(missing, fmt.Sprintf("%s needs %s (has %s)", n.path, strings.Join(lack, ","), strings.Join(caps, ",")))
		}
	}
	if len(missing) > 0 {
		c.Reason, c.Fix = strings.Join(missing, "; "), fixPolicy
		return c
	}
	c.Status, c.Reason = core.StatusPass, "token can read the KEK, wrap and unwrap datakeys and write the KV record"
	return c
}

// lacking returns the capabilities of want that caps does not grant.
func lacking(caps, want []string) []string {
	if slices.Contains(caps, "root") && !slices.Contains(caps, "deny") {
		return nil
	}
	var out []string
	for _, w := range want {
		if slices.Contains(caps, "deny") || !slices.Contains(caps, w) {
			out = append(out, w)
		}
	}
	return out
}

// read is Logical().Read that keeps the reason of a 404: the api client
// returns nil, nil for every 404 (api logical.go ParseRawResponseAndCloseBody),
// so an unmounted engine ("no handler for route") looked like a missing key.
// Here nil, nil means only that nothing is stored at path.
func (b *Backend) read(ctx context.Context, path string) (*api.Secret, error) {
	resp, err := b.client.Logical().ReadRawWithContext(ctx, path)
	if resp != nil {
		defer resp.Body.Close()
	}
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound && len(re.Errors) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return api.ParseSecret(resp.Body)
}

func isNoHandler(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && hasText(re, textNoHandler)
}

// mountInfo asks sys/internal/ui/mounts/<path> which engine serves path, as
// `vault kv` does to find a KV mount's version (OpenBao v2.6.2
// command/kv_helpers.go kvPreflightVersionRequest). known is false when the
// server answers 403: nothing is mounted there, or the token may use no path
// under the mount (vault/logical_system.go pathInternalUIMountRead).
func (b *Backend) mountInfo(ctx context.Context, path string) (typ, version string, known bool, err error) {
	s, err := b.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+path)
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusForbidden && !tokenRejected(re) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	if s == nil || s.Data == nil {
		return "", "", false, nil
	}
	typ, _ = s.Data["type"].(string)
	if opts, ok := s.Data["options"].(map[string]any); ok {
		version, _ = opts["version"].(string)
	}
	return typ, version, true, nil
}

// cliFlags is the -namespace flag of a vault/bao command for this backend.
func (b *Backend) cliFlags() string {
	if ns := b.client.Namespace(); ns != "" {
		return " -namespace=" + ns
	}
	return ""
}

// enableFix says how to mount engine at mount with both CLIs.
func (b *Backend) enableFix(engine, mount string) string {
	args := b.cliFlags()
	if mount != engine {
		args += " -path=" + mount
	}
	return fmt.Sprintf("enable it: vault secrets enable%s %s (OpenBao: bao secrets enable%s %s)", args, engine, args, engine)
}

// transitCheck checks the transit mount and the KEK in it.
func (b *Backend) transitCheck(ctx context.Context) core.Check {
	t := b.cfg.TransitMount
	p := t + "/keys/" + b.cfg.KEK
	c := core.Check{Name: "vault kek " + p, Status: core.StatusFail}
	typ, _, known, err := b.mountInfo(ctx, p)
	if err != nil {
		c.Reason, c.Fix = b.explain("reading the mount at "+t+"/", err).Error(), fixPolicy
		return c
	}
	if known && typ != "transit" {
		c.Reason = fmt.Sprintf("%s/ is a %s mount, not transit", t, typ)
		c.Fix = "set [key.vault] transit-mount to a transit mount, or " + b.enableFix("transit", "tikv-transit") + " and set transit-mount = \"tikv-transit\""
		return c
	}
	s, err := b.read(ctx, p)
	if isNoHandler(err) {
		c.Reason = "transit is not mounted at " + t + "/ (a dev server has none)"
		c.Fix = b.enableFix("transit", t)
		return c
	}
	if err != nil {
		var e *Error
		errors.As(b.explain("reading "+p, err), &e)
		c.Reason, c.Fix = e.Msg, e.Fix
		return c
	}
	if s == nil {
		if b.cfg.CreateKEK {
			c.Status, c.Reason = core.StatusWarn, "the KEK does not exist yet; prepare will create it (aes256-gcm96, non-exportable)"
			return c
		}
		c.Reason = "the KEK does not exist"
		c.Fix = fmt.Sprintf("set [key.vault] create-kek = true, or create it: vault write%s %s type=aes256-gcm96", b.cliFlags(), p)
		return c
	}
	return kekSettings(c, s)
}

// kekSettings judges an existing KEK's type and one-way flags.
func kekSettings(c core.Check, s *api.Secret) core.Check {
	var problems []string
	typ, _ := s.Data["type"].(string)
	if typ != "aes256-gcm96" {
		problems = append(problems, "type is "+typ+", want aes256-gcm96")
	}
	if e, _ := s.Data["exportable"].(bool); e {
		problems = append(problems, "exportable is true (one-way: the KEK can be exported)")
	}
	if e, _ := s.Data["allow_plaintext_backup"].(bool); e {
		problems = append(problems, "allow_plaintext_backup is true")
	}
	if e, _ := s.Data["deletion_allowed"].(bool); e {
		problems = append(problems, "deletion_allowed is true: deleting the KEK makes every TiKV data unrecoverable")
	}
	if len(problems) > 0 {
		c.Status = core.StatusWarn
		if typ != "aes256-gcm96" {
			c.Status = core.StatusFail
		}
		c.Reason, c.Fix = strings.Join(problems, "; "), "use a dedicated aes256-gcm96 KEK that is not exportable; set deletion_allowed=false"
		return c
	}
	c.Status, c.Reason = core.StatusPass, fmt.Sprintf("aes256-gcm96, not exportable, latest version %v", s.Data["latest_version"])
	return c
}

// kvProblem returns why the KV mount cannot hold the record ("" when it can
// or cannot be told) and the fix. A KV v1 mount accepts the KV v2 client's
// writes to <mount>/data/<path> as a plain secret and ignores check-and-set,
// so it must be caught before anything is written.
func (b *Backend) kvProblem(ctx context.Context) (problem, fix string, err error) {
	m, p := b.cfg.KVMount, b.cfg.KVPath
	typ, version, known, err := b.mountInfo(ctx, m+"/data/"+p)
	if err != nil {
		return "", "", b.explain("reading the mount at "+m+"/", err)
	}
	if !known {
		if _, err := b.read(ctx, m+"/metadata/"+p); isNoHandler(err) {
			return "nothing is mounted at " + m + "/", b.enableFix("kv-v2", m), nil
		}
		return "", "", nil
	}
	if typ != "kv" {
		return fmt.Sprintf("%s/ is a %s mount, not KV v2", m, typ),
			"set [key.vault] kv-mount to a KV v2 mount, or " + b.enableFix("kv-v2", "tikv-kv") + " and set kv-mount = \"tikv-kv\"", nil
	}
	if version == "2" {
		return "", "", nil
	}
	problem = fmt.Sprintf("%s/ is a KV version 1 mount: the master-key record needs KV v2 (versions and check-and-set)", m)
	fix = fmt.Sprintf("upgrade it in place: vault kv enable-versioning%s %s/ (OpenBao: bao kv enable-versioning%s %s/), or %s and set kv-mount = \"tikv-kv\"",
		b.cliFlags(), m, b.cliFlags(), m, b.enableFix("kv-v2", "tikv-kv"))
	// An earlier version of tikv-ear wrote its record there as a plain KV v1 secret.
	if s, err := b.read(ctx, m+"/data/"+p); err == nil && s != nil {
		problem += "; it holds a stray record at " + m + "/data/" + p + " from an earlier attempt"
		fix = fmt.Sprintf("delete the stray record first (vault delete%s %s/data/%s), then %s", b.cliFlags(), m, p, fix)
	}
	return problem, fix, nil
}

func (b *Backend) kvCheck(ctx context.Context) core.Check {
	c := core.Check{Name: "vault kv " + b.cfg.KVMount + "/", Status: core.StatusFail}
	problem, fix, err := b.kvProblem(ctx)
	switch {
	case err != nil:
		var e *Error
		errors.As(err, &e)
		c.Reason, c.Fix = e.Msg, e.Fix
	case problem != "":
		c.Reason, c.Fix = problem, fix
	default:
		c.Status, c.Reason = core.StatusPass, b.cfg.KVMount+"/ is KV v2"
	}
	return c
}

// requireKVv2 refuses to write the record into anything but KV v2.
func (b *Backend) requireKVv2(ctx context.Context) error {
	problem, fix, err := b.kvProblem(ctx)
	if err != nil {
		return err
	}
	if problem != "" {
		return &Error{Msg: "writing " + b.kvLocation() + ": " + problem + "; nothing was written", Fix: fix}
	}
	return nil
}

// HostPreflight implements core.Backend: the key directory must be tmpfs.
func (b *Backend) HostPreflight(ctx context.Context, h core.Host) []core.Check {
	return core.HostKeyChecks(ctx, h, b.cfg.HostKeyDir)
}
