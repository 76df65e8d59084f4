package vault

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Error is a failed Vault request in plain words: what was being done, what
// the server said (one line, no API dump) and how to fix it. The cli prints
// Hint as "tikv-ear: hint:". It never holds a token or key bytes: the server's
// error texts do not echo request bodies.
type Error struct {
	// Msg is the one-line message.
	Msg string
	// Fix says what to do about it.
	Fix string
	// Status is the HTTP status, 0 when the server was not reached.
	Status int
	err    error
}

func (e *Error) Error() string { return e.Msg }

// Hint implements the cli's Hinted interface.
func (e *Error) Hint() string { return e.Fix }

// Unwrap returns the api error (an *api.ResponseError or a transport error).
func (e *Error) Unwrap() error { return e.err }

// Server error texts, from OpenBao v2.6.2 (openbao/openbao tag v2.6.2) and
// measured against its dev server; HashiCorp Vault answers the same:
//   - 503 "Vault is sealed": sdk/helper/consts/error.go ErrSealed;
//   - 403 "permission denied" for a missing, unknown, expired or revoked token,
//     403 "1 error occurred:\n\t* permission denied\n\n" for an ACL refusal;
//   - 404 "no handler for route \"<path>\". route entry not found." when nothing
//     is mounted at the path: vault/routing/router.go;
//   - 404 "namespace not found" for an unknown X-Vault-Namespace;
//   - 400 "operation unavailable in namespaces" for sys/health and other
//     root-only sys/ APIs with a namespace header: http/handler.go.
const (
	textSealed       = "Vault is sealed"
	textDenied       = "permission denied"
	textNoHandler    = "no handler for route"
	textNoNamespace  = "namespace not found"
	textCASConflict  = "check-and-set parameter did not match"
	textInvalidLogin = "invalid role or secret ID"
)

// Fixes shared by preflight checks and errors.
const (
	fixUnseal      = "unseal Vault (vault operator unseal, or bao operator unseal) and retry"
	fixLogin       = "log in again (vault login) or set VAULT_TOKEN (BAO_TOKEN) / [key.vault] token-file to a valid token"
	fixAddress     = "check VAULT_ADDR (BAO_ADDR) / [key.vault] address and TLS (VAULT_CACERT)"
	fixPolicy      = "attach the operator policy from docs/backend-vault.md to this token or AppRole ('tikv-ear plan' preflight lists every missing capability)"
	fixApproleAuth = "check role-id and secret-id-file; generate a new secret id if it expired"
)

// responseText joins the server's error texts on one line.
func responseText(re *api.ResponseError) string {
	var parts []string
	for _, e := range re.Errors {
		// Vault wraps ACL refusals as a multierror: "1 error occurred:\n\t* permission denied\n\n".
		e = strings.TrimSpace(e)
		if rest, ok := strings.CutPrefix(e, "1 error occurred:"); ok {
			e = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "*"))
		}
		parts = append(parts, strings.Join(strings.Fields(e), " "))
	}
	if len(parts) == 0 {
		return http.StatusText(re.StatusCode)
	}
	return strings.Join(parts, "; ")
}

// tokenRejected reports a 403 whose only text is "permission denied": the
// token itself is not valid (an ACL refusal comes wrapped as a multierror).
func tokenRejected(re *api.ResponseError) bool {
	return re.StatusCode == http.StatusForbidden && len(re.Errors) == 1 && strings.TrimSpace(re.Errors[0]) == textDenied
}

func hasText(re *api.ResponseError, text string) bool {
	for _, e := range re.Errors {
		if strings.Contains(e, text) {
			return true
		}
	}
	return false
}

// explain turns an api error into an *Error: op is what was being done
// ("vault transit decrypt/tikv-c1-kek"). Errors that are already explained
// pass through.
func (b *Backend) explain(op string, err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	addr := b.client.Address()
	var re *api.ResponseError
	if errors.As(err, &re) {
		path := re.URL
		if u, perr := url.Parse(re.URL); perr == nil {
			path = u.Path
		}
		where := re.HTTPMethod + " " + path
		e := &Error{Status: re.StatusCode, err: err}
		switch {
		case re.StatusCode == http.StatusServiceUnavailable && hasText(re, textSealed):
			e.Msg, e.Fix = op+": vault at "+addr+" is sealed", fixUnseal
		case tokenRejected(re):
			e.Msg, e.Fix = op+": token rejected (permission denied): it is missing, expired or revoked", fixLogin
		case re.StatusCode == http.StatusForbidden:
			e.Msg, e.Fix = op+": permission denied on "+where, fixPolicy
		case re.StatusCode == http.StatusNotFound && hasText(re, textNoNamespace):
			e.Msg = op + ": namespace " + b.client.Namespace() + " not found"
			e.Fix = "create it (vault namespace create, or bao namespace create) or fix [key.vault] namespace / VAULT_NAMESPACE (BAO_NAMESPACE)"
		case re.StatusCode == http.StatusNotFound && hasText(re, textNoHandler):
			e.Msg = op + ": nothing is mounted at " + where
			e.Fix = "enable the secrets engine there (see 'What preflight checks' in docs/backend-vault.md), or fix the mount in [key.vault]"
		case re.StatusCode == http.StatusBadRequest && hasText(re, textInvalidLogin):
			e.Msg, e.Fix = op+": "+textInvalidLogin, fixApproleAuth
		default:
			e.Msg = op + ": " + where + ": " + http.StatusText(re.StatusCode) + ": " + responseText(re)
		}
		return e
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &Error{Msg: op + ": cannot reach vault at " + addr + ": " + ue.Err.Error(), Fix: fixAddress, err: err}
	}
	return &Error{Msg: op + ": " + err.Error(), err: err}
}

// isCASConflict reports KV v2's answer to a stale check-and-set: 400
// "check-and-set parameter did not match the current version" (OpenBao v2.6.2
// builtin/logical/kv/path_data.go; hashicorp/vault-plugin-secrets-kv path_data.go).
func isCASConflict(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusBadRequest && hasText(re, textCASConflict)
}
