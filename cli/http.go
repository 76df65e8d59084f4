package cli

import (
	"net/http"
	"time"
)

// httpClient is the client for TiKV status ports.
func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout}
}
