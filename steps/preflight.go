package steps

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Check statuses.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
)

// Check is one preflight result: what was checked, the verdict, why, and the fix.
type Check struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	StoreID uint64 `json:"store_id,omitempty"`
	// Stores are the stores a cluster-wide check names (stores-up: every
	// store not Up), for callers that act on them without reading Message.
	Stores  []uint64 `json:"stores,omitempty"`
	Message string   `json:"message"`
	Fix     string   `json:"fix,omitempty"`
}

// HostFacts is what preflight learned on one TiKV host.
type HostFacts struct {
	Reachable      bool
	Err            string // why the host could not be inspected
	AESNI          *bool  // "aes" in /proc/cpuinfo flags
	FreeBytes      int64  // free space under the data dir (-1 unknown)
	Config         []byte // tikv.toml as read (nil when it could not be read or does not exist)
	ConfigTiUP     bool   // tikv.toml carries TiUP's generated header
	ConfigErr      string // tikv.toml did not parse
	Current        tikv.Encryption
	ConfigCheck    string // output of tikv-server --config-check when the binary exists
	ConfigCheckOK  *bool
	RaftEngineData bool // raft-engine directory holds files
	KeyDictExists  bool
	StatusErr      string // the status port did not answer: the store is not serving
}

// Facts is everything preflight reads; gathering it is separate so checks are pure.
type Facts struct {
	Plan           *Plan
	Stores         []Store
	StoresErr      string
	Health         RegionHealth
	HealthErr      string
	MaxReplicas    int
	LocationLabels []string
	EvictStores    []uint64
	Hosts          map[uint64]HostFacts
	KeyChecks      []Check // from the key backend (operator machine and hosts)
	Rotation       bool    // a master-key rotation (previous-master-key set)
	// Desired is the [security.encryption] the run writes; when set, stores
	// already encrypted under another master key are caught before any restart.
	Desired *tikv.Encryption
	// Signer is the [report] signer check (SignerCheck).
	Signer *Check
}

// MinFreeBytes is the free space preflight wants under each data dir: TiKV
// rewrites file.dict and key.dict and compaction rewrites SSTs.
const MinFreeBytes = 1 << 30

// StoresUpCheck is the stores-up check: every store PD lists (Tombstones
// aside) must be Up before a rolling restart. The plan's preflight and the
// wizard's first look use it both.
func StoresUpCheck(stores []Store) Check {
	var notUp []string
	var notUpIDs, removing []uint64
	for _, s := range stores {
		if s.StateName != "Up" && s.StateName != "Tombstone" {
			notUp = append(notUp, fmt.Sprintf("store %d (%s) is %s", s.ID, s.Address, s.StateName))
			notUpIDs = append(notUpIDs, s.ID)
		}
		if s.StateName == "Offline" {
			removing = append(removing, s.ID)
		}
	}
	if len(notUp) == 0 {
		return Check{ID: "stores-up", Status: Pass, Message: fmt.Sprintf("all %d stores are Up", len(stores))}
	}
	fix := "bring every store Up before a rolling restart: a restart next to a down store can cost regions their quorum"
	if len(removing) > 0 {
		// An Offline store is being removed: PD moves its regions away and
		// buries it at none (Tombstone); the removal can be cancelled
		// (tikv/pd @ a186e0cc server/api/store.go SetStoreState state=Up;
		// pd-ctl store cancel-delete since v6.2).
		fix = fmt.Sprintf("store %d is being removed (Offline): wait until PD makes it Tombstone, or cancel the removal (pd-ctl store cancel-delete %d, or POST /pd/api/v1/store/%d/state?state=Up), then make the plan again", removing[0], removing[0], removing[0])
	}
	return Check{ID: "stores-up", Status: Fail, Stores: notUpIDs, Message: strings.Join(notUp, "; "), Fix: fix}
}

// RunPreflight applies every check to the facts. It changes nothing anywhere.
func RunPreflight(f Facts) []Check {
	var out []Check
	add := func(c Check) { out = append(out, c) }
	p := f.Plan

	// Cluster health (PD).
	if f.StoresErr != "" {
		add(Check{ID: "pd-stores", Status: Fail, Message: "cannot read stores from PD: " + f.StoresErr, Fix: "check the PD endpoints (--pd) and TLS files"})
	} else {
		add(StoresUpCheck(f.Stores))
		known := map[uint64]bool{}
		for _, s := range f.Stores {
			known[s.ID] = true
		}
		for _, n := range p.Nodes {
			if !known[n.StoreID] {
				add(Check{ID: "plan-store-known", Status: Fail, StoreID: n.StoreID, Message: fmt.Sprintf("the plan names store %d (%s), which PD does not list", n.StoreID, n.Address), Fix: "re-create the plan with 'tikv-ear plan' against this cluster"})
			}
		}
	}
	if f.HealthErr != "" {
		add(Check{ID: "region-health", Status: Fail, Message: "cannot read region health from PD: " + f.HealthErr})
	} else if !f.Health.Clean() {
		add(Check{ID: "region-health", Status: Fail, Message: fmt.Sprintf("PD reports %d miss-peer, %d pending-peer, %d down-peer and %d offline-peer regions", f.Health.MissPeer, f.Health.PendingPeer, f.Health.DownPeer, f.Health.OfflinePeer), Fix: "wait for PD to repair the regions (pd-ctl region check miss-peer / pending-peer / down-peer)"})
	} else {
		add(Check{ID: "region-health", Status: Pass, Message: "no missing, pending, down or offline peers"})
	}
	if f.HealthErr == "" && f.Health.StaleOfflinePeer > 0 {
		add(Check{ID: "offline-peer-stale", Status: Warn, Message: fmt.Sprintf("PD still flags %d region(s) offline-peer although none has a peer on an Offline store: PD recounts the flag only when a region's heartbeat changes it, so idle regions keep it after a store's removal was cancelled", f.Health.StaleOfflinePeer),
			Fix: "nothing blocks the run; the flag clears when those regions see writes or a leader move"})
	}
	switch {
	case f.MaxReplicas == 0:
	case f.MaxReplicas < 3:
		add(Check{ID: "max-replicas", Status: Fail, Message: fmt.Sprintf("max-replicas is %d: restarting any store costs its regions their quorum", f.MaxReplicas), Fix: "raise max-replicas to 3 (pd-ctl config set max-replicas 3) before a rolling restart"})
	default:
		add(Check{ID: "max-replicas", Status: Pass, Message: fmt.Sprintf("max-replicas is %d", f.MaxReplicas)})
	}
	zones := map[string]int{}
	for _, n := range p.Nodes {
		zones[n.Zone]++
	}
	if len(zones) >= 3 && zones[""] == 0 {
		add(Check{ID: "zones", Status: Pass, Message: fmt.Sprintf("stores spread over %d zones", len(zones))})
	} else {
		add(Check{ID: "zones", Status: Warn, Message: fmt.Sprintf("stores are in %d zone(s); zone batching is not possible", len(zones)), Fix: "label stores with zone (location-labels) for zone batches"})
	}
	if len(f.EvictStores) > 0 {
		ids := make([]string, len(f.EvictStores))
		for i, id := range f.EvictStores {
			ids[i] = fmt.Sprint(id)
		}
		add(Check{ID: "no-evict-scheduler", Status: Fail, Message: "an evict-leader scheduler already covers store(s) " + strings.Join(ids, ", ") + " (a failed earlier run?)",
			Fix: "if it is tikv-ear's, run 'tikv-ear apply --abort plan.toml'; otherwise remove it with pd-ctl scheduler remove evict-leader-scheduler-<id>"})
	} else {
		add(Check{ID: "no-evict-scheduler", Status: Pass, Message: "no evict-leader scheduler present"})
	}

	// Per node.
	for _, n := range p.Nodes {
		out = append(out, nodeChecks(p, n, f.Hosts[n.StoreID], f.Rotation)...)
		if f.Desired != nil {
			out = append(out, masterKeyChangeCheck(n, f.Hosts[n.StoreID], *f.Desired)...)
		}
	}
	out = append(out, f.KeyChecks...)
	if f.Signer != nil {
		out = append(out, *f.Signer)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Status) > rank(out[j].Status) })
	return out
}

func rank(s string) int {
	switch s {
	case Fail:
		return 2
	case Warn:
		return 1
	}
	return 0
}

func nodeChecks(p *Plan, n NodePlan, h HostFacts, rotation bool) []Check {
	var out []Check
	add := func(status, id, msg, fix string) {
		out = append(out, Check{ID: id, Status: status, StoreID: n.StoreID, Message: msg, Fix: fix})
	}
	v, err := tikv.ParseVersion(n.Version)
	if err != nil {
		add(Fail, "version", fmt.Sprintf("store %d reports version %q: %v", n.StoreID, n.Version, err), "check PD's store version field")
		return out
	}
	enabling := p.Target.Method != tikv.MethodPlaintext
	switch {
	case v.Less(gateEncryption):
		add(Fail, "version-encryption", fmt.Sprintf("TiKV %s has no encryption at rest (new in v4.0.0)", v), "upgrade TiKV")
	case enabling && tikv.RaftEngineNonceBug(v) && (n.RaftEngine || h.RaftEngineData) && !h.KeyDictExists:
		add(Fail, "raft-engine-nonce-bug", fmt.Sprintf("TiKV %s crashes at start when encryption is turned on for a node whose Raft Engine holds plaintext files: \"failed to open raft engine: … %s\" (tikv/tikv#12162, #12919)", v, tikv.ErrRaftEngineNonce),
			"upgrade to v6.2.0 or later first (no 6.1.x release is fixed)")
	default:
		add(Pass, "version", fmt.Sprintf("TiKV %s supports the plan", v), "")
	}
	if tikv.RaftEngineKeyLeakBug(v) && enabling {
		add(Warn, "raft-engine-key-leak", fmt.Sprintf("TiKV %s never cleans Raft Engine WAL file keys: file.dict grows until the node cannot boot (tikv/tikv#12890)", v), "upgrade to v6.1.1 / v6.2.0 or later")
	}
	if tikv.RaftLogMetaRaceBug(v) && enabling {
		add(Warn, "raft-log-meta-race", fmt.Sprintf("TiKV %s can fail to boot after a race deleting encryption metadata and a raft log file (tikv/tikv#14761)", v), "upgrade to v6.1.7, v6.5.3, v7.1.1, v7.2.0 or later")
	}
	if p.Target.Method == tikv.MethodSM4CTR {
		if v.Less(gateSM4) {
			add(Fail, "sm4-version", fmt.Sprintf("sm4-ctr needs TiKV v6.3.0 or later; store runs %s", v), "use aes256-ctr or upgrade")
		} else {
			add(Warn, "sm4-build", "sm4-ctr only works on TiKV built with statically linked OpenSSL; others fail with \""+tikv.ErrSM4Dynamic+"\"; throughput can drop 50%–80%", "confirm the build (official PingCAP binaries), or use aes256-ctr")
		}
	}
	switch p.Target.Key.Backend {
	case "azure":
		if v.Less(gateAzure) {
			add(Fail, "azure-version", fmt.Sprintf("Azure Key Vault master keys need TiKV v7.2.0 or later; store runs %s", v), "upgrade, or use another backend")
		}
	case "gcp":
		if v.Less(gateGCP) {
			add(Fail, "gcp-version", fmt.Sprintf("GCP KMS master keys need TiKV v8.0.0 or later; store runs %s", v), "upgrade, or use another backend")
		} else {
			add(Warn, "gcp-experimental", "GCP KMS support is experimental upstream (v8.0.0 release notes)", "")
		}
	case "aws":
		if tikv.KMSFirstAccessBug(v) {
			add(Warn, "kms-first-access", fmt.Sprintf("TiKV %s can leave a corrupt dictionary and crash-loop when the first KMS access fails (tikv/tikv#9488)", v), "check KMS reachability from every host first, or upgrade to v5.0.0+")
		}
	}
	if rotation && p.Target.PreviousMasterKey != nil && isKMS(p.Target.PreviousMasterKey.Backend) && isKMS(p.Target.Key.Backend) {
		if tikv.KMSRotationBug(v) {
			add(Fail, "kms-rotation-bug", fmt.Sprintf("KMS→KMS master-key rotation fails on TiKV %s (\"decrypt encrypted key failed\", tikv/tikv#17410)", v), "upgrade to "+tikv.KMSRotationFixVersions+", or rotate through a file key")
		}
		if p.Target.PreviousMasterKey.Backend != p.Target.Key.Backend {
			add(Fail, "kms-cross-vendor", "a rotation from one KMS vendor to another fails at start: TiKV reports a vendor mismatch instead of falling back to the previous key (reference §2.2)", "rotate in two steps through a file key")
		}
	}
	if !h.Reachable {
		add(Fail, "host", fmt.Sprintf("cannot inspect %s: %s", n.Host, h.Err), "check SSH access (ssh_config, known_hosts, key)")
		return out
	}
	if h.ConfigErr != "" {
		add(Fail, "config-parse", h.ConfigErr, "fix the file, then plan again")
	}
	if h.StatusErr != "" {
		add(Fail, "store-serving", fmt.Sprintf("store %d's status port %s does not answer (%s): the store is not serving, whatever PD shows for its heartbeat window", n.StoreID, n.StatusAddress, h.StatusErr),
			"bring the store back first ('systemctl status "+serviceOrCommand(n)+"' on "+n.Host+"): restarting its neighbours now could cost regions their quorum")
	}
	if h.AESNI != nil && !*h.AESNI && strings.HasPrefix(p.Target.Method, "aes") {
		add(Warn, "aes-ni", fmt.Sprintf("%s has no AES-NI (no \"aes\" flag in /proc/cpuinfo): AES-CTR will cost noticeably more CPU", n.Host), "")
	} else if h.AESNI != nil && *h.AESNI {
		add(Pass, "aes-ni", "AES-NI present", "")
	}
	if h.FreeBytes >= 0 && h.FreeBytes < MinFreeBytes {
		add(Fail, "disk-space", fmt.Sprintf("only %d MiB free under %s", h.FreeBytes>>20, n.DataDir), "free space before enabling: TiKV rewrites its dictionaries and compaction rewrites SSTs")
	}
	if n.TiUPManaged || h.ConfigTiUP {
		add(Warn, "tiup-managed", fmt.Sprintf("%s is generated by TiUP: 'tiup cluster reload' would overwrite a hand edit", n.ConfigPath), "tikv-ear also writes the keys into meta.yaml server_configs.tikv (cluster.meta-yaml) so TiUP keeps them")
	}
	if h.ConfigCheckOK != nil && !*h.ConfigCheckOK {
		add(Fail, "config-check", "tikv-server --config-check failed: "+h.ConfigCheck, "fix the config it names")
	}
	if h.Current.EnableFileDictionaryLog != nil && !*h.Current.EnableFileDictionaryLog {
		add(Warn, "file-dictionary-log", "enable-file-dictionary-log is false: file.dict is rewritten whole on every change (slow with many files; tikv/tikv#8916)", "keep it true unless you must downgrade below v4.0.9")
	}
	return out
}

func isKMS(backend string) bool { return backend == "aws" || backend == "gcp" || backend == "azure" }

// Blocking returns the failed checks.
func Blocking(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// masterKeyChangeCheck refuses to replace the master key of a store that already
// uses another one unless the old key is kept as previous-master-key: TiKV
// could not open key.dict and would fail with BothMasterKeyFail (reference §2.2).
func masterKeyChangeCheck(n NodePlan, h HostFacts, desired tikv.Encryption) []Check {
	cur := h.Current.MasterKey
	if !h.Reachable || cur.EffectiveType() == tikv.MasterKeyPlaintext || sameKey(cur, desired.MasterKey) || sameKey(cur, desired.PreviousMasterKey) {
		return nil
	}
	return []Check{{ID: "master-key-change", Status: Fail, StoreID: n.StoreID,
		Message: fmt.Sprintf("store %d is encrypted under another master key (%s); switching without keeping it as previous-master-key fails at start with %s", n.StoreID, describeKey(cur), tikv.CodeBothMasterKeyFail),
		Fix:     "change master keys with 'tikv-ear rotate', which keeps the old key as previous-master-key until every store re-encrypted its key.dict"}}
}

func describeKey(k tikv.MasterKey) string {
	switch k.EffectiveType() {
	case tikv.MasterKeyFile:
		return "file " + k.Path
	case tikv.MasterKeyKMS:
		return "kms " + k.Vendor + " " + k.KeyID
	}
	return k.EffectiveType()
}
