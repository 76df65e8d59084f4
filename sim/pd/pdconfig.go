package pd

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// ScheduleConfig is the subset of pkg/schedule/config/config.go ScheduleConfig
// the sim serves, with upstream JSON tags and defaults (booleans tagged
// ",string" marshal as "true"/"false").
type ScheduleConfig struct {
	MaxSnapshotCount                             uint64              `json:"max-snapshot-count"`
	MaxPendingPeerCount                          uint64              `json:"max-pending-peer-count"`
	MaxMergeRegionSize                           uint64              `json:"max-merge-region-size"`
	MaxMergeRegionKeys                           uint64              `json:"max-merge-region-keys"`
	SplitMergeInterval                           Duration            `json:"split-merge-interval"`
	SwitchWitnessInterval                        Duration            `json:"switch-witness-interval"`
	EnableOneWayMerge                            bool                `json:"enable-one-way-merge,string"`
	EnableCrossTableMerge                        bool                `json:"enable-cross-table-merge,string"`
	PatrolRegionInterval                         Duration            `json:"patrol-region-interval"`
	MaxStoreDownTime                             Duration            `json:"max-store-down-time"`
	MaxStorePreparingTime                        Duration            `json:"max-store-preparing-time"`
	LeaderScheduleLimit                          uint64              `json:"leader-schedule-limit"`
	LeaderSchedulePolicy                         string              `json:"leader-schedule-policy"`
	RegionScheduleLimit                          uint64              `json:"region-schedule-limit"`
	WitnessScheduleLimit                         uint64              `json:"witness-schedule-limit"`
	ReplicaScheduleLimit                         uint64              `json:"replica-schedule-limit"`
	MergeScheduleLimit                           uint64              `json:"merge-schedule-limit"`
	HotRegionScheduleLimit                       uint64              `json:"hot-region-schedule-limit"`
	HotRegionCacheHitsThreshold                  uint64              `json:"hot-region-cache-hits-threshold"`
	StoreLimit                                   map[uint64]struct{} `json:"store-limit"`
	TolerantSizeRatio                            float64             `json:"tolerant-size-ratio"`
	LowSpaceRatio                                float64             `json:"low-space-ratio"`
	HighSpaceRatio                               float64             `json:"high-space-ratio"`
	RegionScoreFormulaVersion                    string              `json:"region-score-formula-version"`
	SchedulerMaxWaitingOperator                  uint64              `json:"scheduler-max-waiting-operator"`
	EnableRemoveDownReplica                      bool                `json:"enable-remove-down-replica,string"`
	EnableReplaceOfflineReplica                  bool                `json:"enable-replace-offline-replica,string"`
	EnableMakeUpReplica                          bool                `json:"enable-make-up-replica,string"`
	EnableRemoveExtraReplica                     bool                `json:"enable-remove-extra-replica,string"`
	EnableLocationReplacement                    bool                `json:"enable-location-replacement,string"`
	EnableDebugMetrics                           bool                `json:"enable-debug-metrics,string"`
	EnableJointConsensus                         bool                `json:"enable-joint-consensus,string"`
	EnableTiKVSplitRegion                        bool                `json:"enable-tikv-split-region,string"`
	EnableHeartbeatBreakdownMetrics              bool                `json:"enable-heartbeat-breakdown-metrics,string"`
	EnableHeartbeatConcurrentRunner              bool                `json:"enable-heartbeat-concurrent-runner,string"`
	HotRegionsWriteInterval                      Duration            `json:"hot-regions-write-interval"`
	HotRegionsReservedDays                       uint64              `json:"hot-regions-reserved-days"`
	MaxMovableHotPeerSize                        int64               `json:"max-movable-hot-peer-size,omitempty"`
	EnableDiagnostic                             bool                `json:"enable-diagnostic,string"`
	EnableWitness                                bool                `json:"enable-witness,string"`
	SlowStoreEvictingAffectedStoreRatioThreshold float64             `json:"slow-store-evicting-affected-store-ratio-threshold,omitempty"`
	StoreLimitVersion                            string              `json:"store-limit-version,omitempty"`
	PatrolRegionWorkerCount                      int                 `json:"patrol-region-worker-count"`
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

// fullConfig is the part of server/config/config.go Config that GET /config serves.
type fullConfig struct {
	Name           string            `json:"name"`
	ClientUrls     string            `json:"client-urls"`
	Schedule       ScheduleConfig    `json:"schedule"`
	Replication    ReplicationConfig `json:"replication"`
	ClusterVersion string            `json:"cluster-version"`
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
		StoreLimit:                                   map[uint64]struct{}{},
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
