package pd

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrUnreachable matches (errors.Is) an *UnreachableError.
var ErrUnreachable = errors.New("pd unreachable")

// StatusError is a non-2xx answer from PD. Message is PD's body: PD renders
// errors as a JSON string (for example
// "[PD:scheduler:ErrSchedulerNotFound]scheduler not found"), which is unquoted here.
type StatusError struct {
	Endpoint   string
	Method     string
	Path       string
	StatusCode int
	Message    string
}

func newStatusError(req request, resp *response) *StatusError {
	return &StatusError{
		Endpoint:   resp.endpoint,
		Method:     req.method,
		Path:       req.path,
		StatusCode: resp.status,
		Message:    bodyMessage(resp.body),
	}
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(empty body)"
	}
	return fmt.Sprintf("pd %s %s%s: %d %s: %s", e.Method, e.Endpoint, e.Path, e.StatusCode,
		strings.ToLower(http.StatusText(e.StatusCode)), msg)
}

// Hint suggests what to do about a PD error status.
func (e *StatusError) Hint() string {
	if e.StatusCode == http.StatusServiceUnavailable {
		// 503: no PD leader (serverapi redirector) or etcd unavailable (server/api/health.go).
		return "PD has no leader or its etcd is unavailable: check PD's members and health (pd-ctl member; GET /pd/api/v1/health) and try again once a leader is elected"
	}
	return ""
}

// IsNotFound reports whether err is a PD 404.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound
}

// bodyMessage turns a PD body into text: a JSON string is unquoted, anything else is trimmed.
func bodyMessage(body []byte) string {
	var s string
	if json.Unmarshal(body, &s) == nil {
		return s
	}
	const max = 512
	t := strings.TrimSpace(string(body))
	if len(t) > max {
		t = t[:max] + "…"
	}
	return t
}

// EndpointError is one failed attempt against one endpoint.
type EndpointError struct {
	Endpoint string
	Err      error
}

// UnreachableError says that no PD endpoint answered (connection refused,
// timeout, TLS failure…) in any round. Hint says what to check.
type UnreachableError struct {
	Method   string
	Path     string
	Attempts []EndpointError
}

// Error implements error.
func (e *UnreachableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pd unreachable: %s %s failed on every endpoint", e.Method, e.Path)
	seen := map[string]bool{}
	for _, a := range e.Attempts {
		line := a.Endpoint + ": " + a.Err.Error()
		if seen[line] {
			continue
		}
		seen[line] = true
		b.WriteString("; ")
		b.WriteString(line)
	}
	return b.String() // the fix is Hint(), printed by the CLI as "tikv-ear: hint: …"
}

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// Hint suggests the fix for the failures seen.
func (e *UnreachableError) Hint() string {
	for _, a := range e.Attempts {
		var unknown x509.UnknownAuthorityError
		var verify *tls.CertificateVerificationError
		var hostname x509.HostnameError
		var recordHeader tls.RecordHeaderError
		switch {
		case errors.As(a.Err, &unknown), errors.As(a.Err, &verify):
			if errors.As(a.Err, &hostname) {
				return "the PD certificate does not name the host in --pd; use the address the certificate was issued for"
			}
			return "PD's certificate is not signed by the CA file given (TiUP keeps it as tls/ca.crt); check the CA belongs to this cluster"
		case strings.Contains(a.Err.Error(), "remote error: tls:"):
			// crypto/tls reports an alert from the peer as "remote error: tls: <alert>".
			return "PD rejected the TLS handshake; PD requires a client certificate signed by its CA: check the client cert and key files (TiUP: tls/client.crt, tls/client.pem)"
		case errors.As(a.Err, &recordHeader):
			return "the endpoint does not speak TLS; use http:// or drop the TLS files"
		case strings.Contains(a.Err.Error(), "server gave HTTP response to HTTPS client"):
			return "the endpoint speaks plain HTTP; use http:// or drop the TLS files"
		case strings.Contains(a.Err.Error(), "malformed HTTP response"):
			return "the endpoint speaks TLS; pass the TLS files (TiUP's tls/ca.crt, client.crt, client.pem) or use https://"
		}
	}
	return "check --pd (a PD client URL such as 10.0.1.11:2379, any member), that PD is running and reachable from here, and the TLS files if the cluster uses TLS"
}

// Unwrap returns the last failure, so errors.As can find its cause.
func (e *UnreachableError) Unwrap() error {
	if len(e.Attempts) == 0 {
		return nil
	}
	return e.Attempts[len(e.Attempts)-1].Err
}
