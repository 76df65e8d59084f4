package ui_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// waitText waits until the program's output shows s.
func waitText(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

// The whole program, from connect to the report, with a decision on the way.
func TestProgramConnectApplyReport(t *testing.T) {
	f := uitest.New(3)
	f.BackendOpts[0].Fields = nil // field prompts are covered by the model tests; the renderer's diffs split them here
	f.AskAfter = 4
	f.Ask = &steps.Decision{ID: "evict-timeout-1", Question: "store 1 still has 20 leaders", Options: []string{steps.OnEvictWait, steps.OnEvictSkipEviction, steps.OnEvictAbort}, Default: steps.OnEvictAbort}
	var tm *teatest.TestModel
	dec := ui.NewDecider(func(msg tea.Msg) { tm.Send(msg) })
	m := ui.New(context.Background(), f, prefilled(), dec)
	tm = teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	key := func(k string) { tm.Send(keyPress(k)) }

	waitText(t, tm, "3 stores")
	key("enter")
	waitText(t, tm, "Data-encryption method")
	key("enter")
	waitText(t, tm, "Master-key backend")
	key("enter")
	waitText(t, tm, "Preflight")
	key("enter")
	waitText(t, tm, "diff 1/3")
	key("enter")
	waitText(t, tm, "Apply now?")
	key("y")
	waitText(t, tm, "Decision:")
	key("2")
	key("enter")
	waitText(t, tm, "run finished")
	key("enter")
	waitText(t, tm, "3 of 3 stores verified")
	key("enter")
	waitText(t, tm, "automatic key rotation")
	key("enter")
	waitText(t, tm, "verify-report")
	key("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	final := tm.FinalModel(t).(*ui.Model)
	if final.Report() == nil || final.Outcome() != nil {
		t.Fatalf("final report %v outcome %v", final.Report(), final.Outcome())
	}
	if got := strings.Join(f.Decided(), ","); got != "skip-eviction by operator" {
		t.Fatalf("decided %q", got)
	}
}

// Leaving before apply reports ErrClosed and calls no engine step.
func TestProgramQuitBeforeApply(t *testing.T) {
	f := uitest.New(2)
	m := ui.New(context.Background(), f, prefilled(), nil)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	waitText(t, tm, "2 stores")
	tm.Send(keyPress("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if err := tm.FinalModel(t).(*ui.Model).Outcome(); err != ui.ErrClosed {
		t.Fatalf("outcome %v", err)
	}
	for _, c := range f.Calls() {
		if c == "Apply" {
			t.Fatal("Apply was called")
		}
	}
}
