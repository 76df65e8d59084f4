package pd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/kvproto/pkg/metapb"
)

// Store state names PD reports in store.state_name (tikv/pd pkg/response/store.go
// BuildStoreInfo: metapb.StoreState.String(), overridden by DownStateName and
// DisconnectedName for Up stores).
const (
	StateUp           = "Up"           // metapb.StoreState_Up.String()
	StateOffline      = "Offline"      // metapb.StoreState_Offline.String()
	StateTombstone    = "Tombstone"    // metapb.StoreState_Tombstone.String()
	StateDown         = "Down"         // response.DownStateName
	StateDisconnected = "Disconnected" // response.DisconnectedName
)

// Store is PD's MetaStore (tikv/pd pkg/response/store.go): the kvproto
// metapb.Store, whose JSON tags are PD's field names (all omitempty, so state
// is absent when Up), plus state_name.
type Store struct {
	metapb.Store
	StateName string `json:"state_name"`
}

// LabelMap returns the store labels as key → value.
func (s *Store) LabelMap() map[string]string {
	m := make(map[string]string, len(s.Labels))
	for _, l := range s.Labels {
		if l != nil {
			m[l.Key] = l.Value
		}
	}
	return m
}

// StoreStatus is PD's StoreStatus (tikv/pd pkg/response/store.go) with the
// ByteSize strings parsed to bytes and uptime parsed to a time.Duration.
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

// StoreInfo is one element of /pd/api/v1/stores and the body of /pd/api/v1/store/{id}.
type StoreInfo struct {
	Store  Store       `json:"store"`
	Status StoreStatus `json:"status"`
}

// storesInfo is PD's StoresInfo.
type storesInfo struct {
	Count  int         `json:"count"`
	Stores []StoreInfo `json:"stores"`
}

// ByteSize is PD's typeutil.ByteSize: a uint64 byte count that PD marshals
// as a string such as "460.4GiB" (docker/go-units BytesSize) and parses
// with units.RAMInBytes (binary multiples, optional "i" and "b", any case).
type ByteSize uint64

// ParseByteSize parses a PD size string ("460.4GiB", "0B", "1.5 MiB", "512")
// the way docker/go-units RAMInBytes does: a decimal number, an optional
// space, an optional unit k/m/g/t/p (and e, which BytesSize can print), an
// optional "i" and an optional "b", any case, all binary multiples.
func ParseByteSize(s string) (ByteSize, error) {
	bad := fmt.Errorf("invalid size %q: want a number with an optional binary unit such as 460.4GiB", s)
	str := strings.TrimSpace(s)
	i := 0
	for i < len(str) && (str[i] >= '0' && str[i] <= '9' || str[i] == '.') {
		i++
	}
	f, err := strconv.ParseFloat(str[:i], 64)
	if err != nil || i == 0 || f < 0 {
		return 0, bad
	}
	rest := strings.ToLower(strings.TrimPrefix(str[i:], " "))
	mult := 1.0
	if rest != "" {
		if exp := strings.IndexByte("kmgtpe", rest[0]); exp >= 0 {
			for range exp + 1 {
				mult *= 1024
			}
			rest = rest[1:]
		}
	}
	rest = strings.TrimPrefix(rest, "i")
	rest = strings.TrimPrefix(rest, "b")
	if rest != "" {
		return 0, bad
	}
	return ByteSize(f * mult), nil
}

// UnmarshalJSON accepts PD's size string, or a plain JSON number of bytes.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		var n uint64
		if err2 := json.Unmarshal(data, &n); err2 != nil {
			return fmt.Errorf("byte size %s: want a string such as \"460.4GiB\"", data)
		}
		*b = ByteSize(n)
		return nil
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Duration is PD's typeutil.Duration, marshalled as a Go duration string ("1h43m51.57s").
type Duration struct{ time.Duration }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("duration %s: want a string such as \"1h43m51.57s\"", data)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// Member is a PD member as in kvproto pdpb.Member (pkg/pdpb/pdpb.pb.go), whose
// JSON tags it copies; pdpb itself pulls in gRPC, so it is mirrored here.
type Member struct {
	Name           string   `json:"name,omitempty"`
	MemberID       uint64   `json:"member_id,omitempty"`
	PeerURLs       []string `json:"peer_urls,omitempty"`
	ClientURLs     []string `json:"client_urls,omitempty"`
	LeaderPriority int32    `json:"leader_priority,omitempty"`
	DeployPath     string   `json:"deploy_path,omitempty"`
	BinaryVersion  string   `json:"binary_version,omitempty"`
	GitHash        string   `json:"git_hash,omitempty"`
	DCLocation     string   `json:"dc_location,omitempty"`
}

// Members is GET /pd/api/v1/members (pdpb.GetMembersResponse; server/api/member.go).
type Members struct {
	Header struct {
		ClusterID uint64 `json:"cluster_id,omitempty"`
	} `json:"header"`
	Members    []Member `json:"members,omitempty"`
	Leader     *Member  `json:"leader,omitempty"`
	EtcdLeader *Member  `json:"etcd_leader,omitempty"`
}

// MemberHealth is one element of GET /pd/api/v1/health (server/api/health.go Health).
type MemberHealth struct {
	Name       string   `json:"name"`
	MemberID   uint64   `json:"member_id"`
	ClientURLs []string `json:"client_urls"`
	Health     bool     `json:"health"`
}

// Version is GET /pd/api/v1/version (server/api/version.go); only version is filled.
type Version struct {
	Version string `json:"version"`
}

// Cluster is GET /pd/api/v1/cluster: metapb.Cluster {"id","max_peer_count"}.
type Cluster = metapb.Cluster

// ReplicationConfig is GET /pd/api/v1/config/replicate (tikv/pd
// pkg/schedule/config/config.go ReplicationConfig), decoded from PD's shapes:
// location-labels is a comma-joined string and the booleans are "true"/"false" strings.
type ReplicationConfig struct {
	MaxReplicas          uint64
	LocationLabels       []string
	StrictlyMatchLabel   bool
	EnablePlacementRules bool
	IsolationLevel       string
}

// UnmarshalJSON decodes PD's JSON shape.
func (r *ReplicationConfig) UnmarshalJSON(data []byte) error {
	var raw struct {
		MaxReplicas          uint64      `json:"max-replicas"`
		LocationLabels       stringSlice `json:"location-labels"`
		StrictlyMatchLabel   stringBool  `json:"strictly-match-label"`
		EnablePlacementRules stringBool  `json:"enable-placement-rules"`
		IsolationLevel       string      `json:"isolation-level"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*r = ReplicationConfig{
		MaxReplicas:          raw.MaxReplicas,
		LocationLabels:       raw.LocationLabels,
		StrictlyMatchLabel:   bool(raw.StrictlyMatchLabel),
		EnablePlacementRules: bool(raw.EnablePlacementRules),
		IsolationLevel:       raw.IsolationLevel,
	}
	return nil
}

// stringSlice is typeutil.StringSlice: a comma-joined JSON string ("" → none).
// A JSON array is accepted too.
type stringSlice []string

func (s *stringSlice) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		*s = nil
		for _, part := range strings.Split(str, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*s = append(*s, part)
			}
		}
		return nil
	}
	var arr []string
	if err := json.Unmarshal(data, &arr); err != nil {
		return fmt.Errorf("location-labels %s: want a comma-joined string", data)
	}
	*s = arr
	return nil
}

// stringBool is a bool PD encodes with the ",string" tag ("true"/"false").
// A JSON boolean is accepted too.
type stringBool bool

func (b *stringBool) UnmarshalJSON(data []byte) error {
	var str string
	if err := json.Unmarshal(data, &str); err == nil {
		v, err := strconv.ParseBool(str)
		if err != nil {
			return fmt.Errorf("boolean %q: want \"true\" or \"false\"", str)
		}
		*b = stringBool(v)
		return nil
	}
	var v bool
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("boolean %s: want \"true\" or \"false\"", data)
	}
	*b = stringBool(v)
	return nil
}

// RegionCheck names a /pd/api/v1/regions/check/{kind} route (server/api/router.go).
type RegionCheck string

// The region checks PD serves.
const (
	CheckMissPeer         RegionCheck = "miss-peer"
	CheckExtraPeer        RegionCheck = "extra-peer"
	CheckPendingPeer      RegionCheck = "pending-peer"
	CheckDownPeer         RegionCheck = "down-peer"
	CheckLearnerPeer      RegionCheck = "learner-peer"
	CheckEmptyRegion      RegionCheck = "empty-region"
	CheckOfflinePeer      RegionCheck = "offline-peer"
	CheckOversizedRegion  RegionCheck = "oversized-region"
	CheckUndersizedRegion RegionCheck = "undersized-region"
)

// RegionChecks lists every RegionCheck.
func RegionChecks() []RegionCheck {
	return []RegionCheck{CheckMissPeer, CheckExtraPeer, CheckPendingPeer, CheckDownPeer,
		CheckLearnerPeer, CheckEmptyRegion, CheckOfflinePeer, CheckOversizedRegion, CheckUndersizedRegion}
}

// Peer is PD's MetaPeer (pkg/response/region.go): metapb.Peer plus role_name.
type Peer struct {
	metapb.Peer
	RoleName  string `json:"role_name"`
	IsLearner bool   `json:"is_learner,omitempty"`
}

// DownPeer is PD's PDPeerStats: a peer and how long it has been down.
type DownPeer struct {
	Peer        Peer   `json:"peer"`
	DownSeconds uint64 `json:"down_seconds,omitempty"`
}

// Region is the subset of PD's RegionInfo (pkg/response/region.go) tikv-ear reads.
type Region struct {
	ID              uint64              `json:"id"`
	StartKey        string              `json:"start_key"`
	EndKey          string              `json:"end_key"`
	Epoch           *metapb.RegionEpoch `json:"epoch,omitempty"`
	Peers           []Peer              `json:"peers,omitempty"`
	Leader          Peer                `json:"leader,omitempty"`
	DownPeers       []DownPeer          `json:"down_peers,omitempty"`
	PendingPeers    []Peer              `json:"pending_peers,omitempty"`
	ApproximateSize int64               `json:"approximate_size"`
	ApproximateKeys int64               `json:"approximate_keys"`
}

// RegionsCheck is the answer of a region check: PD's RegionsInfo {"count","regions"}.
// PD v2.0.0–v2.0.5 answered a bare JSON array of core.RegionInfo instead
// (server/api/region.go: h.rd.JSON(w, http.StatusOK, res) with res the
// []*core.RegionInfo of handler.GetMissPeerRegions; convertToAPIRegions
// wraps it from v2.0.9 on), "[]" or "null" when no region matches;
// UnmarshalJSON reads both.
type RegionsCheck struct {
	Kind    RegionCheck `json:"-"`
	Count   int         `json:"count"`
	Regions []Region    `json:"regions"`
}

// legacyRegion is PD v2.0's core.RegionInfo as encoding/json renders it: the
// embedded metapb.Region's tagged fields, then the untagged Go field names
// (server/core/region.go@v2.0.0: Learners, Voters, Leader, DownPeers,
// PendingPeers, WrittenBytes, ReadBytes, ApproximateSize).
type legacyRegion struct {
	ID              uint64              `json:"id"`
	Epoch           *metapb.RegionEpoch `json:"region_epoch,omitempty"`
	Peers           []Peer              `json:"peers,omitempty"`
	Leader          *Peer               `json:"Leader"`
	DownPeers       []DownPeer          `json:"DownPeers"`
	PendingPeers    []Peer              `json:"PendingPeers"`
	ApproximateSize int64               `json:"ApproximateSize"`
}

// UnmarshalJSON reads PD's RegionsInfo object, or PD v2.0's bare array.
func (r *RegionsCheck) UnmarshalJSON(b []byte) error {
	t := bytes.TrimLeft(b, " \t\r\n")
	if bytes.HasPrefix(t, []byte("null")) || bytes.HasPrefix(t, []byte("[")) {
		var legacy []legacyRegion
		if err := json.Unmarshal(b, &legacy); err != nil {
			return fmt.Errorf("decoding a PD v2.0 region list: %w", err)
		}
		r.Count, r.Regions = len(legacy), make([]Region, 0, len(legacy))
		for _, l := range legacy {
			reg := Region{ID: l.ID, Epoch: l.Epoch, Peers: l.Peers, DownPeers: l.DownPeers, PendingPeers: l.PendingPeers, ApproximateSize: l.ApproximateSize}
			if l.Leader != nil {
				reg.Leader = *l.Leader
			}
			r.Regions = append(r.Regions, reg)
		}
		return nil
	}
	type plain RegionsCheck // no methods: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	p.Kind = r.Kind
	*r = RegionsCheck(p)
	return nil
}

// RegionIDs returns the ids of the listed regions in ascending order.
func (r *RegionsCheck) RegionIDs() []uint64 {
	ids := make([]uint64, 0, len(r.Regions))
	for _, reg := range r.Regions {
		ids = append(ids, reg.ID)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// StoreIDs returns, per store id, how many listed regions have a peer there
// that the check is about: down peers for down-peer, pending peers for
// pending-peer, every peer otherwise.
func (r *RegionsCheck) StoreIDs() map[uint64]int {
	out := map[uint64]int{}
	for _, reg := range r.Regions {
		switch r.Kind {
		case CheckDownPeer:
			for _, p := range reg.DownPeers {
				out[p.Peer.StoreId]++
			}
		case CheckPendingPeer:
			for _, p := range reg.PendingPeers {
				out[p.StoreId]++
			}
		default:
			for _, p := range reg.Peers {
				out[p.StoreId]++
			}
		}
	}
	return out
}

// evictLeaderList is GET /pd/api/v1/scheduler-config/evict-leader-scheduler/list
// (pkg/schedule/schedulers/evict_leader.go evictLeaderSchedulerConfig).
type evictLeaderList struct {
	StoreIDWithRanges map[string]json.RawMessage `json:"store-id-ranges"`
	Batch             int                        `json:"batch"`
}
