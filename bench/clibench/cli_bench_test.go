package clibench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/sim"
)

// The cluster of issue 17's scale targets: 300 stores over 3 zones with 100
// leaders each (30 000 regions, 3 replicas), sim clock ×10, every SSH session
// delayed by 20 ms of wall time (a remote data centre).
const (
	cliStores     = 300
	cliRegions    = 30000
	cliSpeed      = 10
	cliSSHLatency = 20 * time.Millisecond
)

// buildBinary builds tikv-ear once into dir.
func buildBinary(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "tikv-ear")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tikv-ear/tikv-ear")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building tikv-ear: %v\n%s", err, out)
	}
	return bin
}

// result is one command's process: wall time, peak RSS, output.
type result struct {
	wall    time.Duration
	peakRSS int64 // bytes: the command's own high-water mark (VmHWM), sampled while it runs
	// rusageRSS is wait4's ru_maxrss. It is not the command's own: Go starts
	// it with vfork (CLONE_VM), and at exec Linux keeps the old mm's
	// high-water mark, the benchmark process's with its in-process 300-store
	// sim, in the child's signal->maxrss (fs/exec.c exec_mmap,
	// setmax_mm_hiwater_rss; golang/go#32054). Kept to show the difference.
	rusageRSS int64
	stderr    string
}

func run(b *testing.B, bin string, args ...string) result {
	b.Helper()
	r, err := runErr(bin, args...)
	if err != nil {
		b.Fatalf("tikv-ear %s: %v\n%s", strings.Join(args, " "), err, tail(r.stderr, 40))
	}
	return r
}

// hwmSample is how often the command's VmHWM is read: growth in the last
// sample period before it exits is not seen.
const hwmSample = 20 * time.Millisecond

// runErr runs one command and returns its process figures even when it fails.
func runErr(bin string, args ...string) (result, error) {
	var errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	done := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(hwmSample)
		defer t.Stop()
		for {
			if v, ok := vmHWM(cmd.Process.Pid); ok && v > peak {
				peak = v
			}
			select {
			case <-done:
				hwm <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	r := result{wall: time.Since(start), stderr: errb.String(), peakRSS: <-hwm}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rusageRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	return r, err
}

// vmHWM reads the "VmHWM:" line of /proc/<pid>/status (proc(5): peak
// resident set size, in kB) of a running process.
func vmHWM(pid int) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// BenchmarkCLIAt300Stores starts the 300-store sim, then runs `status`,
// `plan` and `apply` (zone batching, production timings on the sim's clock) as
// separate processes with 20 ms of SSH latency on every host, and reports each
// command's wall time, apply's peak RSS and the sim's tick ratio while they
// ran. Issue 17's targets: status and plan ≤ 5 s, apply peak RSS ≤ 150 MB.
func BenchmarkCLIAt300Stores(b *testing.B) {
	dir := b.TempDir()
	bin := buildBinary(b, dir)
	for i := 0; i < b.N; i++ {
		simDir := filepath.Join(dir, fmt.Sprintf("sim%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		c, err := sim.Start(ctx, sim.Options{Stores: cliStores, Zones: 3, Regions: cliRegions, Speed: cliSpeed, Dir: simDir})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Inject(sim.Fault{Kind: sim.FaultSSHLatency, Duration: cliSSHLatency}); err != nil {
			b.Fatal(err)
		}
		before := readHealth(b, c).Ticks
		status := run(b, bin, "status", "--sim", simDir, "--output", "json")
		planFile := filepath.Join(dir, fmt.Sprintf("plan%d.toml", i))
		poll := fmt.Sprint(2 * time.Second / cliSpeed)
		plan := run(b, bin, "plan", "--sim", simDir, "--env", "staging", "--backend", "file",
			"--key-dir", filepath.Join(dir, "keys"), "--out-file", planFile, "--report-dir", filepath.Join(dir, "reports"),
			"--batching", "zone", "--poll", poll, "--evict-timeout", "2m", "--ready-timeout", "2m", "--settle-timeout", "2m")
		b.Logf("status %s, plan %s at %d stores (%d CPUs, load %s)", status.wall.Round(10*time.Millisecond), plan.wall.Round(10*time.Millisecond), cliStores, runtime.NumCPU(), sim.LoadAverage())
		// apply's peak RSS is its process's, whether or not every store made it.
		apply, applyErr := runErr(bin, "apply", planFile, "--yes")
		if applyErr != nil {
			b.Errorf("apply at %d stores failed (%v); its peak RSS is still reported:\n%s", cliStores, applyErr, tail(apply.stderr, 12))
		}
		h := readHealth(b, c)
		ticks := h.Ticks.Since(before)
		c.Close()
		if !h.OK() {
			b.Fatalf("apply at %d stores: %d quorum losses, %d lost writes", cliStores, len(h.QuorumLosses), h.Ledger.Lost)
		}
		b.Logf("status %s, plan %s, apply %s (sim %s) peak RSS %.0f MB (VmHWM; wait4's ru_maxrss %.0f MB counts the benchmark process's own at fork); sim ticks %d/%d (%.3f); %d CPUs, load %s",
			status.wall.Round(10*time.Millisecond), plan.wall.Round(10*time.Millisecond), apply.wall.Round(10*time.Millisecond),
			(apply.wall * cliSpeed).Round(time.Second), float64(apply.peakRSS)/1e6, float64(apply.rusageRSS)/1e6, ticks.Run, ticks.Due, ticks.Ratio, runtime.NumCPU(), sim.LoadAverage())
		if line := floorLine(apply.stderr); line != "" {
			b.Logf("apply: %s", line)
		}
		if !ticks.KeepsClock() {
			// A command that waits on the cluster measures the sim when it falls behind.
			b.Logf("sim behind its clock (ticks %.3f < %.2f): status and plan figures above measure the sim too", ticks.Ratio, sim.MinTickRatio)
		} else {
			b.ReportMetric(status.wall.Seconds(), "status-s")
			b.ReportMetric(plan.wall.Seconds(), "plan-s")
		}
		b.ReportMetric(float64(apply.peakRSS)/1e6, "apply-peak-MB")
		b.ReportMetric(ticks.Ratio, "tick-ratio")
	}
}

// readHealth reads the sim's control endpoint (GET /health).
func readHealth(b *testing.B, c *sim.Cluster) sim.Health {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := sim.ReadHealth(ctx, c.ControlURL())
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// floorLine finds apply's wall/floor line on its stderr.
func floorLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "physical floor") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
