package safetytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
)

// TestTamperedPlanStopsBeforeAnyChange: a plan whose entry for one store
// carries another store's SSH port, paths and unit, and a plan with two store
// ids swapped, both stop before the first change (exit 2) naming the store
// and the field that differs; no tikv.toml changes and no region loses its
// majority.
func TestTamperedPlanStopsBeforeAnyChange(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	before := configs(t, cl)

	borrowed := editPlan(t, plan, filepath.Join(dir, "borrowed.toml"), func(p *steps.Plan) {
		a, b := &p.Nodes[1], &p.Nodes[2]
		b.Host, b.SSHPort, b.SSHUser = a.Host, a.SSHPort, a.SSHUser
		b.ConfigPath, b.DataDir, b.LogFile, b.Service = a.ConfigPath, a.DataDir, a.LogFile, a.Service
	})
	r := run(t, "apply", borrowed, "--yes")
	third := regexp.MustCompile(`store \d+ (port|address|status-address|host)`)
	if r.code != 2 || !strings.Contains(r.stderr.String(), "does not match the cluster") || !third.MatchString(r.stderr.String()) {
		t.Errorf("a plan entry borrowing another store's host was not refused as bad input:\n%s", r)
	}
	if strings.Contains(r.stderr.String(), "preflight of") {
		t.Errorf("the tampered plan reached preflight:\n%s", r)
	}

	swapped := editPlan(t, plan, filepath.Join(dir, "swapped.toml"), func(p *steps.Plan) {
		p.Nodes[0].StoreID, p.Nodes[1].StoreID = p.Nodes[1].StoreID, p.Nodes[0].StoreID
	})
	r = run(t, "apply", swapped, "--yes")
	if r.code != 2 || !strings.Contains(r.stderr.String(), "address: the plan says") {
		t.Errorf("swapped store ids were not refused naming the address:\n%s", r)
	}
	unchanged(t, cl, before, "after the tampered plans")
	assertSafe(t, cl, "after the tampered plans")
}

// TestPartialPlanNeedsStores: a plan cut at a [[nodes]] boundary is refused
// naming the Up store it leaves out; with --stores naming the subset it runs,
// says "partial: 2 of 3" and its signed report's outcome is partial; the
// cluster-wide server_configs.tikv of meta.yaml is left alone and only the
// run's stores get the master key, in their own tikv_servers config.
func TestPartialPlanNeedsStores(t *testing.T) {
	cl := startSim(t, 3)
	dir := t.TempDir()
	plan := makePlan(t, cl, dir)
	var left uint64
	cut := editPlan(t, plan, filepath.Join(dir, "cut.toml"), func(p *steps.Plan) {
		left = p.Nodes[2].StoreID
		p.Nodes = p.Nodes[:2]
	})
	before := configs(t, cl)
	meta, err := os.ReadFile(cl.Env().Meta)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, "apply", cut, "--yes")
	if r.code != 2 || !strings.Contains(r.stderr.String(), "does not cover Up store(s) [") || !strings.Contains(r.stderr.String(), "--stores") {
		t.Fatalf("a plan leaving out store %d ran or was not refused naming it:\n%s", left, r)
	}
	unchanged(t, cl, before, "after the refused partial plan")

	p, err := steps.LoadPlan(cut)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, n := range p.Nodes {
		ids = append(ids, strings.TrimSpace(jsonNum(n.StoreID)))
	}
	r = must(t, "apply", cut, "--yes", "--stores", strings.Join(ids, ","))
	if !strings.Contains(r.stderr.String(), "partial: 2 of 3 Up stores") {
		t.Errorf("the partial run does not say so:\n%s", r)
	}
	m := regexp.MustCompile(`tikv-ear report verify (\S+) `).FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no report:\n%s", r)
	}
	var rep struct {
		Outcome  string
		Findings []struct{ Message string }
	}
	b, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != "partial" || len(rep.Findings) == 0 || !strings.Contains(string(b), "partial: 2 of 3") {
		t.Errorf("report outcome %q findings %+v, want partial: 2 of 3", rep.Outcome, rep.Findings)
	}
	// meta.yaml: the cluster-wide server_configs.tikv as it was; the two
	// stores of the run carry their encryption in their own config.
	_, scBefore := metaEntriesOf(t, meta)
	entries, sc := metaEntries(t, cl.Env().Meta)
	if !sameYAML(sc, scBefore) {
		t.Errorf("a partial run changed server_configs.tikv: %v", sc)
	}
	for _, n := range cl.Nodes() {
		_, has := entries[n.Port]["security.encryption.master-key.type"]
		if has != (n.StoreID != left) {
			t.Errorf("store %d: meta.yaml tikv_servers config has a master key: %v", n.StoreID, has)
		}
	}
	if got := configs(t, cl)[left]; got != before[left] {
		t.Errorf("store %d outside the run was changed", left)
	}
	assertSafe(t, cl, "after the partial run")
}

func jsonNum(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
