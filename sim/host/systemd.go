package host

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/sim/clock"
)

// Service is what a systemd unit runs: one simulated TiKV process. Start
// blocks until the process listens (nil) or dies during startup (the error);
// Stop ends it; Running reports whether it is up.
type Service interface {
	Start(ctx context.Context) error
	Stop()
	Running() bool
}

// Unit states as `systemctl is-active` prints them (systemd src/basic/unit-def.c
// unit_active_state_table): active, inactive, activating, deactivating, failed.
const (
	StateActive     = "active"
	StateInactive   = "inactive"
	StateActivating = "activating"
)

// DefaultRestartDelay is TiUP's RestartSec=15s (pingcap/tiup embed/templates/systemd/system.service.tpl).
const DefaultRestartDelay = 15 * time.Second

// UnitSpec registers a service with a host's systemd.
type UnitSpec struct {
	Name     string   // "tikv-20160.service"
	UnitFile string   // absolute path of the unit file; read on daemon-reload
	Listen   []string // host:port pairs the process listens on while running (for ss)
	Service  Service
}

// UnitStatus is a unit's state for tests and the status command.
type UnitStatus struct {
	Name     string
	State    string    // StateActive, StateInactive or StateActivating
	Sub      string    // running, dead, start, auto-restart
	Starts   int       // how many times the service was started (including automatic restarts)
	Failures int       // how many starts failed or the process died
	LastErr  string    // the last start error, "" if none
	Since    time.Time // sim time of the last state change
}

// unit is one emulated systemd service: Restart=always with RestartSec, Type=simple.
type unit struct {
	spec UnitSpec
	clk  *clock.Clock

	mu           sync.Mutex
	restart      string        // Restart= value
	restartDelay time.Duration // RestartSec= value
	cancel       context.CancelFunc
	done         chan struct{} // closed when the supervisor exits
	status       UnitStatus
}

func newUnit(spec UnitSpec, clk *clock.Clock) *unit {
	u := &unit{spec: spec, clk: clk, restart: "always", restartDelay: DefaultRestartDelay}
	u.status = UnitStatus{Name: spec.Name, State: StateInactive, Sub: "dead", Since: clk.Now()}
	u.reload()
	return u
}

// reload re-reads Restart= and RestartSec= from the unit file, as daemon-reload does.
// A missing or unreadable file keeps the current values.
func (u *unit) reload() {
	if u.spec.UnitFile == "" {
		return
	}
	f, err := os.Open(u.spec.UnitFile)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	u.mu.Lock()
	defer u.mu.Unlock()
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Restart":
			u.restart = strings.TrimSpace(v)
		case "RestartSec":
			if d, err := parseSystemdSpan(strings.TrimSpace(v)); err == nil {
				u.restartDelay = d
			}
		}
	}
}

// parseSystemdSpan parses a time span as systemd writes it: "15s", "15", "1min", "500ms".
func parseSystemdSpan(v string) (time.Duration, error) {
	if v == "" {
		return 0, fmt.Errorf("empty time span")
	}
	if strings.Trim(v, "0123456789") == "" { // bare number means seconds (systemd.time(7))
		v += "s"
	}
	v = strings.ReplaceAll(v, "min", "m")
	return time.ParseDuration(v)
}

func (u *unit) setState(state, sub string) {
	u.status.State, u.status.Sub, u.status.Since = state, sub, u.clk.Now()
}

// Status returns a copy of the unit's status.
func (u *unit) Status() UnitStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status
}

// start launches the supervisor unless it is already running. It returns at
// once, as systemctl does for a Type=simple service.
func (u *unit) start() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.done = cancel, make(chan struct{})
	u.setState(StateActivating, "start")
	go u.supervise(ctx, u.done)
}

// stop ends the supervisor and the service, and waits for both.
func (u *unit) stop() {
	u.mu.Lock()
	cancel, done := u.cancel, u.done
	u.cancel, u.done = nil, nil
	u.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	u.spec.Service.Stop()
	u.mu.Lock()
	u.setState(StateInactive, "dead")
	u.mu.Unlock()
}

// supervise starts the service and restarts it after RestartSec whenever it
// fails to start or dies, until ctx is cancelled by stop.
func (u *unit) supervise(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		u.mu.Lock()
		u.status.Starts++
		u.setState(StateActivating, "start")
		u.mu.Unlock()
		err := u.spec.Service.Start(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			u.mu.Lock()
			u.setState(StateActive, "running")
			u.mu.Unlock()
			if !u.watch(ctx) {
				return
			}
			err = fmt.Errorf("main process exited")
		}
		u.mu.Lock()
		u.status.Failures++
		u.status.LastErr = err.Error()
		u.setState(StateActivating, "auto-restart")
		policy, delay := u.restart, u.restartDelay
		u.mu.Unlock()
		if policy == "no" {
			u.mu.Lock()
			u.setState("failed", "failed")
			u.mu.Unlock()
			<-ctx.Done()
			return
		}
		if !u.clk.Sleep(ctx, delay) {
			return
		}
	}
}

// watch polls Running until the process dies (true) or ctx ends (false).
func (u *unit) watch(ctx context.Context) bool {
	t := u.clk.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			if !u.spec.Service.Running() {
				return true
			}
		}
	}
}

// running reports whether the service process is up (for ss).
func (u *unit) running() bool {
	return u.Status().State == StateActive && u.spec.Service.Running()
}
