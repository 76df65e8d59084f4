package wizard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
)

// The journey suite: the whole wizard (ui.Model in a bubbletea program
// under teatest) over the real engine on the sim, taken by keys alone at
// 80x24 and 120x40, from the home screen. Each journey asserts what the
// screen says and what the cluster and the files then are; waits are for
// screen content, never for time.

// shown wraps the wizard's model and keeps the last screen it drew (ANSI
// stripped), so a test waits for what the operator sees.
type shown struct {
	*ui.Model
	mu   sync.Mutex
	last string
	busy string // the operation in flight when it drew: keys wait for it
}

func (s *shown) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := s.Model.Update(msg)
	return s, cmd
}

func (s *shown) View() tea.View {
	v := s.Model.View()
	s.mu.Lock()
	s.last, s.busy = ansi.Strip(v.Content), s.Model.Busy()
	s.mu.Unlock()
	return v
}

// screen returns the last screen drawn and whether the wizard was idle then.
func (s *shown) screen() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.busy == ""
}

// journey is one wizard program on one sim at one terminal size.
type tour struct {
	t     *testing.T
	tm    *teatest.TestModel
	s     *shown
	d     *Driver
	cl    *sim.Cluster
	plan  string
	dir   string
	w, h  int
	steps []string // the keys sent, for failure messages
}

// startTour opens the wizard at its home screen on cl.
func startTour(t *testing.T, cl *sim.Cluster, dir string, w, h int) *tour {
	t.Helper()
	j := &tour{t: t, cl: cl, dir: dir, plan: filepath.Join(dir, "plan.toml"), w: w, h: h}
	strategy := DemoStrategy()
	j.d = New(Config{Base: simBase(t, cl), PlanPath: j.plan, ReportDir: filepath.Join(dir, "reports"), Strategy: strategy, Policies: steps.DefaultPolicies()})
	t.Cleanup(j.d.Close)
	var tm *teatest.TestModel
	dec := ui.NewDecider(func(msg tea.Msg) { tm.Send(msg) })
	m := ui.New(context.Background(), j.d, ui.Options{Home: true, PlanPath: j.plan, Prefill: demoConnect(cl)}, dec)
	j.s = &shown{Model: m}
	tm = teatest.NewTestModel(t, j.s, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	j.tm = tm
	t.Cleanup(func() { _ = tm.Quit() })
	return j
}

// see waits until the idle screen shows every one of wants (the deadline
// only guards against a hang) and checks that it fits the terminal.
func (j *tour) see(wants ...string) string {
	j.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v, idle := j.s.screen()
		ok := idle
		for _, w := range wants {
			if !strings.Contains(v, w) {
				ok = false
			}
		}
		if ok {
			j.fits(v)
			return v
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("%dx%d: waiting for %q after keys %v; the screen:\n%s", j.w, j.h, wants, j.steps, v)
		}
		time.Sleep(5 * time.Millisecond) // polling the drawn screen; no step waits on time
	}
}

// waitFor waits until ready reports true (a state of the sim, not a time).
func (j *tour) waitFor(what string, ready func() bool) {
	j.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			j.t.Fatalf("%dx%d: waiting for %s", j.w, j.h, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seeOneOf waits until the screen shows one of wants and returns it.
func (j *tour) seeOneOf(wants ...string) string {
	j.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v, idle := j.s.screen()
		for _, w := range wants {
			if idle && strings.Contains(v, w) {
				return v
			}
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("%dx%d: waiting for one of %q after keys %v; the screen:\n%s", j.w, j.h, wants, j.steps, v)
		}
		time.Sleep(5 * time.Millisecond) // polling the drawn screen; no step waits on time
	}
}

// fits checks that a screen has the terminal's height and no wider line.
func (j *tour) fits(v string) {
	j.t.Helper()
	lines := strings.Split(v, "\n")
	if len(lines) != j.h {
		j.t.Errorf("%dx%d: the screen has %d lines:\n%s", j.w, j.h, len(lines), v)
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > j.w {
			j.t.Errorf("%dx%d: line %d is %d wide: %q", j.w, j.h, i, ansi.StringWidth(l), l)
		}
	}
}

// press sends keys as the operator types them.
func (j *tour) press(keys ...string) {
	for _, k := range keys {
		j.steps = append(j.steps, k)
		j.tm.Send(journeyKey(k))
	}
}

func journeyKey(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// enableToPlan takes the first-time enablement journey with a file key up
// to the plan's confirmation.
func (j *tour) enableToPlan() {
	j.t.Helper()
	j.see("1 First-time enablement")
	j.press("1", "enter")
	j.see("stores · cluster", "all 3 stores are Up")
	j.press("enter")
	j.see("Data-encryption method", "samples of 4 MiB")
	j.press("enter")
	j.see("Master-key backend", "file")
	j.press("enter") // the file backend: its form
	j.see("Key directory here")
	j.press("enter", "enter", "enter")
	j.see("Preflight")
	j.press("enter")
	j.see("Plan aes256-ctr · file key")
	j.press("enter")
	j.see("Apply now?")
	j.press("end", "y")
}

// finish goes from a finished rollout through verification, the schedule
// and the report, and returns the report's path.
func (j *tour) finish(verified string) string {
	j.t.Helper()
	j.see("run finished", "enter verification") // the engine returned: enter is taken
	j.press("enter")
	j.see(verified)
	j.press("enter")
	j.see("Keep the master key rotating")
	j.press("enter")
	j.see("Anyone can check it later with:", "report.json", "enter home")
	r := j.d.LastReport()
	if r == nil {
		j.t.Fatal("the report screen shows, but the driver wrote no report")
	}
	return r.JSON
}

// verifyReport checks a signed report with its own public key.
func verifyReport(t *testing.T, path string, kind report.Kind) {
	t.Helper()
	vr, err := report.Verify(path, report.VerifyOptions{KeyPath: filepath.Join(filepath.Dir(path), report.FilePublicKey), BundlePath: filepath.Join(filepath.Dir(path), report.FileBundle)})
	if err != nil {
		t.Fatalf("verifying %s: %v", path, err)
	}
	if vr.Kind != kind {
		t.Fatalf("report kind %q, want %q", vr.Kind, kind)
	}
}

var journeySizes = [][2]int{{80, 24}, {120, 40}}

// First-time enablement, then incident key rotation with revocation typed.
func TestJourneyEnableThenIncidentRotation(t *testing.T) {
	for _, size := range journeySizes {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			cl := startSim(t, 3)
			j := startTour(t, cl, t.TempDir(), size[0], size[1])
			j.enableToPlan()
			rep := j.finish("3 of 3 stores verified")
			verifyReport(t, rep, report.KindApply)
			p, err := steps.LoadPlan(j.plan)
			if err != nil || p.Target.MasterKey.Generation != 1 {
				t.Fatalf("plan after enabling: %v %+v", err, p)
			}

			j.press("enter") // home
			j.see("2 Incident key rotation")
			j.press("2", "enter")
			j.see("INCIDENT", "stores · cluster")
			j.press("enter")
			j.see("new master key", "generation 2", "enter rotate…")
			j.press("end")
			j.see("then you may revoke the old generation") // the incident journey offers revocation (typed)
			j.press("enter")
			j.see("Rotate now?")
			j.press("end", "y")
			v := j.see("Decision: revoke the old master key", "[1 keep (default)]", "2 revoke (type yes)")
			for _, want := range []string{"What revoke does:", "cannot be undone"} {
				if !strings.Contains(v, want) {
					t.Errorf("the revocation question lacks %q:\n%s", want, v)
				}
			}
			j.press("right", "enter")
			j.see("Type yes to revoke")
			j.press("y", "e", "s", "enter")
			rep = j.finish("3 of 3 stores verified")
			verifyReport(t, rep, report.KindRotate)
			j.see("Run summary", "decisions  retire-old → revoke (by operator)", "revocation old generation 1 retired in file")
			p, err = steps.LoadPlan(j.plan)
			if err != nil || p.Target.MasterKey.Generation != 2 || p.Target.PreviousMasterKey != nil {
				t.Fatalf("plan after the incident rotation: %v %+v", err, p.Target)
			}
			b, err := os.ReadFile(rep)
			if err != nil || !strings.Contains(string(b), "retired") {
				t.Fatalf("the rotation report records no revocation: %v", err)
			}
		})
	}
}

// Abort mid-rollout, then resume from the home screen: the dashboard says
// the run stopped and how to go on, home offers Resume with where it
// stopped, and resuming finishes with every store verified.
func TestJourneyAbortMidRolloutThenResume(t *testing.T) {
	for _, size := range journeySizes {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			abortThenResume(t, size, "1/3 stores", "restart")
		})
	}
	// Aborted once store 2 was restarted and is still starting: the resumed
	// run finds its port closed, which is no sign of another host (it was
	// refused as "the plan does not match the cluster").
	t.Run("store-still-starting", func(t *testing.T) {
		abortThenResume(t, journeySizes[0], "1/3 stores", "restarted")
	})
}

// abortThenResume aborts the enable journey once the dashboard shows every
// one of abortAt, then resumes it from the home screen.
func abortThenResume(t *testing.T, size [2]int, abortAt ...string) {
	cl := startSim(t, 3)
	// Store 2 starts slowly (sim time), so the abort meets a rollout in flight.
	if err := cl.Inject(sim.Fault{Kind: sim.FaultSlowStart, Node: 2, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	j := startTour(t, cl, t.TempDir(), size[0], size[1])
	j.enableToPlan()
	j.see(abortAt...)
	j.press("a")
	j.see("Abort the rollout?")
	j.press("y")
	j.see("aborted by the operator", "enter home (resume from there)")
	if err := cl.Inject(sim.Fault{Kind: sim.FaultSlowStart, Node: 2, Off: true}); err != nil {
		t.Fatal(err)
	}
	j.press("enter")
	// The safe abort lets store 2's restart end, and its slow start is
	// lifted above, so 1 or 2 of the 3 stores are done: either is right.
	v := j.see("› 4 Resume an interrupted run", "stopped", "of 3 stores verified")
	if flat := strings.Join(strings.Fields(v), " "); !strings.Contains(flat, "1 of 3 stores verified") && !strings.Contains(flat, "2 of 3 stores verified") {
		t.Fatalf("home after the abort:\n%s", v)
	}
	if j.d.LastReport() != nil {
		t.Fatal("a report was written for the aborted run")
	}
	j.press("enter") // resume is preselected
	// This session's stopped run applies again at once; a run the
	// journal keeps unfinished asks first (resume or clean up).
	if v := j.seeOneOf("Rollout in progress", "An earlier run did not finish."); strings.Contains(v, "An earlier run did not finish.") {
		j.press("r")
	}
	// Store 2, restarted before the abort, may still be starting (its slow
	// start was drawn before the fault was lifted): once PD no longer shows it
	// Up, the resume is refused naming it, with nothing changed; when it has
	// started, resuming again goes on.
	if v := j.seeOneOf("run finished", "cannot resume yet"); strings.Contains(v, "cannot resume yet") {
		flat := strings.Join(strings.Fields(v), " ")
		for _, want := range []string{"restarted store 2 with the new config", "nothing changed", "then resume again", "FATAL line in its log"} {
			if !strings.Contains(flat, want) {
				t.Fatalf("the refused resume does not say %q:\n%s", want, v)
			}
		}
		n := cl.Nodes()[1]
		unit := fmt.Sprintf("tikv-%d.service", n.Port)
		if err := n.Host.StopUnit(unit); err != nil { // what the operator's systemctl restart does
			t.Fatal(err)
		}
		if err := n.Host.StartUnit(unit); err != nil {
			t.Fatal(err)
		}
		j.waitFor("store 2 to start", n.Proc.Running)
		j.press("enter")
		j.see("› 4 Resume an interrupted run")
		j.press("enter")
		if v := j.seeOneOf("Rollout in progress", "An earlier run did not finish."); strings.Contains(v, "An earlier run did not finish.") {
			j.press("r")
		}
	}
	j.finish("3 of 3 stores verified")
	verifyReport(t, j.d.LastReport().JSON, report.KindApply)
}
