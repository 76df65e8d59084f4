package pd

import (
	"fmt"
)

// Bounds on what tikv-ear accepts from PD, so a hostile or broken PD cannot
// make a command run for minutes or take gigabytes (issue 18: a PD listing
// 200,000 stores made 'status' run for 11 minutes at 467 MB).
const (
	// MaxStores is the largest store listing accepted. TiKV clusters in
	// production run at most a few thousand stores; a listing beyond this is
	// refused rather than walked store by store over SSH and HTTP.
	MaxStores = 10000
	// maxStoresBody bounds the bytes of one store listing: PD's StoreInfo JSON
	// (tikv/pd server/api/store.go StoreInfo) is about 1 KiB per store with its
	// status, so MaxStores stores fit well inside it.
	maxStoresBody = 16 << 20
)

// TooLargeError is a PD answer refused for its size or count. It is never
// retried against another endpoint: every member serves the same data.
type TooLargeError struct {
	Endpoint string
	Path     string
	// Limit is the bound exceeded, in bytes (What "bytes") or items.
	Limit int64
	What  string // "bytes" or "stores"
	Count int    // the count PD reported, for item limits
}

func (e *TooLargeError) Error() string {
	if e.What == "bytes" {
		return fmt.Sprintf("pd: the answer of %s%s is larger than %d MiB; refusing it (a PD this large, or a hostile one, is not something tikv-ear will walk)", e.Endpoint, e.Path, e.Limit>>20)
	}
	return fmt.Sprintf("pd: %s%s lists %d %s, more than the %d tikv-ear accepts; refusing it", e.Endpoint, e.Path, e.Count, e.What, e.Limit)
}

// Hint says what to check.
func (e *TooLargeError) Hint() string {
	return "check that --pd points at the PD of the cluster you mean (pd-ctl store | jq .count); tikv-ear handles clusters of up to " + fmt.Sprint(MaxStores) + " stores"
}
