package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pingcap/kvproto/pkg/metapb"

	"github.com/tikv-ear/tikv-ear/internal/realparts"
	"github.com/tikv-ear/tikv-ear/sim/pd"
	"github.com/tikv-ear/tikv-ear/sim/realpd"
)

// RealPDLogFile is the file under Options.Dir where the stores' PD sessions
// log what they refuse (operators the sim does not model) and their errors.
const RealPDLogFile = "realpd.log"

// realPDConfig is the TOML every real member starts with: the location labels
// TiUP's topology gives (replication.location-labels, tikv/pd
// pkg/schedule/config/config.go ReplicationConfig), the same as sim/pd's default.
const realPDConfig = "[replication]\nlocation-labels = [\"zone\", \"host\"]\n"

// realPD is the sim's real PD: pd-server members and the stores' gRPC side.
type realPD struct {
	members *realparts.PDCluster
	stores  *realpd.Cluster
	logFile *os.File
}

// startRealPD starts the pd-server members, joins them and allocates the
// store ids, as TiKV does before it bootstraps.
func (c *Cluster) startRealPD(life context.Context) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(life, 2*time.Minute)
	defer cancel()
	// PD must be fresh (the stores bootstrap it): an old run's data dirs go.
	pdDir := filepath.Join(c.opt.Dir, "pd")
	if err := os.RemoveAll(pdDir); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", pdDir, err)
	}
	members, err := realparts.StartPD(ctx, realparts.PDOptions{
		Binary: c.opt.PDServer, Dir: pdDir, Members: c.opt.PDMembers,
		Config: realPDConfig + c.opt.PDConfig,
	})
	if err != nil {
		return nil, err
	}
	c.real = &realPD{members: members}
	f, err := os.OpenFile(filepath.Join(c.opt.Dir, RealPDLogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", RealPDLogFile, err)
	}
	c.real.logFile = f
	lg := log.New(f, "", log.LstdFlags|log.Lmicroseconds)
	stores, err := realpd.Dial(ctx, realpd.Config{Endpoints: members.ClientURLs(), Regions: c.opt.Regions, Logf: lg.Printf})
	if err != nil {
		return nil, err
	}
	c.real.stores = stores
	return stores.AllocIDs(ctx, c.opt.Stores)
}

// bootstrapRealPD bootstraps PD with the nodes' stores and starts the
// stores' election and heartbeat loop.
func (c *Cluster) bootstrapRealPD(life context.Context, specs []pd.StoreSpec) error {
	ctx, cancel := context.WithTimeout(life, 2*time.Minute)
	defer cancel()
	stores := make([]realpd.Store, len(specs))
	for i, s := range specs {
		stores[i] = realpd.Store{ID: s.ID, Address: s.Address, StatusAddress: s.StatusAddress, PeerAddress: s.PeerAddress, DeployPath: s.DeployPath}
		for _, l := range s.Labels {
			stores[i].Labels = append(stores[i].Labels, &metapb.StoreLabel{Key: l.Key, Value: l.Value})
		}
	}
	if err := c.real.stores.Bootstrap(ctx, stores); err != nil {
		return err
	}
	go c.real.stores.Run(life)
	return nil
}

func (r *realPD) close() {
	if r.stores != nil {
		r.stores.Close()
	}
	r.members.Close()
	if r.logFile != nil {
		r.logFile.Close()
	}
}

// RealPD returns the real pd-server members, nil with the in-process PD.
func (c *Cluster) RealPD() *realparts.PDCluster {
	if c.real == nil {
		return nil
	}
	return c.real.members
}

// RealStores returns the stores' side of the real PD (their region model),
// nil with the in-process PD.
func (c *Cluster) RealStores() *realpd.Cluster {
	if c.real == nil {
		return nil
	}
	return c.real.stores
}

// storeStates is PD's view of the stores: sim/pd's snapshot, or the real
// PD's /pd/api/v1/stores (tikv/pd server/api/store.go, pkg/response/store.go
// StoreInfo: store.id, store.state_name, status.leader_count,
// status.region_count); nil when the real PD does not answer.
func (c *Cluster) storeStates() []pd.StoreState {
	if c.real == nil {
		return c.pd.Snapshot()
	}
	var body struct {
		Stores []struct {
			Store struct {
				ID        uint64 `json:"id"`
				Address   string `json:"address"`
				StateName string `json:"state_name"`
			} `json:"store"`
			Status struct {
				LeaderCount int `json:"leader_count"`
				RegionCount int `json:"region_count"`
			} `json:"status"`
		} `json:"stores"`
	}
	for _, m := range c.real.members.Members {
		if !m.Running() || getJSON(m.ClientURL+"/pd/api/v1/stores", &body) != nil {
			continue
		}
		out := make([]pd.StoreState, 0, len(body.Stores))
		for _, s := range body.Stores {
			out = append(out, pd.StoreState{
				ID: s.Store.ID, Address: s.Store.Address, StateName: s.Store.StateName,
				Alive: s.Store.StateName == pd.StateUp, Leaders: s.Status.LeaderCount, Regions: s.Status.RegionCount,
			})
		}
		return out
	}
	return nil
}

// unhealthyChecks are PD's region checks a healthy cluster shows empty: the
// ones tikv-ear's preflight refuses on (miss, pending, down, offline peers)
// and the ones a repair leaves behind (extra, learner peers); routes
// /pd/api/v1/regions/check/{kind} (tikv/pd @ a186e0cc server/api/router.go,
// answer {"count": n, "regions": [...]}: pkg/response/region.go RegionsInfo).
func unhealthyChecks() []string {
	return []string{"miss-peer", "pending-peer", "down-peer", "offline-peer", "extra-peer", "learner-peer"}
}

// RegionsUnsettled says what keeps the real PD's view of the regions from
// being settled ("" when it is; always "" with the in-process PD, whose
// regions are whole from the start): every region led and reported (PD's leader counts
// add up to the stores' regions) and every region check empty. A store that
// joined later than a region's leader first reports its peers as pending, so
// a freshly started sim is not healthy at once (issue 12: a plan made then
// was refused by preflight).
func (c *Cluster) RegionsUnsettled() string {
	if c.real == nil {
		return ""
	}
	var body struct {
		Stores []struct {
			Status struct {
				LeaderCount int `json:"leader_count"`
			} `json:"status"`
		} `json:"stores"`
	}
	var base string
	for _, m := range c.real.members.Members {
		if m.Running() && getJSON(m.ClientURL+"/pd/api/v1/stores", &body) == nil {
			base = m.ClientURL
			break
		}
	}
	if base == "" {
		return "PD does not answer"
	}
	leaders := 0
	for _, s := range body.Stores {
		leaders += s.Status.LeaderCount
	}
	if want := c.real.stores.RegionCount(); leaders != want {
		return fmt.Sprintf("PD counts %d leaders of %d regions", leaders, want)
	}
	for _, kind := range unhealthyChecks() {
		var check struct {
			Count int `json:"count"`
		}
		if err := getJSON(base+"/pd/api/v1/regions/check/"+kind, &check); err != nil {
			return err.Error()
		}
		if check.Count > 0 {
			return fmt.Sprintf("PD reports %d %s regions", check.Count, kind)
		}
	}
	return ""
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v)
}
