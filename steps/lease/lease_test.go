package lease

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
)

// localExec runs commands with the local /bin/sh, as the remote login shell
// would (the SSH client's own tests cover the transport).
var localExec = ssh.ExecutorFunc(func(ctx context.Context, host, cmd string, stdin io.Reader) (ssh.Result, error) {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Stdin = stdin
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ssh.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: ee.ExitCode()}, nil
	}
	return ssh.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}, err
})

// fakePD answers the lease's two reads.
type fakePD struct {
	mu      sync.Mutex
	evicted []uint64
	limit   int
	reads   int
}

func (p *fakePD) EvictLeaderStores(context.Context) ([]uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint64(nil), p.evicted...), nil
}

func (p *fakePD) LeaderScheduleLimit(context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	return p.limit, nil
}

// sites makes n store config dirs under a temp dir.
func sites(t *testing.T, n int) []Site {
	t.Helper()
	root := t.TempDir()
	var out []Site
	for i := 1; i <= n; i++ {
		dir := filepath.Join(root, "tikv-"+string(rune('0'+i)), "conf")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, Site{Label: "store " + string(rune('0'+i)), Target: "host" + string(rune('0'+i)), Dir: dir})
	}
	return out
}

func opts(s []Site, pd PD, run string, alive bool) Options {
	return Options{Exec: localExec, Sites: s, PD: pd, TTL: time.Hour,
		Holder:       Holder{Run: run, Command: "apply", Machine: "ops-1", Plan: "plan.toml"},
		ProcessAlive: func(int) bool { return alive }}
}

func markers(s []Site) int {
	n := 0
	for _, x := range s {
		if _, err := os.Stat(x.marker()); err == nil {
			n++
		}
	}
	return n
}

// TestSecondRunRefusedNamingHolder: while one run holds the lease, another is
// refused with an error naming the holder's run id, machine, pid and start,
// and leaves the first run's markers as they were.
func TestSecondRunRefusedNamingHolder(t *testing.T) {
	ctx := context.Background()
	s := sites(t, 3)
	pd := &fakePD{limit: 4}
	first, err := Acquire(ctx, opts(s, pd, "apply-1", true))
	if err != nil {
		t.Fatal(err)
	}
	o := opts(s, pd, "apply-2", true)
	o.Holder.PID = 999
	_, err = Acquire(ctx, o)
	var held *HeldError
	if !errors.As(err, &held) || held.Dead {
		t.Fatalf("want a live HeldError, got %v", err)
	}
	for _, want := range []string{"apply-1", "ops-1", "pid", "started " + first.Holder().Started.UTC().Format(time.RFC3339), "nothing changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if markers(s) != 3 {
		t.Fatalf("%d markers after the refused run, want the first run's 3", markers(s))
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if markers(s) != 0 {
		t.Fatalf("%d markers left after release", markers(s))
	}
}

// TestExactlyOneOfConcurrentRuns: runs racing for the same stores (sites
// listed in different orders, as copies of a plan may) never both get the
// lease, and one always does.
func TestExactlyOneOfConcurrentRuns(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		s := sites(t, 4)
		pd := &fakePD{limit: 4}
		var won atomic.Int32
		var wg sync.WaitGroup
		leases := make([]*Lease, 3)
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := append([]Site(nil), s...)
				if i%2 == 1 {
					for a, b := 0, len(mine)-1; a < b; a, b = a+1, b-1 {
						mine[a], mine[b] = mine[b], mine[a]
					}
				}
				l, err := Acquire(ctx, opts(mine, pd, "apply-"+string(rune('a'+i)), true))
				if err == nil {
					won.Add(1)
					leases[i] = l
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d runs got the lease, want exactly 1", round, won.Load())
		}
		for _, l := range leases {
			if l != nil {
				l.Release(ctx)
			}
		}
	}
}

// TestDeadHolderTakenOverOnlyWhenAllowed: a holder whose process died is
// reported dead; its lease is taken over by its own run's resume or by
// --break-lock, and the original leader-schedule-limit it recorded is kept
// (PD now shows the raised value).
func TestDeadHolderTakenOverOnlyWhenAllowed(t *testing.T) {
	ctx := context.Background()
	s := sites(t, 2)
	pd := &fakePD{limit: 4}
	crashed, err := Acquire(ctx, opts(s, pd, "apply-1", true))
	if err != nil {
		t.Fatal(err)
	}
	if crashed.LimitOriginal() != 4 {
		t.Fatalf("limit original %d, want 4", crashed.LimitOriginal())
	}
	pd.limit = 36 // the crashed run raised it and never put it back

	_, err = Acquire(ctx, opts(s, pd, "apply-2", false))
	var held *HeldError
	if !errors.As(err, &held) || !held.Dead || !strings.Contains(held.Hint(), "--break-lock") {
		t.Fatalf("want a dead HeldError hinting --break-lock, got %v", err)
	}
	o := opts(s, pd, "apply-3", false)
	o.TakeOver = "apply-other"
	if _, err := Acquire(ctx, o); !errors.As(err, &held) {
		t.Fatalf("a resume of another run took the lease over: %v", err)
	}
	o.TakeOver = "apply-1"
	resumed, err := Acquire(ctx, o)
	if err != nil {
		t.Fatalf("resume of the dead holder's run: %v", err)
	}
	if got := resumed.LimitOriginal(); got != 4 {
		t.Fatalf("the resumed run keeps leader-schedule-limit %d as the original, want 4 (PD shows 36)", got)
	}
	// The dead holder's lease is gone: its renewal reports the loss.
	var lost *LostError
	if err := crashed.Renew(ctx); !errors.As(err, &lost) {
		t.Fatalf("renewal of a taken-over lease: %v", err)
	}
	if err := crashed.Release(ctx); err != nil || markers(s) != 2 {
		t.Fatalf("the old holder's release removed the new holder's markers (%d left, %v)", markers(s), err)
	}
	resumed.Release(ctx)

	// --break-lock takes over any dead holder.
	dead, err := Acquire(ctx, opts(s, pd, "apply-4", true))
	if err != nil {
		t.Fatal(err)
	}
	_ = dead
	o = opts(s, pd, "apply-5", false)
	o.Break = true
	broke, err := Acquire(ctx, o)
	if err != nil {
		t.Fatalf("--break-lock on a dead holder: %v", err)
	}
	broke.Release(ctx)

	// A live holder is never broken.
	live, err := Acquire(ctx, opts(s, pd, "apply-6", true))
	if err != nil {
		t.Fatal(err)
	}
	o = opts(s, pd, "apply-7", true)
	o.Break = true
	if _, err := Acquire(ctx, o); !errors.As(err, &held) || held.Dead {
		t.Fatalf("--break-lock broke a live holder: %v", err)
	}
	live.Release(ctx)
}

// TestHolderOnAnotherMachineByRenewalAge: a holder elsewhere lives while it
// renews within the TTL, measured by the host's own clock.
func TestHolderOnAnotherMachineByRenewalAge(t *testing.T) {
	ctx := context.Background()
	s := sites(t, 1)
	pd := &fakePD{limit: 4}
	o := opts(s, pd, "apply-1", true)
	o.Holder.Machine = "ops-2"
	if _, err := Acquire(ctx, o); err != nil {
		t.Fatal(err)
	}
	o2 := opts(s, pd, "apply-2", true)
	o2.TTL = time.Minute
	_, err := Acquire(ctx, o2)
	var held *HeldError
	if !errors.As(err, &held) || held.Dead || !strings.Contains(err.Error(), "renewed") {
		t.Fatalf("a freshly renewed holder elsewhere: %v", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(filepath.Join(s[0].marker(), holderFile), old, old); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(ctx, o2)
	if !errors.As(err, &held) || !held.Dead {
		t.Fatalf("a holder elsewhere silent for 2m with a 1m TTL: %v", err)
	}
	found, err := Inspect(ctx, o2)
	if err != nil || len(found) != 1 || found[0].Alive || found[0].Holder.Run != "apply-1" {
		t.Fatalf("inspect: %+v, %v", found, err)
	}
}

// TestForeignEvictSchedulersRefuse: PD evicting from a store this run did not
// evict means another run is at work: refused, markers released; the stores a
// resumed run's journal names are accounted for.
func TestForeignEvictSchedulersRefuse(t *testing.T) {
	ctx := context.Background()
	s := sites(t, 2)
	pd := &fakePD{limit: 4, evicted: []uint64{5, 2}}
	_, err := Acquire(ctx, opts(s, pd, "apply-1", true))
	var fe *ForeignSchedulersError
	if !errors.As(err, &fe) || len(fe.Stores) != 2 || fe.Stores[0] != 2 {
		t.Fatalf("want a ForeignSchedulersError on [2 5], got %v", err)
	}
	if markers(s) != 0 {
		t.Fatalf("%d markers left after the refusal", markers(s))
	}
	o := opts(s, pd, "apply-1", true)
	o.Expected = []uint64{2, 5}
	l, err := Acquire(ctx, o)
	if err != nil {
		t.Fatalf("schedulers the journal accounts for: %v", err)
	}
	l.Release(ctx)
}

// TestKeepRenewsAndReportsLoss: Keep touches the markers; once someone breaks
// the lease, lost is called.
func TestKeepRenewsAndReportsLoss(t *testing.T) {
	ctx := context.Background()
	s := sites(t, 1)
	o := opts(s, &fakePD{limit: 4}, "apply-1", true)
	o.TTL = 150 * time.Millisecond
	l, err := Acquire(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	stop := l.Keep(ctx, func(err error) { lost <- err })
	defer stop()
	if err := os.RemoveAll(s[0].marker()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		var le *LostError
		if !errors.As(err, &le) {
			t.Fatalf("lost with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the loss of the lease was never reported")
	}
}
