package ui_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

func homeOpts() ui.Options {
	o := prefilled()
	o.Home = true
	return o
}

// The home offers the three journeys and resume (disabled without an
// interrupted run); the audit journey is read-only and ends in a signed
// report, then goes home, where the incident rotation can follow.
func TestHomeOffersEveryJourney(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		f := uitest.New(3)
		f.AuditRes = ui.AuditResult{Outcome: "succeeded", Stores: 3, Encrypted: 3, Failing: 1,
			Findings: []ui.AuditFinding{{Severity: "high", Title: "key files are not on tmpfs", Fix: "mount the key dir as tmpfs"}},
			Files:    ui.ReportFiles{JSON: "/r/audit-1/report.json", HTML: "/r/audit-1/report.html", Bundle: "/r/audit-1/report.sigstore.json", VerifyCommand: "tikv-ear report verify /r/audit-1/report.json --key /r/audit-1/pub.pem"}}
		h := newHarness(t, f, homeOpts())
		h.size(size[0], size[1])
		h.idle(ui.ScreenHome)
		contains(t, h.view(), "1 First-time enablement", "2 Incident key rotation", "3 Audit evidence", "4 Resume an interrupted run", "no interrupted run")
		h.press("4", "enter")
		if h.m.Screen() != ui.ScreenHome {
			t.Fatalf("resume taken without an interrupted run: %s", h.m.Screen())
		}
		h.press("3", "enter")
		h.idle(ui.ScreenConnect)
		contains(t, h.view(), "audit evidence (read-only)", "step 1/2")
		h.press("enter")
		h.idle(ui.ScreenAudit)
		contains(t, h.view(), "read-only: nothing on the cluster changed", "3 of 3 stores encrypted", "1 high or critical", "key files are not on tmpfs", "report.json", "enter home")
		for _, c := range f.Calls() {
			if c == "Apply" || c == "SavePlan" {
				t.Fatalf("the audit journey called %s", c)
			}
		}
		h.press("enter")
		h.idle(ui.ScreenHome)
		f.Rotation = &ui.RotationPreview{Backend: "aws", Current: "generation 1", Next: "generation 2 (created when you rotate)", Revoke: true, Incident: true,
			Steps: []string{"create generation 2 in aws", "pass 1", "pass 2: previous-master-key removed", "then you may revoke the old generation"}}
		h.press("2", "enter")
		h.idle(ui.ScreenConnect)
		contains(t, h.view(), "INCIDENT", "rotate the master key")
		h.press("enter")
		h.idle(ui.ScreenPlan)
		if c := f.LastChoices(); !c.Rotate || !c.Incident {
			t.Fatalf("incident journey choices %+v", c)
		}
		h.press("esc", "esc")
		h.idle(ui.ScreenHome)
		h.press("1", "enter")
		h.idle(ui.ScreenConnect)
		if strings.Contains(h.view(), "INCIDENT") {
			t.Fatalf("the enablement journey kept the incident banner:\n%s", h.view())
		}
	}
}

// An interrupted run is preselected on the home and resumes from there.
func TestHomeResumesAnInterruptedRun(t *testing.T) {
	f := uitest.New(3)
	f.Open = &ui.Unfinished{Run: "apply-7", Kind: "apply", Started: uitest.Base(), LastStep: "restart store 2", Done: 1, Total: 3, Unverified: []uint64{2}, Preview: f.Preview}
	h := newHarness(t, f, homeOpts())
	h.idle(ui.ScreenHome)
	contains(t, h.view(), "run apply-7 (apply) stopped at restart store 2 with 1 of 3 stores", "verified, store 2 restarted and not verified", "› 4 Resume")
	h.press("enter")
	h.idle(ui.ScreenResume)
	h.press("r")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	if !slices.Contains(f.Calls(), "Apply") {
		t.Fatalf("resume did not apply: %v", f.Calls())
	}
}

// Another tikv-ear (apply --resume or --abort) ended the interrupted run
// while home showed it: Resume reads the journal again and says there is
// nothing to resume, instead of a resume screen for a run that is over.
func TestHomeResumeRereadsTheJournal(t *testing.T) {
	f := uitest.New(3)
	f.Open = &ui.Unfinished{Run: "apply-7", Kind: "apply", Started: uitest.Base(), LastStep: "restart store 2", Done: 1, Total: 3, Unverified: []uint64{2}, Preview: f.Preview}
	h := newHarness(t, f, homeOpts())
	h.idle(ui.ScreenHome)
	contains(t, h.view(), "› 4 Resume")
	f.SetOpen(nil)
	h.press("enter")
	h.until("the journal read again", func(m *ui.Model) bool { return m.Busy() == "" && strings.Contains(h.view(), "nothing to resume") })
	if h.m.Screen() != ui.ScreenHome {
		t.Fatalf("screen %v after the run ended elsewhere, want home:\n%s", h.m.Screen(), h.view())
	}
	if slices.Contains(f.Calls(), "Apply") {
		t.Fatalf("a run that is over was applied again: %v", f.Calls())
	}
	contains(t, h.view(), "no interrupted run")
}

// The operator aborts a rollout, goes home (Resume offered), and another
// tikv-ear finishes the run meanwhile: Resume says there is nothing to
// resume, home then offers none, and the plan is not applied again.
func TestHomeResumeAfterAnAbortEndedElsewhere(t *testing.T) {
	f := uitest.New(3)
	all := f.Events
	cut := 0
	for i, e := range all {
		if e.Kind == steps.StepDone && e.Step == steps.StepRestart {
			cut = i + 1
			break
		}
	}
	f.Events = all[:cut]
	f.Hold = make(chan struct{})
	h := newHarness(t, f, homeOpts())
	h.idle(ui.ScreenHome)
	h.press("1", "enter")
	h.toPlan()
	h.press("enter", "G", "y")
	h.until("restart", func(m *ui.Model) bool { return m.EventsSeen() == cut })
	h.press("a", "y")
	h.until("rollout end", func(m *ui.Model) bool { r, _ := m.Result(); return r != nil })
	f.SetOpen(&ui.Unfinished{Run: "apply-8", Kind: "apply", Started: uitest.Base(), LastStep: "run interrupted", Done: 0, Total: 3, Preview: f.Preview})
	h.press("enter")
	h.idle(ui.ScreenHome)
	contains(t, h.view(), "› 4 Resume")
	f.SetOpen(nil)
	h.press("enter")
	h.until("the journal read again", func(m *ui.Model) bool { return m.Busy() == "" && strings.Contains(h.view(), "nothing to resume") })
	contains(t, h.view(), "no interrupted run")
	applies := 0
	for _, c := range f.Calls() {
		if c == "Apply" {
			applies++
		}
	}
	if applies != 1 || h.m.Screen() != ui.ScreenHome {
		t.Fatalf("after the run ended elsewhere: %d applies (want 1), screen %v\n%s", applies, h.m.Screen(), h.view())
	}
}
