package steps

import (
	"context"
	"time"
)

// Store is what the engine reads of a PD store.
type Store struct {
	ID              uint64
	Address         string
	StatusAddress   string
	StateName       string // Up | Disconnected | Down | Offline | Tombstone (PD state_name)
	Version         string
	StartTimestamp  int64 // unix seconds of the current process start (PD start_timestamp)
	Labels          map[string]string
	LeaderCount     int
	LeaderWeight    float64 // PD status.leader_weight (0: not read; PD's default is 1)
	RegionCount     int
	PauseTransferIn bool
}

// RegionHealth counts PD's region checks (regions/check/*).
type RegionHealth struct {
	MissPeer, PendingPeer, DownPeer, OfflinePeer int
	// StaleOfflinePeer counts the regions PD still flags offline-peer
	// although none of their peers is on an Offline store (left out of
	// OfflinePeer): PD recounts the flag only when a region's heartbeat
	// changes the region, so after a store's removal is cancelled idle
	// regions keep it (PDClient.RegionHealth).
	StaleOfflinePeer int
}

// Clean reports whether no region is missing, behind or down.
func (h RegionHealth) Clean() bool {
	return h.MissPeer == 0 && h.PendingPeer == 0 && h.DownPeer == 0 && h.OfflinePeer == 0
}

// PD is what the engine asks of PD. The production implementation wraps
// cluster/pd; tests use the same through the simulated PD.
type PD interface {
	Stores(ctx context.Context) ([]Store, error)
	AddEvictLeader(ctx context.Context, storeID uint64) error
	RemoveEvictLeader(ctx context.Context, storeID uint64) error
	EvictLeaderStores(ctx context.Context) ([]uint64, error)
	RegionHealth(ctx context.Context) (RegionHealth, error)
	Regions(ctx context.Context) ([]RegionPeers, error)
	MaxReplicas(ctx context.Context) (int, error)
	// LeaderScheduleLimit reads schedule.leader-schedule-limit; SetLeaderScheduleLimit
	// writes it (POST /pd/api/v1/config, tikv/pd server/api/config.go).
	LeaderScheduleLimit(ctx context.Context) (int, error)
	SetLeaderScheduleLimit(ctx context.Context, n int) error
}

// Node is what the engine asks of one TiKV host (over SSH) and its status port.
type Node interface {
	// ReadFile returns a file's content; ok is false when it does not exist.
	ReadFile(ctx context.Context, path string) (data []byte, ok bool, err error)
	// WriteFile replaces path atomically (temp, fsync, rename), keeping mode and
	// owner and a backup of the previous version, whose path it returns.
	WriteFile(ctx context.Context, path string, data []byte) (backup string, err error)
	// Remove deletes a file (no error when absent).
	Remove(ctx context.Context, path string) error
	// Restart restarts the TiKV service (systemctl, or the plan's restart command).
	Restart(ctx context.Context) error
	// PortListening reports whether the TiKV port is listening (`ss -ltn`, TiUP's rule).
	PortListening(ctx context.Context, port int) (bool, error)
	// FileSize returns a file's size (0 when absent).
	FileSize(ctx context.Context, path string) (int64, error)
	// ReadFileAndSize reads path (ok false when it does not exist) and the
	// size of sizeOf (0 when absent or unreadable) in one round trip.
	ReadFileAndSize(ctx context.Context, path, sizeOf string) (data []byte, ok bool, size int64, err error)
	// Metrics reads the status port's /metrics.
	Metrics(ctx context.Context) (Sample, error)
}

// Keys is the key backend as the engine uses it (implemented over package kms).
type Keys interface {
	// Name is the backend name (file, aws, gcp, azure, vault).
	Name() string
	// Stage prepares the key material each store needs (e.g. delivers a key file
	// next to the live one). Nothing live changes.
	Stage(ctx context.Context, n NodePlan) error
	// Cleanup removes staged or superseded key material after the run (e.g. old key files).
	Cleanup(ctx context.Context, n NodePlan) error
}

// Sleeper waits; the runner uses it for every poll so tests can compress time.
type Sleeper func(ctx context.Context, d time.Duration) error

// RealSleep waits for d or until ctx is done.
func RealSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
