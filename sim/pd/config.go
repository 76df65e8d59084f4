package pd

import "time"

// Label is one store label, such as zone=z1 or host=h1.
type Label struct{ Key, Value string }

// StoreSpec describes one TiKV store as PD knows it from its first heartbeat.
type StoreSpec struct {
	ID                                              uint64
	Address, StatusAddress, PeerAddress, DeployPath string
	Labels                                          []Label
}

// Config sets up the simulated PD. Zero fields take the defaults noted beside them.
type Config struct {
	ClusterID uint64
	// Version is the PD release version served by /version and /status (default "8.5.2").
	Version string
	// Members is the number of PD members (default 3).
	Members int

	// NotBootstrapped starts PD as it is before its first TiKV: the cluster
	// routes answer ErrNotBootstrapped until a store's first heartbeat
	// (tikv/pd server/api/middleware.go clusterMiddleware).
	NotBootstrapped bool

	// Regions is the number of regions to place (default 30).
	Regions int
	// MaxReplicas is replication.max-replicas (default 3, pkg/schedule/config/config.go DefaultMaxReplicas).
	MaxReplicas int
	// LocationLabels is replication.location-labels (default {"zone","host"}).
	LocationLabels []string

	// HeartbeatInterval is TiKV's pd-store-heartbeat-tick-interval (default 10s, tikv etc/config-template.toml).
	HeartbeatInterval time.Duration
	// DisconnectAfter is PD's storeDisconnectDuration (default 20s, pkg/core/store.go).
	DisconnectAfter time.Duration
	// MaxStoreDownTime is schedule.max-store-down-time (default 30m, pkg/schedule/config/config.go defaultMaxStoreDownTime).
	MaxStoreDownTime time.Duration
	// MaxPeerDownDuration is TiKV's raftstore.max-peer-down-duration (default 10m, tikv etc/config-template.toml).
	MaxPeerDownDuration time.Duration
	// ElectionTimeout is how long a region stays leaderless after its leader's store stops (default 10s).
	ElectionTimeout time.Duration

	// EvictBatch is the evict-leader scheduler batch (default 3, evict_leader.go EvictLeaderBatchSize).
	EvictBatch int
	// TickInterval is the sim time of one scheduling tick (default 1s).
	TickInterval time.Duration
	// CatchUpTicks is how many ticks a restarted store's peers stay pending (default 3).
	CatchUpTicks int
	// WriteRate is the number of ledger writes per sim second (default 5; negative means none).
	WriteRate int
}

// Defaults of the sim (sources beside each Config field).
const (
	defaultVersion             = "8.5.2"
	defaultMembers             = 3
	defaultRegions             = 30
	defaultMaxReplicas         = 3
	defaultHeartbeatInterval   = 10 * time.Second
	defaultDisconnectAfter     = 20 * time.Second
	defaultMaxStoreDownTime    = 30 * time.Minute
	defaultMaxPeerDownDuration = 10 * time.Minute
	defaultElectionTimeout     = 10 * time.Second
	defaultEvictBatch          = 3
	defaultTickInterval        = time.Second
	defaultCatchUpTicks        = 3
	defaultWriteRate           = 5
)

func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = defaultVersion
	}
	if c.Members <= 0 {
		c.Members = defaultMembers
	}
	if c.Regions <= 0 {
		c.Regions = defaultRegions
	}
	if c.MaxReplicas <= 0 {
		c.MaxReplicas = defaultMaxReplicas
	}
	if c.LocationLabels == nil {
		c.LocationLabels = []string{"zone", "host"}
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.HeartbeatInterval, defaultHeartbeatInterval)
	setDur(&c.DisconnectAfter, defaultDisconnectAfter)
	setDur(&c.MaxStoreDownTime, defaultMaxStoreDownTime)
	setDur(&c.MaxPeerDownDuration, defaultMaxPeerDownDuration)
	setDur(&c.ElectionTimeout, defaultElectionTimeout)
	setDur(&c.TickInterval, defaultTickInterval)
	if c.EvictBatch <= 0 {
		c.EvictBatch = defaultEvictBatch
	}
	if c.CatchUpTicks <= 0 {
		c.CatchUpTicks = defaultCatchUpTicks
	}
	if c.WriteRate == 0 {
		c.WriteRate = defaultWriteRate
	}
	return c
}
