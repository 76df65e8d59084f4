package pd

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// ScheduleConfig is the subset of pkg/schedule/config/config.go ScheduleConfig
// the sim serves, with upstream JSON tags and defaults (booleans tagged
// ",string" marshal as "true"/"false").
type ScheduleConfig struct {
	MaxSnapshotCount                             uint64                `json:"max-snapshot-count"`
	MaxPendingPeerCount                          uint64                `json:"max-pending-peer-count"`
	MaxMergeRegionSize                           uint64                `json:"max-merge-region-size"`
	MaxMergeRegionKeys                           uint64                `json:"max-merge-region-keys"`
	SplitMergeInterval                           Duration              `json:"split-merge-interval"`
	SwitchWitnessInterval                        Duration              `json:"switch-witness-interval"`
	EnableOneWayMerge                            bool                  `json:"enable-one-way-merge,string"`
	EnableCrossTableMerge                        bool                  `json:"enable-cross-table-merge,string"`
	PatrolRegionInterval                         Duration              `json:"patrol-region-interval"`
	MaxStoreDownTime                             Duration              `json:"max-store-down-time"`
	MaxStorePreparingTime                        Duration              `json:"max-store-preparing-time"`
	LeaderScheduleLimit                          uint64                `json:"leader-schedule-limit"`
	LeaderSchedulePolicy                         string                `json:"leader-schedule-policy"`
	RegionScheduleLimit                          uint64                `json:"region-schedule-limit"`
	WitnessScheduleLimit                         uint64                `json:"witness-schedule-limit"`
	ReplicaScheduleLimit                         uint64                `json:"replica-schedule-limit"`
	MergeScheduleLimit                           uint64                `json:"merge-schedule-limit"`
	HotRegionScheduleLimit                       uint64                `json:"hot-region-schedule-limit"`
	HotRegionCacheHitsThreshold                  uint64                `json:"hot-region-cache-hits-threshold"`
	AffinityScheduleLimit                        uint64                `json:"affinity-schedule-limit"`
	SplitScatterScheduleLimit                    uint64                `json:"split-scatter-schedule-limit"`
	DefaultStoreLimit                            StoreLimit            `json:"default-store-limit"`
	StoreLimit                                   map[uint64]StoreLimit `json:"store-limit"`
	TolerantSizeRatio                            float64               `json:"tolerant-size-ratio"`
	LowSpaceRatio                                float64               `json:"low-space-ratio"`
	HighSpaceRatio                               float64               `json:"high-space-ratio"`
	RegionScoreFormulaVersion                    string                `json:"region-score-formula-version"`
	SchedulerMaxWaitingOperator                  uint64                `json:"scheduler-max-waiting-operator"`
	EnableRemoveDownReplica                      bool                  `json:"enable-remove-down-replica,string"`
	EnableReplaceOfflineReplica                  bool                  `json:"enable-replace-offline-replica,string"`
	EnableMakeUpReplica                          bool                  `json:"enable-make-up-replica,string"`
	EnableRemoveExtraReplica                     bool                  `json:"enable-remove-extra-replica,string"`
	EnableLocationReplacement                    bool                  `json:"enable-location-replacement,string"`
	EnableDebugMetrics                           bool                  `json:"enable-debug-metrics,string"`
	EnableJointConsensus                         bool                  `json:"enable-joint-consensus,string"`
	EnableTiKVSplitRegion                        bool                  `json:"enable-tikv-split-region,string"`
	EnableHeartbeatBreakdownMetrics              bool                  `json:"enable-heartbeat-breakdown-metrics,string"`
	EnableHeartbeatConcurrentRunner              bool                  `json:"enable-heartbeat-concurrent-runner,string"`
	HotRegionsWriteInterval                      Duration              `json:"hot-regions-write-interval"`
	HotRegionsReservedDays                       uint64                `json:"hot-regions-reserved-days"`
	MaxMovableHotPeerSize                        int64                 `json:"max-movable-hot-peer-size,omitempty"`
	EnableDiagnostic                             bool                  `json:"enable-diagnostic,string"`
	EnableWitness                                bool                  `json:"enable-witness,string"`
	SlowStoreEvictingAffectedStoreRatioThreshold float64               `json:"slow-store-evicting-affected-store-ratio-threshold,omitempty"`
	StoreLimitVersion                            string                `json:"store-limit-version,omitempty"`
	PatrolRegionWorkerCount                      int                   `json:"patrol-region-worker-count"`
	SchedulersV2                                 []SchedulerConfig     `json:"schedulers-v2"`
	MaxAffinityMergeRegionSize                   uint64                `json:"max-affinity-merge-region-size"`
}

// StoreLimit is pkg/schedule/config/config.go StoreLimitConfig.
type StoreLimit struct {
	AddPeer    float64 `json:"add-peer"`
	RemovePeer float64 `json:"remove-peer"`
}

// defaultStoreLimit is 15 peers a minute each way (pkg/core/storelimit
// DefaultAddPeer / DefaultRemovePeer; GET /config/schedule of pd-server a186e0cc).
var defaultStoreLimit = StoreLimit{AddPeer: 15, RemovePeer: 15}

// SchedulerConfig is pkg/schedule/config/config.go SchedulerConfig: one
// persisted scheduler in schedule.schedulers-v2.
type SchedulerConfig struct {
	Type        string   `json:"type"`
	Args        []string `json:"args"`
	Disable     bool     `json:"disable"`
	ArgsPayload string   `json:"args-payload"`
}

// ReplicationConfig is pkg/schedule/config/config.go ReplicationConfig.
type ReplicationConfig struct {
	MaxReplicas               uint64      `json:"max-replicas"`
	LocationLabels            StringSlice `json:"location-labels"`
	StrictlyMatchLabel        bool        `json:"strictly-match-label,string"`
	EnablePlacementRules      bool        `json:"enable-placement-rules,string"`
	EnablePlacementRulesCache bool        `json:"enable-placement-rules-cache,string"`
	IsolationLevel            string      `json:"isolation-level"`
}

// pdConfigDefaults is GET /pd/api/v1/config of a default pd-server (tikv/pd
// @ a186e0cc, server/config/config.go Config) with its host-specific values
// blanked; the sim serves it with its own member, schedule and replication
// values laid over it, so every section PD has is there.
//
//go:embed pdconfig-a186e0cc.json
var pdConfigDefaults []byte

// fullConfig builds GET /config for one member: the defaults above with the
// sim's values laid over them.
func fullConfig(name, clientURL, peerURL string, sc ScheduleConfig, rc ReplicationConfig, clusterVersion string) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal(pdConfigDefaults, &out); err != nil {
		return nil, fmt.Errorf("pd config defaults: %w", err)
	}
	var sec [2]any
	for i, v := range []any{sc, rc} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &sec[i]); err != nil {
			return nil, err
		}
	}
	for k, v := range map[string]any{
		"name": name, "client-urls": clientURL, "advertise-client-urls": clientURL,
		"peer-urls": peerURL, "advertise-peer-urls": peerURL, "initial-cluster": name + "=" + peerURL,
		"data-dir": "default." + name, // server/config/config.go Adjust: data-dir default "default.${name}"
		"schedule": sec[0], "replication": sec[1], "cluster-version": clusterVersion,
	} {
		out[k] = v
	}
	return out, nil
}

// defaultScheduleConfig holds the defaults of pkg/schedule/config/config.go (Adjust).
func defaultScheduleConfig(maxStoreDownTime Duration) ScheduleConfig {
	return ScheduleConfig{
		MaxSnapshotCount:                             64,     // defaultMaxSnapshotCount
		MaxPendingPeerCount:                          64,     // defaultMaxPendingPeerCount
		MaxMergeRegionSize:                           54,     // defaultMaxMergeRegionSize
		MaxMergeRegionKeys:                           540000, // MaxMergeRegionSize * RegionSizeToKeysRatio
		SplitMergeInterval:                           Duration{3600e9},
		SwitchWitnessInterval:                        Duration{3600e9},
		EnableCrossTableMerge:                        true,
		PatrolRegionInterval:                         Duration{10e6},
		MaxStoreDownTime:                             maxStoreDownTime,
		MaxStorePreparingTime:                        Duration{48 * 3600e9},
		LeaderScheduleLimit:                          4, // defaultLeaderScheduleLimit
		LeaderSchedulePolicy:                         "count",
		RegionScheduleLimit:                          2048,
		WitnessScheduleLimit:                         4,
		ReplicaScheduleLimit:                         64,
		MergeScheduleLimit:                           8,
		HotRegionScheduleLimit:                       4,
		HotRegionCacheHitsThreshold:                  3,
		AffinityScheduleLimit:                        0, // GET /config/schedule, pd-server a186e0cc
		SplitScatterScheduleLimit:                    4, // defaultSplitScatterScheduleLimit
		DefaultStoreLimit:                            defaultStoreLimit,
		StoreLimit:                                   map[uint64]StoreLimit{},
		MaxAffinityMergeRegionSize:                   256, // GET /config/schedule, pd-server a186e0cc
		LowSpaceRatio:                                0.8,
		HighSpaceRatio:                               0.7,
		RegionScoreFormulaVersion:                    "v2",
		SchedulerMaxWaitingOperator:                  5,
		EnableRemoveDownReplica:                      true,
		EnableReplaceOfflineReplica:                  true,
		EnableMakeUpReplica:                          true,
		EnableRemoveExtraReplica:                     true,
		EnableLocationReplacement:                    true,
		EnableJointConsensus:                         true,
		EnableTiKVSplitRegion:                        true,
		EnableHeartbeatBreakdownMetrics:              true,
		EnableHeartbeatConcurrentRunner:              true,
		HotRegionsWriteInterval:                      Duration{600e9},
		HotRegionsReservedDays:                       7,
		MaxMovableHotPeerSize:                        512,
		EnableDiagnostic:                             true,
		SlowStoreEvictingAffectedStoreRatioThreshold: 0.3,
		StoreLimitVersion:                            "v1",
		PatrolRegionWorkerCount:                      1,
	}
}

// jsonTags lists the JSON names of a struct type's fields.
func jsonTags(t reflect.Type) map[string]bool {
	tags := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			tags[name] = true
		}
	}
	return tags
}

// mergeItem sets one item of a config section the way server/api/config.go
// updateSchedule/mergeConfig does: marshal {key: value} and unmarshal it over
// the section; an unknown key is "config item %s not found".
func mergeItem(section any, key string, value any) error {
	if !jsonTags(reflect.TypeOf(section).Elem())[key] {
		return fmt.Errorf("config item %s not found", key)
	}
	data, err := json.Marshal(map[string]any{key: value})
	if err != nil {
		return err
	}
	return json.Unmarshal(data, section)
}

// setConfigItem applies one key of POST /config, flat ("leader-schedule-limit")
// or dotted ("schedule.leader-schedule-limit"), as server/api/config.go SetConfig does.
func setConfigItem(s *ScheduleConfig, r *ReplicationConfig, key string, value any) error {
	if prefix, item, dotted := strings.Cut(key, "."); dotted {
		kp := strings.Split(item, ".")
		item = kp[len(kp)-1]
		switch prefix {
		case "schedule":
			return mergeItem(s, item, value)
		case "replication":
			return mergeItem(r, item, value)
		}
		return fmt.Errorf("config prefix %s not found", prefix)
	}
	// reflectutil.FindJSONFullTagByChildTag: the first section holding the tag.
	switch {
	case jsonTags(reflect.TypeOf(*s))[key]:
		return mergeItem(s, key, value)
	case jsonTags(reflect.TypeOf(*r))[key]:
		return mergeItem(r, key, value)
	}
	return fmt.Errorf("config item %s not found", key)
}
