package report

import (
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// t0 is in a non-UTC zone on purpose: Canonical must convert it.
var t0 = time.Date(2026, 11, 27, 21, 0, 0, 0, time.FixedZone("CST", 8*3600))

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// sampleReport is a full rotate report over two stores.
func sampleReport() *Report {
	r := New(KindRotate, at(0))
	r.RunID = "run-20261127-1"
	r.Outcome = OutcomeSucceeded
	r.FinishedAt = at(30)
	r.Cluster = Cluster{PDClusterID: "7293847561234567890", PDEndpoints: []string{"http://10.0.0.1:2379"}, TiUPName: "prod-a", TiKVVersions: []string{"v8.5.1"}}
	r.Operator = "alice"
	r.Tool = Tool{Name: "tikv-ear", Version: "v0.1.0", Commit: "abc1234"}
	r.PlanDigest = Digest([]byte("plan.toml contents"))
	fp := Fingerprint([]byte("master key v2 bytes"))
	proven := verdict.Prove("the run's verification rules passed on this store after its restart")
	for i, addr := range []string{"10.0.0.11:20160", "10.0.0.12:20160"} {
		id := uint64(i + 1)
		before := StoreState{Version: "v8.5.1", ConfigDigest: Digest([]byte(addr + "before")), Method: tikv.MethodAES256CTR, DataKeyRotationPeriod: "7d",
			MasterKey: MasterKeyFromConfig(tikv.MasterKey{Type: "file", Path: "/run/tikv-ear/master.key"}, "1", Fingerprint([]byte("master key v1 bytes")))}
		after := before
		after.ConfigDigest = Digest([]byte(addr + "after"))
		after.MasterKey = MasterKeyFromConfig(tikv.MasterKey{Type: "file", Path: "/run/tikv-ear/master.key"}, "2", fp)
		r.Stores = append(r.Stores, Store{
			ID: id, Address: addr, Zone: []string{"z1", "z2"}[i], Before: before, After: after,
			Verification: Verification{
				Verdict:  &proven,
				LogLines: []LogLine{{Time: at(5 + 10*i), Level: "INFO", Message: tikvlog.MsgEnabled.Format("Aes256Ctr"), Catalog: tikvlog.MsgEnabled.Name}},
				Metrics:  []Metric{{Name: tikv.MetricIsInitialized, Value: "1"}, {Name: tikv.MetricRegionCount, Labels: map[string]string{tikv.LabelType: "leader"}, Value: "42"}},
				Leaders:  42,
				KeyDict:  &KeyDict{Method: tikv.MetadataMethodAES256GCM, DataKeys: 3, CurrentDataKeyID: "3"},
				Coverage: &Coverage{FilesEncrypted: 120, FilesPlaintext: 0, BytesEncrypted: 1 << 30, Note: "CURRENT is always plaintext and not counted"},
				KeyFile:  &KeyFile{Path: "/run/tikv-ear/master.key", Mode: "0400", Owner: "tidb", FSType: "tmpfs"},
			},
		})
		for j, ph := range []string{"evict", "restart", "verify", "settle"} {
			r.Timeline = append(r.Timeline, Event{At: at(2 + 10*i + 2*j), Store: id, Phase: ph, Status: "ok"})
		}
	}
	r.Timeline = append([]Event{{At: at(0), Phase: "preflight", Status: "ok", Detail: "3 PD members healthy"}}, r.Timeline...)
	r.Timeline = append(r.Timeline, Event{At: at(25), Phase: "finalize", Status: "ok",
		Decision: &Decision{Question: "Remove previous-master-key now?", Options: []string{"yes", "later"}, Choice: "yes", DecidedBy: DecidedByPolicy}})
	r.Faults = []Fault{{At: at(7), Store: 1, Kind: "slow-start", Message: "store 1 not Up after 60s", Resolution: "waited; Up after 95s", ResolvedAt: at(9)}}
	r.Schedule = &Schedule{MasterKeyPeriodDays: 365, DataKeyRotationPeriod: "7d", SigningKeyPeriodDays: 730,
		LastMasterKeyRotation: at(20), NextDue: at(20).AddDate(0, 0, 365), Mechanism: "systemd"}
	r.Keys = []KeyEvidence{
		{Role: "master-key", Backend: "vault-transit", KeyID: "transit/keys/tikv-master", LatestVersion: "2", MinDecryptionVersion: "2",
			Versions: []KeyVersion{{Version: "1", CreatedAt: at(0).AddDate(-1, 0, 0)}, {Version: "2", CreatedAt: at(1)}},
			State:    "active", RotationStatus: RotationDisabled, TokenAccessor: "8609694a-cdbc-db9b-d345-e782dbb562ed",
			KEK: &KEKEvidence{Key: "transit/keys/tikv-prod-a-kek", Type: "aes256-gcm96", LatestVersion: "3", MinDecryptionVersion: "2", WrappedWith: "3"}},
		{Role: "signing-key", Backend: "file", KeyID: "sha256:" + "ab" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd",
			Versions: []KeyVersion{{Version: "1", CreatedAt: at(0).AddDate(-2, 0, -10)}}, LatestVersion: "1"},
	}
	r.Findings = []Finding{
		{Severity: SeverityInfo, Message: "data keys rotate every 7d (TiKV default)"},
		{Severity: SeverityHigh, Store: 0, Message: "report signing key is older than its 730-day period", Fix: "tikv-ear keygen and publish the new pub.pem"},
	}
	return r
}

// smallReport is a minimal valid report used by the byte-flipping tests.
func smallReport() *Report {
	r := New(KindAudit, at(0))
	r.Outcome = OutcomeSucceeded
	r.Cluster.PDClusterID = "1"
	r.Operator = "bob"
	r.Tool = Tool{Name: "tikv-ear", Version: "v0"}
	r.Stores = []Store{{ID: 1, Address: "a:1", Before: StoreState{Method: "plaintext", MasterKey: MasterKey{Type: "plaintext"}},
		After: StoreState{Method: "aes256-ctr", MasterKey: MasterKey{Type: "file"}}}}
	r.Compliance = []Control{{Framework: "x", ID: "y", Requirement: "z", Status: ControlPartial}}
	return r
}
