package wizard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tikv-ear/tikv-ear/cli"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/steps"
	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/wizard"
)

// events keeps every event a run emits.
type events struct {
	mu  sync.Mutex
	all []steps.Event
}

func (r *events) Emit(e steps.Event) {
	r.mu.Lock()
	r.all = append(r.all, e)
	r.mu.Unlock()
}

// shape is an event sequence reduced to what must not differ between faces:
// the run-wide events of each batch in order (0: those of no batch), and for
// each store the events of each of its steps in order. Stores of one batch
// run at once, a store's swap is written while its leaders move, and a batch
// settles while the next one starts, so events of different stores, of those
// two steps or of neighbouring batches interleave as the scheduler pleases.
// Progress, log and metric events are samples of timing and are left out.
type shape struct {
	Run    map[int][]string
	Stores map[uint64]map[string][]string
}

func shapeOf(evs []steps.Event) shape {
	s := shape{Run: map[int][]string{}, Stores: map[uint64]map[string][]string{}}
	for _, e := range evs {
		switch e.Kind {
		case steps.StepProgress, steps.NodeLog, steps.MetricSample:
			continue
		}
		what := string(e.Kind)
		if e.Decision != nil {
			what += " " + e.Decision.ID
		}
		if e.StoreID != 0 {
			if s.Stores[e.StoreID] == nil {
				s.Stores[e.StoreID] = map[string][]string{}
			}
			s.Stores[e.StoreID][e.Step] = append(s.Stores[e.StoreID][e.Step], what)
			continue
		}
		s.Run[e.Batch] = append(s.Run[e.Batch], what+" "+e.Step)
	}
	return s
}

// buildPlan starts a sim and builds and saves the wizard's plan for it: the
// same choices on every call, so two sims get plans that differ only in
// their addresses and cluster id.
func buildPlan(t *testing.T, ctx context.Context) (*wizard.Driver, ui.PlanPreview, string) {
	t.Helper()
	cl, err := sim.Start(ctx, sim.Options{Stores: 3, Zones: 3, Regions: 60, Speed: 100})
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(cl.Close)
	env := cl.Env()
	base, err := cli.ConnectFlags{Sim: env.Dir, Timeout: 10 * time.Second, Concurrency: 20}.Options()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	planPath := filepath.Join(dir, "plan.toml")
	d := wizard.New(wizard.Config{Base: base, PlanPath: planPath, ReportDir: filepath.Join(dir, "reports"),
		Strategy: wizard.DemoStrategy(), Policies: steps.DefaultPolicies()})
	t.Cleanup(d.Close)
	in := ui.ConnectInput{Environment: steps.EnvStaging, PD: cl.PDURLs(), SSHUser: sim.User, Identity: env.Identity, KnownHosts: env.KnownHosts, SSHConfig: env.SSHConfig}
	disc, err := d.Discover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	backends, err := d.Backends(ctx, disc, steps.EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range backends[0].Fields {
		fields[f.Key] = f.Value
	}
	prev, err := d.BuildPlan(ctx, ui.Choices{Connect: in, Discovery: disc, Method: tikv.MethodAES256CTR, DataKeyRotation: "7d", Backend: backends[0].Name, BackendFields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SavePlan(ctx, prev, planPath); err != nil {
		t.Fatal(err)
	}
	return d, prev, planPath
}

// TestWizardAndApplyYesEmitTheSameEvents runs one plan through the wizard's
// driver and the same plan through 'tikv-ear apply --yes --output json', each
// on a fresh sim of the same shape, and compares the events both emit: both
// faces run steps.Session, so the sequences must match step for step.
func TestWizardAndApplyYesEmitTheSameEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	d, prev, _ := buildPlan(t, ctx)
	viaWizard := &events{}
	if _, err := d.Apply(ctx, prev, viaWizard, steps.PolicyDecider{}); err != nil {
		t.Fatalf("wizard apply: %v", err)
	}

	_, _, planPath := buildPlan(t, ctx)
	var out, errb bytes.Buffer
	io := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	if code := cli.Main([]string{"apply", planPath, "--yes", "--output", "json"}, io); code != 0 {
		t.Fatalf("tikv-ear apply --yes: exit %d\n%s", code, errb.String())
	}
	var viaCLI []steps.Event
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e steps.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		viaCLI = append(viaCLI, e)
	}

	w, c := shapeOf(viaWizard.all), shapeOf(viaCLI)
	if len(w.Run) == 0 || len(w.Stores) != 3 {
		t.Fatalf("the wizard's run emitted too little: %+v", w)
	}
	if !slices.Contains(w.Run[0], "step-done preflight") || !slices.Contains(w.Run[0], "info finalize") {
		t.Errorf("the wizard's run lacks the session's preflight gate or TiUP meta sync: %v", w.Run[0])
	}
	if !reflect.DeepEqual(w.Run, c.Run) {
		t.Errorf("run-wide events differ\nwizard: %v\napply:  %v", w.Run, c.Run)
	}
	for id, ws := range w.Stores {
		if !reflect.DeepEqual(ws, c.Stores[id]) {
			t.Errorf("store %d events differ\nwizard: %v\napply:  %v", id, ws, c.Stores[id])
		}
	}
	if len(c.Stores) != len(w.Stores) {
		t.Errorf("apply reached %d stores, the wizard %d", len(c.Stores), len(w.Stores))
	}
}
