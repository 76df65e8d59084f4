package steps

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
)

// AuditKey is one key generation of the plan and what its backend says about it.
type AuditKey struct {
	Role     string         // master-key | previous-master-key
	Ref      kms.KeyRef     // from the plan
	Rendered tikv.MasterKey // the tikv.toml table the backend renders for Ref
	Evidence *kms.Evidence  // nil when the backend could not be read
	Err      error
}

// AuditInput is what an audit saw besides the gathered status.
type AuditInput struct {
	// Plan is nil for an audit from connect flags alone.
	Plan *Plan
	// Policy is the plan's rotation policy (schedule.DefaultPolicy without a plan).
	Policy schedule.Policy
	// Keys are the plan's key generations with their backend evidence.
	Keys []AuditKey
	// RunID names the audit; Started and Finished bound it.
	RunID             string
	Started, Finished time.Time
}

// AuditKeys asks the plan's backend about its key generations (read-only:
// Backend.Evidence describes a generation and changes nothing).
func AuditKeys(ctx context.Context, p *Plan) []AuditKey {
	refs := []AuditKey{{Role: "master-key", Ref: p.Target.MasterKey}}
	if p.Target.PreviousMasterKey != nil {
		refs = append(refs, AuditKey{Role: "previous-master-key", Ref: *p.Target.PreviousMasterKey})
	}
	backend, err := kms.New(p.Target.Key)
	for i := range refs {
		k := &refs[i]
		if err != nil {
			k.Err = err
			continue
		}
		if k.Ref.ID == "" {
			k.Err = fmt.Errorf("the plan names no %s generation", k.Role)
			continue
		}
		k.Rendered = backend.MasterKey(k.Ref)
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ev, eerr := backend.Evidence(ectx, k.Ref)
		cancel()
		if eerr != nil {
			k.Err = eerr
			continue
		}
		k.Evidence = &ev
	}
	return refs
}

// BuildAudit maps a gathered status and the key backend's evidence to the
// report model: each store's current state (before = after), what verifies
// it, the findings, the key evidence, the schedule and the compliance mapping.
func BuildAudit(rep *gather.Report, in AuditInput) *report.Report {
	r := report.New(report.KindAudit, in.Started)
	r.RunID, r.FinishedAt, r.Operator = in.RunID, in.Finished, OperatorName()
	r.Tool = report.Tool{Name: "tikv-ear", Version: ToolVersion}
	r.Cluster = report.Cluster{PDClusterID: strconv.FormatUint(rep.Cluster.ID, 10), PDEndpoints: rep.Cluster.PDEndpoints}
	if in.Plan != nil {
		r.PlanDigest = in.Plan.Digest()
		r.Cluster.TiUPName = in.Plan.Cluster.Name
	}
	r.Outcome = report.OutcomeSucceeded
	if !rep.Complete {
		r.Outcome = report.OutcomePartial
	}
	var f findings
	seenVersion := map[string]bool{}
	for _, s := range rep.Stores {
		if v := s.PD.Version; v != "" && !seenVersion[v] {
			seenVersion[v] = true
			r.Cluster.TiKVVersions = append(r.Cluster.TiKVVersions, v)
		}
		st := report.Store{ID: s.StoreID, Address: s.Address, Zone: s.PD.Zone, Before: auditState(s, in.Keys), Verification: auditVerification(s, rep.GatheredAt)}
		st.After = st.Before
		r.Stores = append(r.Stores, st)
		f.store(s)
	}
	f.cluster(rep)
	r.Timeline = append(r.Timeline, report.Event{At: rep.GatheredAt, Phase: "gather", Status: map[bool]string{true: "ok", false: "failed"}[rep.Complete],
		Detail: fmt.Sprintf("read %d stores (PD, tikv.toml, status port, key.dict, file.dict, tikv.log, data files, key file); %d source(s) unreadable", len(rep.Stores), len(rep.Partial))})
	for _, k := range in.Keys {
		ke := KeyEvidence(k.Role, k.Ref, k.Evidence, k.Err)
		ev := report.Event{At: in.Finished, Phase: "key-evidence", Status: "ok", Detail: fmt.Sprintf("%s generation %d read from the %s backend", k.Role, k.Ref.Generation, k.Ref.Backend)}
		if k.Evidence != nil {
			e := k.Evidence
			if e.State != "" && e.State != "active" && !strings.EqualFold(e.State, "enabled") {
				f.add(report.SeverityHigh, 0, fmt.Sprintf("the %s generation %d (%s) is %s in the %s backend", k.Role, k.Ref.Generation, ke.KeyID, e.State, k.Ref.Backend),
					"TiKV needs the key at every start: restore it in the backend, or rotate to a new generation with 'tikv-ear rotate'")
			}
		} else {
			ev.Status, ev.Detail = "failed", fmt.Sprintf("%s generation %d: %v", k.Role, k.Ref.Generation, k.Err)
			f.add(report.SeverityMedium, 0, fmt.Sprintf("the %s backend's record of the %s could not be read: %v", k.Ref.Backend, k.Role, k.Err),
				"check the backend's address and credentials in the plan's [target.key]; the cluster evidence above is unaffected")
		}
		r.Timeline = append(r.Timeline, ev)
		r.Keys = append(r.Keys, ke)
	}
	age := AuditAge(rep, in)
	sched := &report.Schedule{MasterKeyPeriodDays: int64(in.Policy.MasterKeyPeriod / schedule.Day), DataKeyRotationPeriod: in.Policy.DataKeyRotationPeriod,
		SigningKeyPeriodDays: int64(in.Policy.SigningKeyPeriod / schedule.Day), Mechanism: RunnerManual}
	if age.LastRotation != nil {
		sched.LastMasterKeyRotation, sched.NextDue = *age.LastRotation, *age.NextDue
	}
	if in.Plan != nil {
		sched.Mechanism = FirstNonEmpty(in.Plan.Schedule.Runner, RunnerManual)
		var native []string
		for _, n := range NativeOptions(in.Plan, in.Policy) {
			native = append(native, n.Backend+": "+n.Setting+" = "+n.Value)
		}
		sched.KMSNative = strings.Join(native, "; ")
	}
	r.Schedule = sched
	switch {
	case age.LastRotation == nil:
		f.add(report.SeverityMedium, 0, "the last master-key rotation is unknown: no plan generation with a creation time and no \""+tikvlog.MsgPersistedReplaceMasterKey.Text+"\" line in the stores' logs",
			"pass the cluster's plan.toml to 'tikv-ear audit', or rotate with 'tikv-ear rotate' to start a recorded cryptoperiod")
	case age.Overdue:
		f.add(report.SeverityHigh, 0, fmt.Sprintf("master-key rotation is overdue: generation %d is %d days old, due %s under the %dd policy", age.Generation, age.AgeDays, age.NextDue.Format(time.DateOnly), age.PeriodDays),
			"run 'tikv-ear rotate <plan>' now, and 'tikv-ear schedule install' so it does not lapse again")
	}
	r.Findings = f.list
	r.Compliance = report.MapCompliance(r)
	if age.LastRotation == nil {
		// MapCompliance treats a schedule without a due date as met; an unknown
		// last rotation is not evidence that keys change at the end of a period.
		for i := range r.Compliance {
			if c := &r.Compliance[i]; c.Framework == report.FrameworkPCI && c.ID == "3.7.4" {
				c.Status, c.Note = report.ControlNotEvidenced, "The last master-key rotation is not recorded."
			}
		}
	}
	return r
}

// auditState is a store's current encryption state as the report records it.
// The running process is the truth; tikv.toml fills in what it does not say.
func auditState(s gather.Store, keys []AuditKey) report.StoreState {
	st := report.StoreState{Version: s.PD.Version}
	if s.Running != nil {
		st.Method = s.Running.Method
	}
	if st.Method == "" && s.Config != nil {
		st.Method = s.Config.Method
	}
	if st.Method == "" {
		st.Method = "unknown"
	}
	switch {
	case s.Config != nil:
		st.MasterKey = auditMasterKey(s.Config.MasterKey, keys)
		if prev := s.Config.PreviousMasterKey; prev != nil {
			pk := auditMasterKey(*prev, keys)
			st.PreviousMasterKey = &pk
		}
	case s.Running != nil && s.Running.MasterKeyType != "":
		st.MasterKey = report.MasterKeyFromConfig(tikv.MasterKey{Type: s.Running.MasterKeyType, Path: s.Running.MasterKeyPath}, "", "")
	default:
		st.MasterKey = report.MasterKey{Type: "unknown"}
	}
	return st
}

// auditMasterKey describes a configured master key by identity, with the
// plan's fingerprint and version when it is one of the plan's generations.
func auditMasterKey(m gather.MasterKeyFacts, keys []AuditKey) report.MasterKey {
	mk := tikv.MasterKey{Type: m.Type, Path: m.Path, KeyID: m.KeyID, Vendor: m.Vendor, Region: m.Region, Endpoint: m.Endpoint}
	for _, k := range keys {
		if k.Rendered.Type == "" || k.Rendered.EffectiveType() != mk.EffectiveType() {
			continue
		}
		if (mk.Type == tikv.MasterKeyFile && k.Rendered.Path == mk.Path) || (mk.Type == tikv.MasterKeyKMS && k.Rendered.KeyID == mk.KeyID) {
			return report.MasterKeyFromConfig(mk, k.Ref.Version, k.Ref.Fingerprint)
		}
	}
	return report.MasterKeyFromConfig(mk, "", "")
}

// auditVerification is what the gathered facts prove about a store.
func auditVerification(s gather.Store, at time.Time) report.Verification {
	var v report.Verification
	vd := s.Verdict
	if vd.Value == "" {
		vd = gather.Judge(&s)
	}
	v.Verdict = &vd
	v.Leaders = int64(s.PD.LeaderCount)
	if s.Log != nil {
		for _, e := range s.Log.Events {
			t := at
			if e.Time != nil {
				t = *e.Time
			}
			v.LogLines = append(v.LogLines, report.LogLine{Time: t, Level: e.Level, Message: e.Message, Catalog: e.Name})
		}
	}
	if rf := s.Running; rf != nil {
		v.Leaders = int64(rf.LeaderCount)
		init := "0"
		if rf.IsInitialized {
			init = "1"
		}
		v.Metrics = []report.Metric{
			{Name: tikv.MetricIsInitialized, Value: init},
			{Name: tikv.MetricFileNum, Value: strconv.FormatInt(rf.FileNum, 10)},
			{Name: tikv.MetricDataKeyStorageTotal, Value: strconv.FormatInt(rf.DataKeys, 10)},
			{Name: tikv.MetricRegionCount, Labels: map[string]string{tikv.LabelType: "leader"}, Value: strconv.Itoa(rf.LeaderCount)},
			{Name: tikv.MetricRegionCount, Labels: map[string]string{tikv.LabelType: "region"}, Value: strconv.Itoa(rf.RegionCount)},
		}
	}
	if kd := s.KeyDict; kd != nil && kd.Exists {
		v.KeyDict = &report.KeyDict{Method: kd.Method, KMSVendor: kd.KMSVendor}
		if s.Running != nil {
			v.KeyDict.DataKeys = s.Running.DataKeys
		}
	}
	if c := s.Coverage; c != nil {
		v.Coverage = &report.Coverage{FilesEncrypted: int64(c.Encrypted.Files), FilesPlaintext: int64(c.Plaintext.Files),
			BytesEncrypted: c.Encrypted.Bytes, BytesPlaintext: c.Plaintext.Bytes,
			Note: "SST trailers and Raft Engine headers read on the host; files written before encryption was enabled stay plaintext until compaction rewrites them"}
	}
	if kf := s.KeyFile; kf != nil && kf.Exists {
		v.KeyFile = &report.KeyFile{Path: kf.Path, Mode: kf.Mode, Owner: kf.Owner, FSType: kf.FSType}
	}
	return v
}

// findings collects the audit's findings.
type findings struct{ list []report.Finding }

func (f *findings) add(sev string, store uint64, msg, fix string) {
	f.list = append(f.list, report.Finding{Severity: sev, Store: store, Message: msg, Fix: fix})
}

// store flags what is wrong with one store.
func (f *findings) store(s gather.Store) {
	who := fmt.Sprintf("store %d (%s)", s.StoreID, s.Address)
	switch s.State {
	case gather.StatePlaintext, gather.StateEnabling:
		f.add(report.SeverityHigh, s.StoreID, fmt.Sprintf("%s is not encrypted: %s", who, s.Reason),
			"enable encryption with 'tikv-ear plan' and 'tikv-ear apply' (a rolling restart)")
	case gather.StateFailing, gather.StateWaitingForKey, gather.StateUnknown:
		f.add(report.SeverityHigh, s.StoreID, fmt.Sprintf("%s could not be verified (%s): %s", who, s.State, s.Reason),
			"bring the store back (for a missing key file: 'tikv-ear deliver <plan>'), then audit again")
	}
	if s.PD.StateName != "" && s.PD.StateName != "Up" {
		f.add(report.SeverityHigh, s.StoreID, fmt.Sprintf("%s is %s in PD", who, s.PD.StateName), "restore the store before any rollout; PD must show it Up")
	}
	if c := s.Coverage; c != nil && s.State == gather.StateEncryptedPartial && c.Plaintext.Files > 0 {
		sev := report.SeverityMedium
		if c.BytesPercent < 50 {
			sev = report.SeverityHigh
		}
		f.add(sev, s.StoreID, fmt.Sprintf("%s: %d of %d data files are still plaintext on disk (%s of bytes encrypted)", who, c.Plaintext.Files, c.Plaintext.Files+c.Encrypted.Files, Percent(c.BytesPercent)),
			"compaction rewrites old files over time (TiKV encrypts only new files); audit again later, or run a manual compaction")
	}
	if kd := s.KeyDict; kd != nil && kd.KeysExposed {
		f.add(report.SeverityCritical, s.StoreID, fmt.Sprintf("%s: key.dict metadata method is %s: the data keys lie unencrypted on disk", who, kd.Method),
			"switch the master key from plaintext to a file or KMS key with 'tikv-ear plan' and 'tikv-ear apply'")
	}
	if kf := s.KeyFile; kf != nil {
		switch {
		case !kf.Exists:
			f.add(report.SeverityHigh, s.StoreID, fmt.Sprintf("%s: master key file %s does not exist; TiKV cannot start again until it is delivered", who, kf.Path), "run 'tikv-ear deliver <plan>'")
		default:
			if kf.FSType != "tmpfs" && kf.FSType != "ramfs" {
				f.add(report.SeverityHigh, s.StoreID, fmt.Sprintf("%s: master key file %s is on %s, not tmpfs: the key persists on disk beside the data it protects", who, kf.Path, FirstNonEmpty(kf.FSType, "an unknown file system")),
					"keep the key file on a tmpfs (e.g. /run/tikv-keys) and deliver it at boot with 'tikv-ear deliver'")
			}
			if mode, err := strconv.ParseUint(kf.Mode, 8, 32); err == nil && mode&^0o400 != 0 {
				sev := report.SeverityMedium
				if mode&0o077 != 0 {
					sev = report.SeverityHigh
				}
				f.add(sev, s.StoreID, fmt.Sprintf("%s: master key file %s has mode %s, wider than 0400", who, kf.Path, kf.Mode), "chmod 0400 "+kf.Path)
			}
		}
	}
	if s.Config != nil {
		if prev := s.Config.PreviousMasterKey; prev != nil {
			f.add(report.SeverityMedium, s.StoreID, fmt.Sprintf("%s: a previous-master-key (%s) is still configured: a leftover of a rotation keeps the old key in use", who, FirstNonEmpty(prev.Path, prev.KeyID, prev.Type)),
				"finish the rotation ('tikv-ear rotate <plan> --resume'), which removes it and shreds the old key file")
		}
		for _, p := range s.Config.Problems {
			if p.Severity == "error" {
				f.add(report.SeverityMedium, s.StoreID, fmt.Sprintf("%s: %s:%d: %s %s", who, p.File, p.Line, p.Key, p.Message), p.Fix)
			}
		}
	}
	for _, e := range s.Errors {
		f.add(report.SeverityMedium, s.StoreID, fmt.Sprintf("%s: %s could not be read: %s", who, e.Source, e.Message), "fix access to the host (SSH, status port), then audit again")
	}
}

// cluster flags cluster-wide problems: coverage, evict-leader schedulers, region health.
func (f *findings) cluster(rep *gather.Report) {
	var enc, plain int
	var encB, plainB int64
	known := false
	for _, s := range rep.Stores {
		if c := s.Coverage; c != nil {
			known = true
			enc, plain = enc+c.Encrypted.Files, plain+c.Plaintext.Files
			encB, plainB = encB+c.Encrypted.Bytes, plainB+c.Plaintext.Bytes
		}
	}
	if known && plain > 0 {
		pct := 0.0
		if encB+plainB > 0 {
			pct = 100 * float64(encB) / float64(encB+plainB)
		}
		sev := report.SeverityMedium
		if pct < 50 {
			sev = report.SeverityHigh
		}
		f.add(sev, 0, fmt.Sprintf("coverage: %d of %d data files encrypted on disk (%s of bytes); %d files are plaintext", enc, enc+plain, Percent(pct), plain),
			"encrypt every store, then let compaction rewrite the old files; audit again later")
	}
	c := rep.Cluster
	if len(c.EvictLeaderSchedulers) > 0 || len(c.EvictLeaderStores) > 0 {
		ids := make([]string, len(c.EvictLeaderStores))
		for i, id := range c.EvictLeaderStores {
			ids[i] = strconv.FormatUint(id, 10)
		}
		f.add(report.SeverityMedium, 0, fmt.Sprintf("evict-leader scheduler %s is present (stores %s): a leftover keeps those stores at 0 leaders", strings.Join(c.EvictLeaderSchedulers, ","), FirstNonEmpty(strings.Join(ids, ","), "-")),
			"if no rollout is running, remove it: 'tikv-ear apply <plan> --abort', or pd-ctl scheduler remove evict-leader-scheduler")
	}
	for _, rc := range []struct {
		name string
		n    int
	}{{"miss-peer", c.Regions.MissPeer}, {"pending-peer", c.Regions.PendingPeer}, {"down-peer", c.Regions.DownPeer}} {
		if rc.n > 0 {
			f.add(report.SeverityMedium, 0, fmt.Sprintf("region health: %d region(s) in PD's %s check", rc.n, rc.name),
				"let PD repair the regions (check the stores named above) before a rollout or rotation")
		}
	}
	for _, e := range c.Errors {
		f.add(report.SeverityMedium, 0, "PD: "+e+" could not be read", "check PD, then audit again")
	}
}

// Percent renders 0–100 rounded down to one decimal (so 99.96 is not shown
// as 100), without the decimal when whole, and with a "%".
func Percent(v float64) string {
	s := strconv.FormatFloat(math.Floor(v*10)/10, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// AuditAge is the master key's age: from the plan's generation when there is
// a plan, else from the newest replace-master-key log line.
func AuditAge(rep *gather.Report, in AuditInput) *gather.MasterKeyAge {
	now := in.Finished
	if now.IsZero() {
		now = rep.GatheredAt
	}
	var ref kms.KeyRef
	var ev *kms.Evidence
	if len(in.Keys) > 0 {
		ref, ev = in.Keys[0].Ref, in.Keys[0].Evidence
	}
	return MasterKeyAge(rep, ref, ev, in.Policy.MasterKeyPeriod, now)
}
