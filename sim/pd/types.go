package pd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/pingcap/kvproto/pkg/metapb"
)

// The JSON shapes below are transcribed from tikv/pd @ a186e0cc (the
// pd-server in ../shared/realparts) — the server's own structs, with the
// fields PD writes and tikv-ear's client never reads — never from
// cluster/pd, the client whose reading the conformance test holds against
// the real PD (issue 13). Sizes go through docker/go-units, the library
// PD's typeutil calls (PD pins v0.4.0; BytesSize and RAMInBytes are the
// same in the v0.5.0 this module resolves).

// pkg/response/store.go (a186e0cc) ------------------------------------------

// MetaStore is response.MetaStore: the kvproto metapb.Store PD keeps (its
// pb JSON tags are all omitempty, so "state" is absent while Up) and
// "state_name" from store.GetState().String().
type MetaStore struct {
	*metapb.Store
	StateName string `json:"state_name"`
}

// SlowTrend is response.SlowTrend (cause_value, cause_rate, result_value,
// result_rate); PD writes it only when the store reported one, which the
// sim's stores never do.
type SlowTrend struct {
	CauseValue  float64 `json:"cause_value"`
	CauseRate   float64 `json:"cause_rate"`
	ResultValue float64 `json:"result_value"`
	ResultRate  float64 `json:"result_rate"`
}

// StoreStatus is response.StoreStatus, field for field in PD's order
// (BuildStoreInfo fills it; start_ts only once the store sent stats,
// last_heartbeat_ts only after a heartbeat, uptime only when positive).
type StoreStatus struct {
	Capacity               ByteSize          `json:"capacity"`
	Available              ByteSize          `json:"available"`
	UsedSize               ByteSize          `json:"used_size"`
	LeaderCount            int               `json:"leader_count"`
	LeaderWeight           float64           `json:"leader_weight"`
	LeaderScore            float64           `json:"leader_score"`
	LeaderSize             int64             `json:"leader_size"`
	RegionCount            int               `json:"region_count"`
	RegionWeight           float64           `json:"region_weight"`
	RegionScore            float64           `json:"region_score"`
	RegionSize             int64             `json:"region_size"`
	LearnerCount           int               `json:"learner_count,omitempty"`
	WitnessCount           int               `json:"witness_count,omitempty"`
	PendingPeerCount       int               `json:"pending_peer_count,omitempty"`
	SlowScore              uint64            `json:"slow_score,omitempty"`
	NetworkSlowScore       map[uint64]uint64 `json:"network_slow_score,omitempty"`
	SlowTrend              *SlowTrend        `json:"slow_trend,omitempty"`
	SendingSnapCount       uint32            `json:"sending_snap_count,omitempty"`
	ReceivingSnapCount     uint32            `json:"receiving_snap_count,omitempty"`
	IsBusy                 bool              `json:"is_busy,omitempty"`
	StartTS                *time.Time        `json:"start_ts,omitempty"`
	LastHeartbeatTS        *time.Time        `json:"last_heartbeat_ts,omitempty"`
	Uptime                 *Duration         `json:"uptime,omitempty"`
	PauseLeaderTransferIn  bool              `json:"pause_leader_transfer_in,omitempty"`
	PauseLeaderTransferOut bool              `json:"pause_leader_transfer_out,omitempty"`
}

// StoreInfo is response.StoreInfo: both halves are pointers in PD.
type StoreInfo struct {
	Store  *MetaStore   `json:"store"`
	Status *StoreStatus `json:"status"`
}

// StoresInfo is response.StoresInfo (server/api/store.go GetAllStores
// fills count after the state filter).
type StoresInfo struct {
	Count  int          `json:"count"`
	Stores []*StoreInfo `json:"stores"`
}

// State names: metapb.StoreState.String() for Up, Offline and Tombstone;
// BuildStoreInfo overrides an Up store's with DownStateName when its
// heartbeat is older than max-store-down-time, else DisconnectedName when
// older than 20 s (core.StoreInfo.IsDisconnected).
const (
	StateUp           = "Up"
	StateOffline      = "Offline"
	StateTombstone    = "Tombstone"
	StateDisconnected = "Disconnected"
	StateDown         = "Down"
)

// pkg/utils/typeutil (a186e0cc) ---------------------------------------------

// ByteSize is typeutil.ByteSize (size.go).
type ByteSize uint64

// MarshalJSON is PD's: `"` + units.BytesSize(float64(b)) + `"`.
func (b ByteSize) MarshalJSON() ([]byte, error) {
	return []byte(`"` + units.BytesSize(float64(b)) + `"`), nil
}

// UnmarshalJSON is PD's: unquote, then units.RAMInBytes.
func (b *ByteSize) UnmarshalJSON(text []byte) error {
	s, err := strconv.Unquote(string(text))
	if err != nil {
		return fmt.Errorf("byte size %s: %w", text, err)
	}
	v, err := units.RAMInBytes(s)
	if err != nil {
		return fmt.Errorf("byte size %q: %w", s, err)
	}
	*b = ByteSize(v)
	return nil
}

// Duration is typeutil.Duration (duration.go): a time.Duration written as
// its String() in JSON and TOML.
type Duration struct{ time.Duration }

// MarshalJSON is PD's (a pointer receiver there: a Duration held by value
// in a map falls back to MarshalText, the same string).
func (d *Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`"%s"`, d.String())), nil
}

// MarshalText is PD's.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON is PD's: unquote, then time.ParseDuration.
func (d *Duration) UnmarshalJSON(text []byte) error {
	s, err := strconv.Unquote(string(text))
	if err != nil {
		return fmt.Errorf("duration %s: %w", text, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// StringSlice is typeutil.StringSlice (string_slice.go): one comma-joined
// JSON string.
type StringSlice []string

// MarshalJSON is PD's: strconv.Quote(strings.Join(s, ",")).
func (s StringSlice) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(strings.Join(s, ","))), nil
}

// UnmarshalJSON is PD's: "" is an empty (not nil) slice.
func (s *StringSlice) UnmarshalJSON(text []byte) error {
	v, err := strconv.Unquote(string(text))
	if err != nil {
		return fmt.Errorf("string slice %s: %w", text, err)
	}
	if v == "" {
		*s = []string{}
		return nil
	}
	*s = strings.Split(v, ",")
	return nil
}

// Member mirrors kvproto pdpb.Member's JSON tags (pkg/pdpb/pdpb.pb.go); pdpb
// itself is not imported because it pulls in gRPC.
type Member struct {
	Name           string   `json:"name,omitempty"`
	MemberID       uint64   `json:"member_id,omitempty"`
	PeerUrls       []string `json:"peer_urls,omitempty"`
	ClientUrls     []string `json:"client_urls,omitempty"`
	LeaderPriority int32    `json:"leader_priority,omitempty"`
	DeployPath     string   `json:"deploy_path,omitempty"`
	BinaryVersion  string   `json:"binary_version,omitempty"`
	GitHash        string   `json:"git_hash,omitempty"`
	DcLocation     string   `json:"dc_location,omitempty"`
}

// ResponseHeader mirrors pdpb.ResponseHeader.
type ResponseHeader struct {
	ClusterID uint64 `json:"cluster_id,omitempty"`
}

// MembersResponse mirrors pdpb.GetMembersResponse (server/api/member.go GetMembers).
type MembersResponse struct {
	Header              *ResponseHeader    `json:"header,omitempty"`
	Members             []*Member          `json:"members,omitempty"`
	Leader              *Member            `json:"leader,omitempty"`
	EtcdLeader          *Member            `json:"etcd_leader,omitempty"`
	TsoAllocatorLeaders map[string]*Member `json:"tso_allocator_leaders,omitempty"`
}

// Health is one entry of GET /pd/api/v1/health (server/api/health.go).
type Health struct {
	Name       string   `json:"name"`
	MemberID   uint64   `json:"member_id"`
	ClientUrls []string `json:"client_urls"`
	Health     bool     `json:"health"`
}

// Version is server/api/version.go version: only "version" is filled.
type Version struct {
	Version   string `json:"version"`
	BuildTime string `json:"build_time"`
	Hash      string `json:"hash"`
	Branch    string `json:"branch"`
}

// Status is pkg/versioninfo Status (server/api/status.go GetPDStatus).
type Status struct {
	BuildTS        string `json:"build_ts"`
	Version        string `json:"version"`
	GitHash        string `json:"git_hash"`
	StartTimestamp int64  `json:"start_timestamp"`
	KernelType     string `json:"kernel_type"`
}

// ClusterStatus is server/cluster/cluster.go Status.
type ClusterStatus struct {
	RaftBootstrapTime time.Time `json:"raft_bootstrap_time,omitempty"`
	IsInitialized     bool      `json:"is_initialized"`
	ReplicationStatus string    `json:"replication_status"`
}

// ReadyStatus is server/apiv2/handlers/ready.go ReadyStatus (?verbose).
type ReadyStatus struct {
	RegionLoaded   bool `json:"region_loaded"`
	IsBootstrapped bool `json:"is_bootstrapped"`
}

// MetaPeer is pkg/response/region.go MetaPeer.
type MetaPeer struct {
	*metapb.Peer
	RoleName  string `json:"role_name"`
	IsLearner bool   `json:"is_learner,omitempty"`
}

// PDPeerStats is pkg/response/region.go PDPeerStats (pdpb.PeerStats with the peer as a MetaPeer).
type PDPeerStats struct {
	Peer        MetaPeer `json:"peer"`
	DownSeconds uint64   `json:"down_seconds,omitempty"`
}

// RegionInfo is pkg/response/region.go RegionInfo; keys are upper-case hex (core.HexRegionKeyStr).
type RegionInfo struct {
	ID                        uint64              `json:"id"`
	StartKey                  string              `json:"start_key"`
	EndKey                    string              `json:"end_key"`
	RegionEpoch               *metapb.RegionEpoch `json:"epoch,omitempty"`
	Peers                     []MetaPeer          `json:"peers,omitempty"`
	Leader                    MetaPeer            `json:"leader,omitempty"`
	DownPeers                 []PDPeerStats       `json:"down_peers,omitempty"`
	PendingPeers              []MetaPeer          `json:"pending_peers,omitempty"`
	CPUUsage                  uint64              `json:"cpu_usage"`
	WrittenBytes              uint64              `json:"written_bytes"`
	ReadBytes                 uint64              `json:"read_bytes"`
	WrittenKeys               uint64              `json:"written_keys"`
	ReadKeys                  uint64              `json:"read_keys"`
	ApproximateSize           int64               `json:"approximate_size"`
	ApproximateKeys           int64               `json:"approximate_keys"`
	ApproximateKvSize         int64               `json:"approximate_kv_size"`
	ApproximateColumnarKvSize int64               `json:"approximate_columnar_kv_size"`
	Buckets                   []string            `json:"buckets,omitempty"`
	BucketVersion             uint64              `json:"bucket_version,omitempty"`
	ReplicationStatus         *ReplicationStatus  `json:"replication_status,omitempty"`
}

// ReplicationStatus is pkg/response/region.go ReplicationStatus (present only
// in DR auto-sync replication mode, which the sim does not run).
type ReplicationStatus struct {
	State   string `json:"state"`
	StateID uint64 `json:"state_id"`
}

// RegionsInfo is pkg/response/region.go RegionsInfo ({"count":N,"regions":[...]}).
type RegionsInfo struct {
	Count   int          `json:"count"`
	Regions []RegionInfo `json:"regions"`
}

// KeyRange is pkg/core KeyRange as the evict-leader config lists it.
type KeyRange struct {
	StartKey string `json:"start-key"`
	EndKey   string `json:"end-key"`
}

// EvictLeaderConfig is pkg/schedule/schedulers/evict_leader.go evictLeaderSchedulerConfig's JSON.
type EvictLeaderConfig struct {
	StoreIDWithRanges map[uint64][]KeyRange `json:"store-id-ranges"`
	Batch             int                   `json:"batch"`
}

// errorJSON is pingcap/errcode JSONFormat, written by apiutil.ErrorResp for invalid input.
type errorJSON struct {
	Code string   `json:"code"`
	Msg  string   `json:"msg"`
	Data struct{} `json:"data"`
}
