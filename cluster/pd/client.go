package pd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultRetries    = 3
	DefaultRetryDelay = 500 * time.Millisecond
	// maxBody bounds how much of a response is read (region checks on a big cluster are large).
	maxBody = 64 << 20
)

// Options configures a Client.
type Options struct {
	// Endpoints are PD client URLs or host:port pairs; any member will do.
	// A bare host:port gets https:// when TLS is set and http:// otherwise.
	Endpoints []string
	// TLS holds the PEM files for mTLS. Leave empty for plain HTTP.
	TLS TLSFiles
	// Timeout bounds one HTTP request (default DefaultTimeout).
	Timeout time.Duration
	// Retries is how many more rounds over all endpoints are tried after the
	// first when every endpoint was unreachable or answered 503 (default
	// DefaultRetries; negative means none).
	Retries int
	// RetryDelay is the pause before the first retry round; it doubles each
	// round (default DefaultRetryDelay).
	RetryDelay time.Duration
	// HTTP replaces the HTTP client (its transport then owns TLS; TLS must be empty).
	HTTP *http.Client
}

// Client talks to PD's HTTP API. It is safe for concurrent use.
type Client struct {
	endpoints  []string
	http       *http.Client
	tls        TLSFiles
	timeout    time.Duration
	retries    int
	retryDelay time.Duration

	mu        sync.Mutex
	preferred int // index of the endpoint that answered last
}

// New validates opts, loads the TLS files and returns a Client. It does not contact PD.
func New(opts Options) (*Client, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("pd: no endpoints: pass --pd host:2379 (any PD member)")
	}
	c := &Client{
		tls:        opts.TLS,
		timeout:    opts.Timeout,
		retries:    opts.Retries,
		retryDelay: opts.RetryDelay,
		http:       opts.HTTP,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.retries == 0 {
		c.retries = DefaultRetries
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.retryDelay <= 0 {
		c.retryDelay = DefaultRetryDelay
	}
	useTLS := !opts.TLS.Empty()
	if c.http != nil && useTLS {
		return nil, errors.New("pd: options set both HTTP and TLS files: configure TLS on the HTTP client's transport or drop HTTP")
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if useTLS {
			cfg, err := LoadTLS(opts.TLS)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
		}
		c.http = &http.Client{Transport: tr}
	}
	for _, e := range opts.Endpoints {
		u, err := normalizeEndpoint(e, useTLS)
		if err != nil {
			return nil, err
		}
		c.endpoints = append(c.endpoints, u)
	}
	return c, nil
}

// Endpoints returns the normalized endpoint URLs in order.
func (c *Client) Endpoints() []string { return append([]string(nil), c.endpoints...) }

// normalizeEndpoint turns "host:port" or a URL into "scheme://host:port" without a trailing slash.
// TiUP switches to https whenever TLS is enabled (pkg/cluster/api/pdapi.go GetURL).
func normalizeEndpoint(e string, useTLS bool) (string, error) {
	e = strings.TrimSpace(e)
	e = strings.TrimRight(e, "/")
	if e == "" {
		return "", errors.New("pd: empty endpoint in --pd")
	}
	if !strings.Contains(e, "://") {
		if useTLS {
			return "https://" + e, nil
		}
		return "http://" + e, nil
	}
	if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
		return "", fmt.Errorf("pd: endpoint %q: want http://, https:// or host:port", e)
	}
	return e, nil
}

// request is one logical API call.
type request struct {
	method string
	path   string // starts with /pd/
	body   any    // JSON-encoded when non-nil
	// limit bounds the answer's bytes (default maxBody); a larger answer is a *TooLargeError.
	limit int64
}

// response is a raw PD answer.
type response struct {
	endpoint string
	status   int
	body     []byte
}

// do runs req against the endpoints: connection errors move to the next
// endpoint, 503 (PD's no-leader redirect) and a member that is not serving
// yet (notStarted) move on too, and when a whole round failed that way it
// sleeps (doubling RetryDelay) and tries again. Any other status is returned
// as is.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("pd: encoding %s %s body: %w", req.method, req.path, err)
		}
	}
	delay := c.retryDelay
	var failures []EndpointError
	var last503 *StatusError
	for round := 0; round <= c.retries; round++ {
		if round > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("pd: %s %s: %w", req.method, req.path, ctx.Err())
			case <-t.C:
			}
			delay *= 2
		}
		start := c.preferredIndex()
		for i := range c.endpoints {
			idx := (start + i) % len(c.endpoints)
			ep := c.endpoints[idx]
			resp, err := c.once(ctx, ep, req, payload)
			var tooLarge *TooLargeError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("pd: %s %s%s: %w", req.method, ep, req.path, ctx.Err())
				}
				failures = append(failures, EndpointError{Endpoint: ep, Err: err})
				continue
			}
			if resp.status == http.StatusServiceUnavailable || notStarted(resp) {
				last503 = newStatusError(req, resp)
				failures = append(failures, EndpointError{Endpoint: ep, Err: last503})
				continue
			}
			c.setPreferred(idx)
			return resp, nil
		}
	}
	if last503 != nil {
		return nil, fmt.Errorf("pd: no leader after %d attempts: %w", c.retries+1, last503)
	}
	return nil, &UnreachableError{Method: req.method, Path: req.path, Attempts: failures}
}

// errServerNotStarted is the code PD's API redirector answers with, status
// 500, while the member is closed (just started, stopping): tikv/pd
// pkg/utils/apiutil/serverapi/middleware.go ServeHTTP, pkg/errs/errno.go
// ErrServerNotStarted "[PD:server:ErrServerNotStarted]server not started"
// (a186e0cc). Another member may answer: seen when a killed PD leader was
// started again and tikv-ear asked it first.
const errServerNotStarted = "PD:server:ErrServerNotStarted"

// notStarted reports whether resp is a member saying it is not serving yet.
func notStarted(resp *response) bool {
	return resp.status == http.StatusInternalServerError && bytes.Contains(resp.body, []byte(errServerNotStarted))
}

func (c *Client) once(ctx context.Context, ep string, req request, payload []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, ep+req.path, body)
	if err != nil {
		return nil, err
	}
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := req.limit
	if limit <= 0 {
		limit = maxBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Endpoint: ep, Path: req.path, Limit: limit, What: "bytes"}
	}
	return &response{endpoint: ep, status: resp.StatusCode, body: data}, nil
}

func (c *Client) preferredIndex() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.preferred
}

func (c *Client) setPreferred(i int) {
	c.mu.Lock()
	c.preferred = i
	c.mu.Unlock()
}

// getJSON GETs path and decodes a 2xx JSON answer into out; other statuses are *StatusError.
func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	return c.getJSONLimit(ctx, path, 0, out)
}

// getJSONLimit is getJSON with a bound on the answer's bytes (0: maxBody).
func (c *Client) getJSONLimit(ctx context.Context, path string, limit int64, out any) error {
	req := request{method: http.MethodGet, path: path, limit: limit}
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if resp.status < 200 || resp.status > 299 {
		return newStatusError(req, resp)
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("pd: decoding %s%s: %w", resp.endpoint, path, err)
	}
	return nil
}

// send issues a write and returns PD's message; non-2xx is *StatusError.
func (c *Client) send(ctx context.Context, method, path string, body any) (string, error) {
	req := request{method: method, path: path, body: body}
	resp, err := c.do(ctx, req)
	if err != nil {
		return "", err
	}
	if resp.status < 200 || resp.status > 299 {
		return "", newStatusError(req, resp)
	}
	return bodyMessage(resp.body), nil
}
