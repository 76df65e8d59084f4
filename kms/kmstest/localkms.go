package kmstest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms/localkms"
)

// LocalKMS is a running nsmithuk/local-kms started by Start.
type LocalKMS = localkms.Server

// Options tune Start. Zero values pick defaults.
type Options struct {
	Region string // default us-west-2
	Keys   int    // number of seeded keys, default 2 (alias/tikv-master, alias/tikv-next, alias/tikv-key-3 …)
}

// StartLocalKMS starts local-kms for t with two seeded keys and returns its
// endpoint, the primary key id and its alias (alias/tikv-master). The second
// key (alias/tikv-next) is for rotation tests; use Start for details.
func StartLocalKMS(t testing.TB) (endpoint, keyID, alias string) {
	t.Helper()
	l := Start(t, Options{})
	return l.Endpoint, l.KeyIDs[0], l.Aliases[0]
}

// Start runs local-kms (package localkms) for the test and stops it when the
// test ends. It fails the test, never skips, when the binary is missing.
func Start(t testing.TB, o Options) *LocalKMS {
	t.Helper()
	bin, err := localkms.Binary()
	if err != nil {
		t.Fatal(err)
	}
	if o.Keys == 0 {
		o.Keys = 2
	}
	out := &syncBuffer{}
	s, err := localkms.Start(context.Background(), bin, localkms.Options{Dir: t.TempDir(), Region: o.Region, Keys: o.Keys, Output: out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("local-kms output:\n%s", out.String())
		}
	})
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
