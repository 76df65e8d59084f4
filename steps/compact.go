package steps

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/inventory"
	"github.com/tikv-ear/tikv-ear/cluster/pd"
	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// CompactCFs are the kv column families a forced compaction covers, in the
// order of tikv-encryption.md §2.4 (tikv-ctl -c, cmd/tikv-ctl/src/cmd.rs Compact).
func CompactCFs() []string { return []string{"default", "lock", "write"} }

// CompactCost is what a forced bottommost compaction costs (tikv-encryption.md §2.4; docs/disable.md).
const CompactCost = "a forced bottommost compaction reads and rewrites every SST of the column family on the store: " +
	"heavy disk I/O and CPU for the whole run, extra disk space while old and new files coexist, and higher latency " +
	"for foreground traffic. Run it off-peak, one store at a time. Raft Engine files are not part of it (-d kv)."

// upStreak is how many polls in a row PD must show a compacted store Up
// before the next store starts.
const upStreak = 3

// StepCompact is the forced compaction's step name in events.
const StepCompact = "compact"

// CompactCommand is the tikv-ctl command line that force-compacts one column
// family of the store at addr (tikv-encryption.md §2.4).
func CompactCommand(tikvCtl, addr, cf string) []string {
	return []string{tikvCtl, "--host", addr, "compact", "-d", "kv", "-c", cf, "--bottommost", "force"}
}

// SortedNodes returns the plan's nodes in store-id order.
func SortedNodes(nodes []NodePlan) []NodePlan {
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b NodePlan) int { return cmp.Compare(a.StoreID, b.StoreID) })
	return out
}

// CompactOptions shape Session.Compact.
type CompactOptions struct {
	// TikvCtl is tikv-ctl on the store hosts.
	TikvCtl string
	// CommandTimeout bounds one tikv-ctl compaction command.
	CommandTimeout time.Duration
	// Ask is asked before each store: "yes" compacts it, "skip" leaves it,
	// anything else stops. nil compacts every store.
	Ask func(ctx context.Context, n NodePlan) (string, error)
}

// CompactStopped is a compaction that stopped before every store was done:
// the cause and the stores not compacted yet.
type CompactStopped struct {
	Cause error
	Rest  []NodePlan
}

// Error names the cause.
func (e *CompactStopped) Error() string { return fmt.Sprintf("compaction stopped: %v", e.Cause) }

// Unwrap returns the cause.
func (e *CompactStopped) Unwrap() error { return e.Cause }

// CompactDeclined is an operator's answer that stopped the compaction before a store.
type CompactDeclined struct{ StoreID uint64 }

// Error names the store.
func (e *CompactDeclined) Error() string {
	return fmt.Sprintf("compaction stopped before store %d", e.StoreID)
}

// Compact runs the forced compaction over SSH on each store's host, one
// store at a time in store-id order, asking first when o.Ask is set, and
// waits for each store to stay Up in PD before the next one.
func (s *Session) Compact(ctx context.Context, o CompactOptions) error {
	sshc, err := s.Cluster.Flags.SSHClient(o.CommandTimeout)
	if err != nil {
		return err
	}
	defer sshc.Close()
	inv := map[uint64]inventory.Node{}
	for _, n := range s.Cluster.Inventory.Nodes {
		inv[n.StoreID] = n
	}
	p := s.Plan
	poll, timeout := max(p.Strategy.ReadyPoll.Duration, 50*time.Millisecond), max(p.Strategy.ReadyTimeout.Duration, time.Second)
	nodes := SortedNodes(p.Nodes)
	s.emit(Event{Kind: Info, Step: StepCompact, Message: "cost: " + CompactCost})
	for i, n := range nodes {
		host, ok := inv[n.StoreID]
		if !ok {
			return Failf("check the inventory ('tikv-ear status'), then run 'tikv-ear disable "+s.PlanPath+" --compact' again", "store %d (%s) is not in the cluster's inventory", n.StoreID, n.Address)
		}
		if err := WaitStoreUp(ctx, s.Cluster.PD, n.StoreID, 1, poll, timeout); err != nil {
			return &CompactStopped{Cause: err, Rest: nodes[i:]}
		}
		if o.Ask != nil {
			answer, err := o.Ask(ctx, n)
			if err != nil {
				return err
			}
			switch answer {
			case "skip":
				s.emit(Event{Kind: StepSkipped, Step: StepCompact, Message: fmt.Sprintf("store %d: skipped", n.StoreID)})
				continue
			case "yes":
			default:
				return &CompactDeclined{StoreID: n.StoreID}
			}
		}
		target := gather.SSHTarget(host, s.Cluster.Flags.SSHUser)
		start := time.Now()
		for _, cf := range CompactCFs() {
			cmd := ssh.Command(CompactCommand(o.TikvCtl, n.Address, cf)...)
			// Messages name the store themselves: a line printer shows them as written.
			s.emit(Event{Kind: StepStarted, Step: StepCompact, Message: fmt.Sprintf("store %d: %s (on %s)", n.StoreID, cmd, target)})
			res, err := sshc.Run(ctx, target, cmd, nil)
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit status %d: %s", res.ExitCode, strings.TrimSpace(string(res.Stderr)))
			}
			if err != nil {
				return &CompactStopped{Cause: fmt.Errorf("store %d: %s: %w", n.StoreID, cmd, err), Rest: nodes[i:]}
			}
		}
		s.emit(Event{Kind: StepDone, Step: StepCompact, Message: fmt.Sprintf("store %d: compacted in %s; waiting for it to stay Up in PD", n.StoreID, time.Since(start).Round(time.Millisecond))})
		if err := WaitStoreUp(ctx, s.Cluster.PD, n.StoreID, upStreak, poll, timeout); err != nil {
			return &CompactStopped{Cause: err, Rest: nodes[i+1:]}
		}
	}
	return nil
}

// WaitStoreUp polls PD until the store is Up in streak polls in a row.
func WaitStoreUp(ctx context.Context, c *pd.Client, id uint64, streak int, poll, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	seen, last := 0, "unknown"
	for {
		st, err := c.Store(ctx, id)
		switch {
		case err != nil:
			seen, last = 0, err.Error()
		case st.Store.StateName == pd.StateUp:
			seen++
		default:
			seen, last = 0, st.Store.StateName
		}
		if seen >= streak {
			return nil
		}
		if err := RealSleep(ctx, poll); err != nil {
			return fmt.Errorf("store %d did not stay Up in PD within %s (last seen: %s)", id, timeout, last)
		}
	}
}

// StoreLeft is how many encrypted files one store still holds.
type StoreLeft struct {
	StoreID   uint64 `json:"store_id"`
	Address   string `json:"address"`
	Encrypted int    `json:"encrypted_files"` // the larger count: never guess in the unsafe direction
	FileDict  int    `json:"file_dict"`       // file.dict entries with a cipher method
	OnDisk    int    `json:"on_disk"`         // files the on-disk proof finds encrypted
}

// EncryptedLeft counts encrypted files on every store of the cluster:
// file.dict entries with a cipher method and files the on-disk proof finds
// encrypted. A store whose evidence cannot be read is an error, never zero.
func EncryptedLeft(ctx context.Context, s *Cluster) ([]StoreLeft, error) {
	rep, err := GatherCluster(ctx, s)
	if err != nil {
		return nil, err
	}
	var out []StoreLeft
	for _, st := range rep.Stores {
		if st.FileDict == nil || st.Coverage == nil {
			return nil, Failf("fix access to the store, then try again", "store %d: cannot prove how many encrypted files are left", st.StoreID)
		}
		l := StoreLeft{StoreID: st.StoreID, Address: st.Address, OnDisk: st.Coverage.Encrypted.Files}
		for m, n := range st.FileDict.Methods {
			if m != tikv.MethodPlaintext { // "unknown" counts as encrypted
				l.FileDict += n
			}
		}
		l.Encrypted = max(l.FileDict, l.OnDisk)
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b StoreLeft) int { return cmp.Compare(a.StoreID, b.StoreID) })
	return out, nil
}
