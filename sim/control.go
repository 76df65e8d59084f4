package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/sim/pd"
)

// Health is what the control server's GET /health reports: whether the sim
// keeps its clock (PD's scheduling ticks run against due) and the two
// invariants a rollout must keep (the quorum tracker and the write ledger).
// Benchmarks print the tick ratio beside their figures; the e2e suite
// asserts on the invariants.
type Health struct {
	// PD is "sim" for the in-process PD, "pd-server" for real members: then
	// the ticks, the quorum tracker and the ledger are not the sim's to know
	// (Known false), and OK is false: unknown is never healthy.
	PD           string          `json:"pd"`
	Known        bool            `json:"known"`
	Ticks        TickHealth      `json:"ticks"`
	QuorumLosses []pd.QuorumLoss `json:"quorum_losses"`
	Ledger       LedgerHealth    `json:"ledger"`
	Stores       int             `json:"stores"`
	Regions      int             `json:"regions"`
	Speed        float64         `json:"speed"`
	// Load is the machine's load average over 1, 5 and 15 minutes
	// (/proc/loadavg), "unknown" where it cannot be read: a sim that falls
	// behind on a busy machine says so beside its ticks.
	Load string `json:"load"`
}

// TickHealth is pd.TickStats in the control server's JSON.
type TickHealth struct {
	Run        int64   `json:"run"`
	Due        int64   `json:"due"`
	Ratio      float64 `json:"ratio"`
	IntervalMS float64 `json:"interval_ms"`
	MeanCostMS float64 `json:"mean_cost_ms"`
	MaxCostMS  float64 `json:"max_cost_ms"`
}

// MinTickRatio is the share of PD's scheduling ticks a sim must run on time
// for a figure measured on it to be the code's, not the sim's (issue 17).
const MinTickRatio = 0.95

// Since is the window between before and t, both read from the same sim:
// the ticks run and due in it and their ratio (1 when none was due).
func (t TickHealth) Since(before TickHealth) TickHealth {
	out := TickHealth{Run: t.Run - before.Run, Due: t.Due - before.Due, Ratio: 1, IntervalMS: t.IntervalMS, MaxCostMS: t.MaxCostMS}
	if out.Due > 0 {
		out.Ratio = min(float64(out.Run)/float64(out.Due), 1)
	}
	if out.Run > 0 {
		out.MeanCostMS = (t.MeanCostMS*float64(t.Run) - before.MeanCostMS*float64(before.Run)) / float64(out.Run)
	}
	return out
}

// KeepsClock reports whether the sim ran at least MinTickRatio of its ticks.
func (t TickHealth) KeepsClock() bool { return t.Ratio >= MinTickRatio }

// LedgerHealth is the write ledger: acknowledged writes and how many of them are lost.
type LedgerHealth struct {
	Acked int `json:"acked"`
	Lost  int `json:"lost"`
}

// OK reports whether the invariants are known and hold: no region lost its
// quorum and no acknowledged write was lost.
func (h Health) OK() bool { return h.Known && len(h.QuorumLosses) == 0 && h.Ledger.Lost == 0 }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// TickHealthOf renders pd.TickStats for the control server.
func TickHealthOf(t pd.TickStats) TickHealth {
	return TickHealth{Run: t.Run, Due: t.Due, Ratio: t.Ratio, IntervalMS: ms(t.Interval), MeanCostMS: ms(t.MeanCost), MaxCostMS: ms(t.MaxCost)}
}

// Health returns the sim's clock and invariants now.
func (c *Cluster) Health() Health {
	if c.pd == nil {
		return Health{PD: "pd-server", QuorumLosses: []pd.QuorumLoss{}, Stores: c.opt.Stores, Regions: c.opt.Regions, Speed: c.opt.Speed, Load: LoadAverage()}
	}
	acked, lost := c.pd.LedgerCheck()
	losses := c.pd.QuorumLosses()
	if losses == nil {
		losses = []pd.QuorumLoss{}
	}
	return Health{
		PD: "sim", Known: true, Ticks: TickHealthOf(c.pd.Ticks()), QuorumLosses: losses, Ledger: LedgerHealth{Acked: acked, Lost: lost},
		Stores: c.opt.Stores, Regions: c.opt.Regions, Speed: c.opt.Speed, Load: LoadAverage(),
	}
}

// LoadAverage is /proc/loadavg's first three fields, "unknown" without it.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func (c *Cluster) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(c.Health())
}

// ReadHealth reads GET /health from a running sim's control server (what a
// benchmark or test outside the sim's process does).
func ReadHealth(ctx context.Context, controlURL string) (Health, error) {
	var h Health
	u, err := url.JoinPath(controlURL, "health")
	if err != nil {
		return h, fmt.Errorf("control url %q: %w", controlURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, fmt.Errorf("reading %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return h, fmt.Errorf("reading %s: %s: %s", u, resp.Status, msg)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&h); err != nil {
		return h, fmt.Errorf("decoding %s: %w", u, err)
	}
	return h, nil
}
