package cli

import (
	"net/http"
	"time"

	"github.com/tikv-ear/tikv-ear/steps"
)

// httpClient is the client for TiKV status ports (steps.HTTPClient).
func httpClient(timeout time.Duration) *http.Client { return steps.HTTPClient(timeout) }
