package pd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/kvproto/pkg/metapb"
)

// The JSON shapes below mirror tikv/pd; the upstream path of each is beside it.

// MetaStore is pkg/response/store.go MetaStore: the kvproto metapb.Store (all
// fields omitempty, so "state" is absent while Up) plus "state_name".
type MetaStore struct {
	*metapb.Store
	StateName string `json:"state_name"`
}

// StoreStatus is pkg/response/store.go StoreStatus.
type StoreStatus struct {
	Capacity               ByteSize   `json:"capacity"`
	Available              ByteSize   `json:"available"`
	UsedSize               ByteSize   `json:"used_size"`
	LeaderCount            int        `json:"leader_count"`
	LeaderWeight           float64    `json:"leader_weight"`
	LeaderScore            float64    `json:"leader_score"`
	LeaderSize             int64      `json:"leader_size"`
	RegionCount            int        `json:"region_count"`
	RegionWeight           float64    `json:"region_weight"`
	RegionScore            float64    `json:"region_score"`
	RegionSize             int64      `json:"region_size"`
	LearnerCount           int        `json:"learner_count,omitempty"`
	WitnessCount           int        `json:"witness_count,omitempty"`
	PendingPeerCount       int        `json:"pending_peer_count,omitempty"`
	SlowScore              uint64     `json:"slow_score,omitempty"`
	SendingSnapCount       uint32     `json:"sending_snap_count,omitempty"`
	ReceivingSnapCount     uint32     `json:"receiving_snap_count,omitempty"`
	IsBusy                 bool       `json:"is_busy,omitempty"`
	StartTS                *time.Time `json:"start_ts,omitempty"`
	LastHeartbeatTS        *time.Time `json:"last_heartbeat_ts,omitempty"`
	Uptime                 *Duration  `json:"uptime,omitempty"`
	PauseLeaderTransferIn  bool       `json:"pause_leader_transfer_in,omitempty"`
	PauseLeaderTransferOut bool       `json:"pause_leader_transfer_out,omitempty"`
}

// StoreInfo is pkg/response/store.go StoreInfo.
type StoreInfo struct {
	Store  *MetaStore   `json:"store"`
	Status *StoreStatus `json:"status"`
}

// StoresInfo is pkg/response/store.go StoresInfo.
type StoresInfo struct {
	Count  int          `json:"count"`
	Stores []*StoreInfo `json:"stores"`
}

// State names set by pkg/response/store.go BuildStoreInfo (DisconnectedName,
// DownStateName) and metapb.StoreState.String().
const (
	StateUp           = "Up"
	StateOffline      = "Offline"
	StateTombstone    = "Tombstone"
	StateDisconnected = "Disconnected"
	StateDown         = "Down"
)

// ByteSize is pkg/utils/typeutil/size.go ByteSize: it marshals as a string
// through docker/go-units BytesSize ("%.4g" with binary units, e.g. "460.4GiB").
type ByteSize uint64

// MarshalJSON implements json.Marshaler.
func (b ByteSize) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(bytesSize(float64(b)))), nil
}

// UnmarshalJSON parses a size string such as "460.4GiB" (go-units RAMInBytes, binary units).
func (b *ByteSize) UnmarshalJSON(text []byte) error {
	s, err := strconv.Unquote(string(text))
	if err != nil {
		return fmt.Errorf("parsing size %s: %w", text, err)
	}
	num := strings.TrimRight(s, "KMGTPEZYiBkb")
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return fmt.Errorf("parsing size %q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40, "p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50}
	m, ok := mult[unit]
	if !ok {
		return fmt.Errorf("parsing size %q: unknown unit %q", s, unit)
	}
	*b = ByteSize(v * m)
	return nil
}

// bytesSize is docker/go-units BytesSize = CustomSize("%.4g%s", size, 1024, binaryAbbrs).
func bytesSize(size float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
	i := 0
	for size >= 1024 && i < len(units)-1 {
		size /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", size, units[i])
}

// Duration is pkg/utils/typeutil/duration.go Duration: a Go duration string in JSON.
type Duration struct{ time.Duration }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(d.String())), nil
}

// UnmarshalJSON parses a JSON string such as "30m" (typeutil.Duration.UnmarshalJSON).
func (d *Duration) UnmarshalJSON(text []byte) error {
	s, err := strconv.Unquote(string(text))
	if err != nil {
		return fmt.Errorf("parsing duration %s: %w", text, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parsing duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// StringSlice is pkg/utils/typeutil StringSlice: a comma-joined JSON string.
type StringSlice []string

// MarshalJSON implements json.Marshaler.
func (s StringSlice) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(strings.Join(s, ","))), nil
}

// UnmarshalJSON splits a comma-joined JSON string.
func (s *StringSlice) UnmarshalJSON(text []byte) error {
	v, err := strconv.Unquote(string(text))
	if err != nil {
		return fmt.Errorf("parsing string slice %s: %w", text, err)
	}
	if v == "" {
		*s = nil
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
