package pd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hugeStores serves a store listing of n stores, each in PD's StoreInfo shape,
// written as it goes; written counts the bytes the client accepted.
func hugeStores(n int, written *atomic.Int64, requests *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		put := func(s string) bool {
			k, err := w.Write([]byte(s))
			written.Add(int64(k))
			return err == nil
		}
		if !put(fmt.Sprintf(`{"count":%d,"stores":[`, n)) {
			return
		}
		// Stores are written 1,000 at a time (ids repeat across chunks: the
		// client refuses on size before it could look).
		var chunk strings.Builder
		for i := 1; i <= 1000; i++ {
			fmt.Fprintf(&chunk, `{"store":{"id":%d,"address":"10.0.%d.%d:20160","status_address":"10.0.%d.%d:20180","labels":[{"key":"zone","value":"z%d"}],"version":"8.5.2","state_name":"Up"},"status":{"capacity":"460.4GiB","available":"401.2GiB","leader_count":12,"region_count":36}},`,
				i, i/250, i%250, i/250, i%250, i%3)
		}
		for range n / 1000 {
			if !put(chunk.String()) {
				return
			}
		}
		put(`{"store":{"id":1}}`)
		put(`]}`)
	}
}

// boundsClient is a client whose request timeout leaves room for the race
// detector to read the bounds' worth of bytes.
func boundsClient(t *testing.T, endpoints ...string) *Client {
	t.Helper()
	c, err := New(Options{Endpoints: endpoints, Timeout: time.Minute, Retries: 2, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStoresRefusesHugeListing: a PD listing 200,000 stores is refused with a
// clear error after reading at most the store listing's byte bound, and the
// refusal is not retried against the other endpoints.
func TestStoresRefusesHugeListing(t *testing.T) {
	var written, requests atomic.Int64
	srv := httptest.NewServer(hugeStores(200000, &written, &requests))
	t.Cleanup(srv.Close)
	c := boundsClient(t, srv.URL, srv.URL)
	_, err := c.Stores(context.Background(), false)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.What != "bytes" {
		t.Fatalf("want a TooLargeError on bytes, got %v", err)
	}
	if !strings.Contains(err.Error(), "/pd/api/v1/stores") || !strings.Contains(err.Error(), "refusing") || tl.Hint() == "" {
		t.Errorf("error does not say what was refused: %v (hint %q)", err, tl.Hint())
	}
	srv.CloseClientConnections()
	// The client stopped reading at the bound: what the server got out is the
	// bound plus what the kernel's socket buffers took (loopback buffers grow
	// to several MiB under load), far from the ~60 MB listing.
	if got := written.Load(); got > 40<<20 {
		t.Errorf("the server wrote %d bytes before the client gave up; the bound is %d", got, maxStoresBody)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("a too-large answer was requested %d times; it must not be retried", n)
	}
}

// TestStoresRefusesTooManyStores: a compact listing within the byte bound but
// beyond MaxStores is refused by count.
func TestStoresRefusesTooManyStores(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, `{"count":%d,"stores":[`, MaxStores+1)
		for i := 1; i <= MaxStores+1; i++ {
			if i > 1 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"store":{"id":%d}}`, i)
		}
		b.WriteString("]}")
		writeRaw(w, http.StatusOK, []byte(b.String()))
	}))
	t.Cleanup(srv.Close)
	_, err := boundsClient(t, srv.URL).Stores(context.Background(), false)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.What != "stores" || tl.Count != MaxStores+1 {
		t.Fatalf("want a TooLargeError on the store count, got %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(MaxStores+1)) {
		t.Errorf("error does not name the count: %v", err)
	}
}

// TestOversizedAnswerRefused: any answer beyond the general bound is an error
// naming the path, never a silently truncated body.
func TestOversizedAnswerRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusOK, []byte(`"`+strings.Repeat("x", maxBody)+`"`))
	}))
	t.Cleanup(srv.Close)
	_, err := boundsClient(t, srv.URL).Version(context.Background())
	var tl *TooLargeError
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "/pd/api/v1/version") {
		t.Fatalf("want a TooLargeError naming the path, got %v", err)
	}
}
