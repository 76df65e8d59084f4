package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tikv-ear/tikv-ear/sim"
)

// syncBuffer is a writer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func testGlobals(ctx context.Context) (*Globals, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	return &Globals{Ctx: ctx, IO: IO{In: strings.NewReader(""), Out: out, Err: errb, Getenv: func(string) string { return "" }}}, out, errb
}

func TestSimUpWritesEnvAndAcceptsFaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, out, _ := testGlobals(ctx)
	up := &SimUpCmd{Stores: 2, Zones: 2, Regions: 6, Speed: 100, Dir: dir, Versions: []string{"8.5.2"}, Layout: "tiup"}
	done := make(chan error, 1)
	go func() { done <- up.Run(g) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "control:") {
		if time.Now().After(deadline) {
			t.Fatalf("sim up printed no summary; stdout:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, sim.EnvFileName)); err != nil {
		t.Fatalf("sim.env missing: %v", err)
	}
	for _, want := range []string{"tikv-1", "tikv-2", "Up", "meta.yaml:"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, out.String())
		}
	}
	fg, _, ferr := testGlobals(context.Background())
	if err := (&SimFaultCmd{Dir: dir, Kind: sim.FaultSSHRefuse, Node: 2}).Run(fg); err != nil {
		t.Fatalf("sim fault: %v", err)
	}
	if !strings.Contains(ferr.String(), "ssh-refuse on for node 2") {
		t.Fatalf("fault confirmation: %q", ferr.String())
	}
	err := (&SimFaultCmd{Dir: dir, Kind: sim.FaultSSHRefuse, Node: 7}).Run(fg)
	if err == nil || !strings.Contains(err.Error(), "no node 7") {
		t.Fatalf("fault on a missing node: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sim up after interrupt: %v", err)
	}
}

func TestSimFaultWithoutRunningSim(t *testing.T) {
	g, _, _ := testGlobals(context.Background())
	err := (&SimFaultCmd{Dir: t.TempDir(), Kind: sim.FaultPDUnavailable}).Run(g)
	var e *Error
	if err == nil || !strings.Contains(err.Error(), sim.EnvFileName) || !errors.As(err, &e) || len(e.Hints) == 0 {
		t.Fatalf("want an error naming sim.env with a hint, got %v", err)
	}
}

func TestSimFlagsParse(t *testing.T) {
	var root struct {
		Sim  SimCmd  `cmd:""`
		Demo DemoCmd `cmd:""`
	}
	p, err := kong.New(&root, kong.Exit(func(int) {}))
	if err != nil {
		t.Fatalf("kong tags: %v", err)
	}
	if _, err := p.Parse([]string{"sim", "up", "--versions", "8.5.2,6.1.2", "--stores", "2", "--layout", "systemd"}); err != nil {
		t.Fatal(err)
	}
	if u := root.Sim.Up; len(u.Versions) != 2 || u.Versions[1] != "6.1.2" || u.Layout != "systemd" || u.Zones != 3 || u.Speed != 10 {
		t.Fatalf("sim up flags: %+v", u)
	}
	if _, err := p.Parse([]string{"sim", "fault", "slow-start", "--node", "2", "--duration", "2m"}); err != nil {
		t.Fatal(err)
	}
	if f := root.Sim.Fault; f.Kind != sim.FaultSlowStart || f.Node != 2 || f.Duration != 2*time.Minute {
		t.Fatalf("sim fault flags: %+v", f)
	}
	for _, kind := range sim.FaultKinds() {
		if _, err := p.Parse([]string{"sim", "fault", kind, "--off"}); err != nil {
			t.Fatalf("fault kind %s is not accepted by the CLI: %v", kind, err)
		}
	}
	if _, err := p.Parse([]string{"sim", "fault", "meteor"}); err == nil {
		t.Fatal("an unknown fault kind parsed")
	}
}
