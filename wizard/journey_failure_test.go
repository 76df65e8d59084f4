package wizard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/schedule"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
)

// The canary fails to start: the wizard asks, rolls it back, says so, and
// the store runs what the screen says: its original tikv.toml byte for
// byte, or (key.dict already written under the new key) the new master key
// kept with the method back to plaintext. No verification, schedule or
// report of a run that did not finish; home offers to resume.
func TestJourneyCanaryFailsAndRollsBack(t *testing.T) {
	for _, size := range journeySizes {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			cl := startSim(t, 3)
			node := cl.Nodes()[0]
			before, err := os.ReadFile(node.Paths.ConfigPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Inject(sim.Fault{Kind: sim.FaultStartFailure, Node: 1, Once: true}); err != nil {
				t.Fatal(err)
			}
			j := startTour(t, cl, t.TempDir(), size[0], size[1])
			j.enableToPlan()
			j.see("Decision: store 1 did not reach the target", "[1 rollback (plan default)]")
			j.press("enter")
			v := j.see("run stopped: store 1 rolled back", "enter home (resume from there)")
			flat := strings.Join(strings.Fields(v), " ")
			if !strings.Contains(flat, "Store 1 rolled back") || !strings.Contains(flat, "2 not touched") {
				t.Errorf("the dashboard does not say where each store stands:\n%s", v)
			}
			after, err := os.ReadFile(node.Paths.ConfigPath)
			if err != nil {
				t.Fatal(err)
			}
			// Which of the two rollbacks the engine chose is in its event,
			// which the journal records; the file must match it.
			journal, err := os.ReadFile(j.plan + ".journal")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case string(after) == string(before):
			case strings.Contains(string(after), `data-encryption-method = "plaintext"`) && strings.Contains(string(after), "[security.encryption.master-key]"):
				// The store wrote key.dict under the new key: it keeps the master key.
			default:
				t.Fatalf("store 1's tikv.toml is neither the original nor the new master key with the method plaintext:\n%s\njournal:\n%s", after, journal)
			}
			if j.d.LastReport() != nil {
				t.Fatal("a report was written for a run that did not finish")
			}
			j.press("enter")
			j.see("What do you want to do?", "4 Resume an interrupted run", "stopped")
		})
	}
}

// The schedule the operator chooses is the one written and recorded: cron
// at 90 days writes the cron file only (no systemd units, no CronJob) and
// plan.toml's [schedule] says runner = "cron", master-key-rotation = "90d".
func TestJourneyScheduleChoicePersisted(t *testing.T) {
	for _, size := range journeySizes {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			cl := startSim(t, 3)
			j := startTour(t, cl, t.TempDir(), size[0], size[1])
			j.enableToPlan()
			j.see("run finished", "enter verification")
			j.press("enter")
			j.see("3 of 3 stores verified")
			j.press("enter")
			j.see("Keep the master key rotating", "cron on this machine")
			j.press("down") // systemd timer, cron, Kubernetes, manual: cron is second
			j.see("› cron on this machine")
			j.press("left", "left") // 365d → 180d → 90d
			j.see("› cron on this machine · every 90d")
			j.press("enter")
			j.see("Anyone can check it later with:")
			p, err := steps.LoadPlan(j.plan)
			if err != nil {
				t.Fatal(err)
			}
			if p.Schedule.Runner != steps.RunnerCron || p.Schedule.MasterKeyRotation != "90d" {
				t.Fatalf("plan.toml [schedule] = %+v, want runner cron every 90d", p.Schedule)
			}
			entries, err := os.ReadDir(filepath.Join(filepath.Dir(j.plan), "tikv-ear-schedule"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) != 1 || names[0] != schedule.DefaultName+".cron" {
				t.Fatalf("schedule files %v, want only %s.cron", names, schedule.DefaultName)
			}
		})
	}
}
