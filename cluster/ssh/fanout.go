package ssh

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// HostError is one host's failure inside ForEach's joined error.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string { return fmt.Sprintf("%s: %v", e.Host, e.Err) }

// Unwrap returns the host's error.
func (e *HostError) Unwrap() error { return e.Err }

// ForEach calls fn for every host with at most concurrency calls running at
// once (values below 1 mean 1). It waits for all of them and returns the
// failures joined, each a *HostError, in the order of hosts; nil when all
// succeeded. Hosts not yet started when ctx is done fail with ctx's error.
func ForEach(ctx context.Context, hosts []string, concurrency int, fn func(ctx context.Context, host string) error) error {
	if concurrency < 1 {
		concurrency = 1
	}
	errs := make([]error, len(hosts))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, h := range hosts {
		if err := ctx.Err(); err != nil {
			errs[i] = &HostError{Host: h, Err: err}
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = &HostError{Host: h, Err: ctx.Err()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, h); err != nil {
				errs[i] = &HostError{Host: h, Err: err}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
