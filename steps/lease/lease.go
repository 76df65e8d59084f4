// Package lease is the run lease: one run per cluster, whatever machine or
// plan copy it comes from. The cluster itself holds the lease: a marker
// directory created atomically (mkdir, which fails when the directory exists,
// like open(2) with O_EXCL) beside the config of every store the run touches,
// over the same SSH the run uses, holding who took it (run id, machine, pid,
// start time) and PD's leader-schedule-limit before any run raised it. On top
// of the markers, PD must list no evict-leader scheduler the run cannot
// account for: another run (of another plan, over other stores) is evicting.
//
// The lease is taken before preflight and released on every exit path; its
// holder renews it while the run lives, so a holder that died (kill -9, a
// lost machine) is told from a live one. It never touches TiKV's files or
// PD's schedulers itself; it only reads PD.
package lease

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
)

// MarkerName is the marker directory created beside each store's config.
const MarkerName = ".tikv-ear.lease"

// holderFile is the file in the marker that names the holder; its mtime is
// the last renewal, read on the host itself so clock skew does not matter.
const holderFile = "holder"

// DefaultTTL is how long a holder on another machine counts as alive after its
// last renewal; the holder renews every TTL/3.
const DefaultTTL = 90 * time.Second

// Holder is who holds the lease.
type Holder struct {
	Run     string    // run id, as in the journal and the report
	Command string    // apply, rotate, disable, change-method
	Machine string    // hostname of the machine running tikv-ear
	PID     int       // its process id there
	Started time.Time // when the lease was taken
	Plan    string    // the plan file, for the operator
	// LimitOriginal is PD's leader-schedule-limit before any run raised it,
	// read once when the lease was first taken and carried over when a dead
	// holder's lease is taken over; -1 when PD could not be read.
	LimitOriginal int
}

// String names the holder for messages: "run apply-1 (pid 42 on ops-1, started 2026-12-04T16:40:00Z)".
func (h Holder) String() string {
	if h.Run == "" {
		return "a run that had not yet written its name"
	}
	return fmt.Sprintf("run %s (%s, pid %d on %s, started %s, plan %s)", h.Run, h.Command, h.PID, h.Machine, h.Started.UTC().Format(time.RFC3339), h.Plan)
}

func (h Holder) encode() string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"run", h.Run}, {"command", h.Command}, {"machine", h.Machine}, {"pid", strconv.Itoa(h.PID)},
		{"started", h.Started.UTC().Format(time.RFC3339Nano)}, {"plan", h.Plan},
		{"limit-original", strconv.Itoa(h.LimitOriginal)},
	} {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], strings.ReplaceAll(kv[1], "\n", " "))
	}
	return b.String()
}

func decodeHolder(s string) Holder {
	h := Holder{LimitOriginal: -1}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "run":
			h.Run = v
		case "command":
			h.Command = v
		case "machine":
			h.Machine = v
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "started":
			h.Started, _ = time.Parse(time.RFC3339Nano, v)
		case "plan":
			h.Plan = v
		case "limit-original":
			if n, err := strconv.Atoi(v); err == nil {
				h.LimitOriginal = n
			}
		}
	}
	return h
}

// Site is one place a marker lives: a store's host and its config directory.
type Site struct {
	Label  string // e.g. "store 4 (10.0.1.4)"
	Target string // the SSH target ([user@]host[:port])
	Dir    string // absolute directory holding the marker (the store's config dir)
}

func (s Site) marker() string { return path.Join(s.Dir, MarkerName) }

// PD is what the lease reads of PD.
type PD interface {
	// EvictLeaderStores lists the stores an evict-leader scheduler covers.
	EvictLeaderStores(ctx context.Context) ([]uint64, error)
	// LeaderScheduleLimit reads schedule.leader-schedule-limit.
	LeaderScheduleLimit(ctx context.Context) (int, error)
}

// Options say where the lease lives and who takes it.
type Options struct {
	Exec   ssh.Executor
	Sites  []Site
	PD     PD
	Holder Holder // Machine, PID and Started default to this process
	TTL    time.Duration
	// Expected are stores whose evict-leader scheduler this run accounts for
	// (a resumed run: the ones its journal says it left).
	Expected []uint64
	// TakeOver is a run whose markers may be replaced once its holder is dead:
	// the run the journal says is unfinished ('--resume', '--abort').
	TakeOver string
	// Break replaces the markers of any dead holder ('--break-lock', confirmed).
	// A live holder is never broken.
	Break bool
	// ProcessAlive reports whether a pid runs on this machine (default kill(pid, 0)).
	ProcessAlive func(pid int) bool
}

func (o *Options) defaults() {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Holder.Machine == "" {
		o.Holder.Machine, _ = os.Hostname()
	}
	if o.Holder.PID == 0 {
		o.Holder.PID = os.Getpid()
	}
	if o.Holder.Started.IsZero() {
		o.Holder.Started = time.Now().UTC()
	}
	if o.ProcessAlive == nil {
		o.ProcessAlive = processAlive
	}
}

// processAlive reports whether pid runs here: kill(pid, 0) succeeds, or fails
// with EPERM (the process exists but belongs to another user).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Found is a marker found on a site.
type Found struct {
	Site   Site
	Holder Holder
	Age    time.Duration // since the holder's last renewal, by the host's clock
	Alive  bool
	// Why says how liveness was decided.
	Why string
}

// HeldError is a lease another run holds; nothing was changed.
type HeldError struct {
	Found Found
	// Dead is set when the holder is dead: '--break-lock' (or the holder's own
	// '--resume'/'--abort') may take the lease over.
	Dead bool
}

func (e *HeldError) Error() string {
	state := "alive"
	if e.Dead {
		state = "dead"
	}
	return fmt.Sprintf("the cluster is held by %s on %s (marker %s:%s; holder %s: %s); nothing changed",
		e.Found.Holder, e.Found.Site.Label, e.Found.Site.Target, e.Found.Site.marker(), state, e.Found.Why)
}

// Hint says what the operator can do.
func (e *HeldError) Hint() string {
	if e.Dead {
		return fmt.Sprintf("if run %s is really gone, take the lease over with '--break-lock' (asks for confirmation); its own journal's '--resume' or '--abort' takes it over too", e.Found.Holder.Run)
	}
	return fmt.Sprintf("wait for run %s to finish (pid %d on %s), or stop it there; a holder whose process died is detected at once on its machine and after %s elsewhere", e.Found.Holder.Run, e.Found.Holder.PID, e.Found.Holder.Machine, DefaultTTL)
}

// ForeignSchedulersError is PD evicting leaders from stores this run did not
// evict: another run is in progress, or a dead one left its schedulers.
type ForeignSchedulersError struct {
	Stores []uint64
}

func (e *ForeignSchedulersError) Error() string {
	return fmt.Sprintf("PD has evict-leader schedulers on store(s) %v that this run did not add: another run is evicting leaders, or a stopped one left them; nothing changed", e.Stores)
}

// Hint says how to clear them.
func (e *ForeignSchedulersError) Hint() string {
	return "finish or '--abort' the run that added them (its journal knows them); if that run is gone, '--break-lock' removes them after confirmation"
}

// Lease is a held lease.
type Lease struct {
	opts   Options
	held   []Site
	holder Holder
	// Foreign are evict-leader schedulers of a broken holder: with Break they
	// do not refuse the lease; the caller removes them once confirmed.
	Foreign []uint64
}

// Holder returns who holds the lease (this run), with the original
// leader-schedule-limit it keeps.
func (l *Lease) Holder() Holder { return l.holder }

// LimitOriginal is PD's leader-schedule-limit before any run raised it, or -1.
func (l *Lease) LimitOriginal() int { return l.holder.LimitOriginal }

// sorted returns the sites in one order for every run, so two runs over the
// same stores contend for the same first marker and exactly one gets it.
func sorted(sites []Site) []Site {
	out := slices.Clone(sites)
	slices.SortFunc(out, func(a, b Site) int {
		if c := strings.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return strings.Compare(a.Dir, b.Dir)
	})
	return slices.CompactFunc(out, func(a, b Site) bool { return a.Target == b.Target && a.Dir == b.Dir })
}

// Acquire takes the lease on every site, then checks PD's evict-leader
// schedulers and reads the original leader-schedule-limit under it. On any
// refusal the markers it took are removed again and nothing else changed.
func Acquire(ctx context.Context, o Options) (*Lease, error) {
	o.defaults()
	if o.Holder.Run == "" {
		return nil, errors.New("lease: the holder has no run id")
	}
	l := &Lease{opts: o, holder: o.Holder}
	l.holder.LimitOriginal = -1
	carried := -1
	fail := func(err error) (*Lease, error) {
		l.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	for _, s := range sorted(o.Sites) {
		f, taken, err := l.take(ctx, s)
		if err != nil {
			return fail(err)
		}
		if !taken {
			canTake := !f.Alive && (o.Break || (o.TakeOver != "" && f.Holder.Run == o.TakeOver))
			if !canTake {
				return fail(&HeldError{Found: f, Dead: !f.Alive})
			}
			if err := l.remove(ctx, s, f.Holder.Run); err != nil {
				return fail(err)
			}
			if f.Holder.LimitOriginal >= 0 && carried < 0 {
				carried = f.Holder.LimitOriginal
			}
			if f2, taken, err := l.take(ctx, s); err != nil {
				return fail(err)
			} else if !taken {
				return fail(&HeldError{Found: f2, Dead: !f2.Alive})
			}
		}
		l.held = append(l.held, s)
	}
	if o.PD != nil {
		ids, err := o.PD.EvictLeaderStores(ctx)
		if err != nil {
			return fail(fmt.Errorf("reading PD's evict-leader schedulers under the lease (another run may be evicting): %w", err))
		}
		var foreign []uint64
		for _, id := range ids {
			if !slices.Contains(o.Expected, id) {
				foreign = append(foreign, id)
			}
		}
		slices.Sort(foreign)
		if len(foreign) > 0 && !o.Break {
			return fail(&ForeignSchedulersError{Stores: foreign})
		}
		l.Foreign = foreign
		l.holder.LimitOriginal = carried
		if carried < 0 {
			if n, err := o.PD.LeaderScheduleLimit(ctx); err == nil {
				l.holder.LimitOriginal = n
			}
		}
	}
	for _, s := range l.held {
		if err := l.write(ctx, s); err != nil {
			return fail(err)
		}
	}
	return l, nil
}

// script runs a shell snippet on a site, with the marker path in $d.
func (l *Lease) script(ctx context.Context, s Site, body string, stdin string) (ssh.Result, error) {
	cmd := "d=" + ssh.Quote(s.marker()) + "; umask 077; " + body
	var in *strings.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	var res ssh.Result
	var err error
	if in != nil {
		res, err = l.opts.Exec.Run(ctx, s.Target, cmd, in)
	} else {
		res, err = l.opts.Exec.Run(ctx, s.Target, cmd, nil)
	}
	if err != nil {
		return res, fmt.Errorf("lease marker on %s (%s): %w", s.Label, s.Target, err)
	}
	return res, nil
}

// takeScript creates the marker (mkdir: atomic, fails when it exists) and
// writes the holder; when the marker exists it prints the holder and the
// host's clock and the holder file's mtime, so age is measured on one clock.
const takeScript = `if mkdir "$d" 2>/dev/null; then cat > "$d/holder.tmp" && mv -f "$d/holder.tmp" "$d/holder" && echo taken
elif [ -d "$d" ]; then echo held; echo "now=$(date +%s)"; echo "mtime=$(stat -c %Y "$d/holder" 2>/dev/null || stat -c %Y "$d")"; cat "$d/holder" 2>/dev/null; exit 0
else echo "cannot create $d" >&2; exit 1; fi`

// take tries to create the marker on s; when another run holds it, it returns
// what it found there.
func (l *Lease) take(ctx context.Context, s Site) (Found, bool, error) {
	res, err := l.script(ctx, s, takeScript, l.holder.encode())
	if err != nil {
		return Found{}, false, err
	}
	if res.ExitCode != 0 {
		return Found{}, false, fmt.Errorf("lease marker on %s: %s", s.Label, strings.TrimSpace(string(res.Stderr)))
	}
	out := string(res.Stdout)
	if strings.HasPrefix(out, "taken") {
		return Found{}, true, nil
	}
	return l.judge(s, out), false, nil
}

// judge reads a held marker's output and decides whether its holder lives.
func (l *Lease) judge(s Site, out string) Found {
	var now, mtime int64
	var body strings.Builder
	for _, line := range strings.Split(out, "\n") {
		switch {
		case line == "held":
		case strings.HasPrefix(line, "now="):
			now, _ = strconv.ParseInt(strings.TrimPrefix(line, "now="), 10, 64)
		case strings.HasPrefix(line, "mtime="):
			mtime, _ = strconv.ParseInt(strings.TrimPrefix(line, "mtime="), 10, 64)
		default:
			body.WriteString(line + "\n")
		}
	}
	f := Found{Site: s, Holder: decodeHolder(body.String())}
	if now > 0 && mtime > 0 {
		f.Age = time.Duration(max(now-mtime, 0)) * time.Second
	}
	switch {
	case f.Holder.Run != "" && f.Holder.Machine == l.opts.Holder.Machine && f.Holder.Machine != "":
		f.Alive = l.opts.ProcessAlive(f.Holder.PID)
		if f.Alive {
			f.Why = fmt.Sprintf("pid %d runs on this machine", f.Holder.PID)
		} else {
			f.Why = fmt.Sprintf("pid %d no longer runs on this machine", f.Holder.PID)
		}
	case f.Age < l.opts.TTL:
		f.Alive = true
		f.Why = fmt.Sprintf("renewed %s ago, within %s", f.Age, l.opts.TTL)
	default:
		f.Why = fmt.Sprintf("not renewed for %s (more than %s)", f.Age, l.opts.TTL)
	}
	return f
}

// remove deletes the marker of run (a dead holder being taken over) only if
// it still names that run: a run that took it meanwhile keeps it.
func (l *Lease) remove(ctx context.Context, s Site, run string) error {
	guard := `[ ! -f "$d/holder" ]`
	if run != "" {
		guard = `grep -qxF ` + ssh.Quote("run="+run) + ` "$d/holder" 2>/dev/null`
	}
	_, err := l.script(ctx, s, "if "+guard+`; then rm -rf "$d"; fi`, "")
	return err
}

// write rewrites the holder file of a marker this lease holds.
func (l *Lease) write(ctx context.Context, s Site) error {
	res, err := l.script(ctx, s, `grep -qxF `+ssh.Quote("run="+l.holder.Run)+` "$d/holder" && cat > "$d/holder.tmp" && mv -f "$d/holder.tmp" "$d/holder"`, l.holder.encode())
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return &LostError{Site: s}
	}
	return nil
}

// LostError is a marker this run held that no longer names it (broken by
// '--break-lock' elsewhere, or removed by hand): the run must stop.
type LostError struct{ Site Site }

func (e *LostError) Error() string {
	return fmt.Sprintf("the run lease marker on %s (%s:%s) no longer names this run: someone broke the lease", e.Site.Label, e.Site.Target, e.Site.marker())
}

// Renew touches every marker this lease holds; a marker that no longer names
// this run is a *LostError.
func (l *Lease) Renew(ctx context.Context) error {
	var errs []error
	for _, s := range l.held {
		res, err := l.script(ctx, s, `grep -qxF `+ssh.Quote("run="+l.holder.Run)+` "$d/holder" && touch "$d/holder"`, "")
		switch {
		case err != nil:
			errs = append(errs, err)
		case res.ExitCode != 0:
			return &LostError{Site: s}
		}
	}
	return errors.Join(errs...)
}

// Keep renews the lease every TTL/3 until stop is called or ctx ends; lost is
// called once if a marker stops naming this run.
func (l *Lease) Keep(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.opts.TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var le *LostError
			if err := l.Renew(ctx); errors.As(err, &le) {
				if lost != nil {
					lost(err)
				}
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Release removes every marker that still names this run. It is safe to call
// more than once and after a failed Acquire.
func (l *Lease) Release(ctx context.Context) error {
	var errs []error
	for _, s := range l.held {
		if err := l.remove(ctx, s, l.holder.Run); err != nil {
			errs = append(errs, err)
		}
	}
	l.held = nil
	return errors.Join(errs...)
}

// Inspect reads the markers on the sites without taking any: who holds the
// lease and whether the holder lives.
func Inspect(ctx context.Context, o Options) ([]Found, error) {
	o.defaults()
	l := &Lease{opts: o}
	var out []Found
	var errs []error
	for _, s := range sorted(o.Sites) {
		res, err := l.script(ctx, s, `if [ -d "$d" ]; then echo held; echo "now=$(date +%s)"; echo "mtime=$(stat -c %Y "$d/holder" 2>/dev/null || stat -c %Y "$d")"; cat "$d/holder" 2>/dev/null; fi`, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if strings.HasPrefix(string(res.Stdout), "held") {
			out = append(out, l.judge(s, string(res.Stdout)))
		}
	}
	return out, errors.Join(errs...)
}
