package steps

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/tikv-ear/tikv-ear/cluster/ssh"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvdisk"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/schedule"
)

// OperatorName is the local user, as reports and decisions record the operator.
func OperatorName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func stateOf(e tikv.Encryption, version string) report.StoreState {
	st := report.StoreState{Version: version, Method: e.EffectiveMethod(), DataKeyRotationPeriod: e.DataKeyRotationPeriod,
		MasterKey: report.MasterKeyFromConfig(e.MasterKey, "", "")}
	if e.PreviousMasterKey.EffectiveType() != tikv.MasterKeyPlaintext { // type plaintext (TiKV's default) is no previous key
		pk := report.MasterKeyFromConfig(e.PreviousMasterKey, "", "")
		st.PreviousMasterKey = &pk
	}
	return st
}

// BuildReport turns a run's result and the evidence gathered after it into the report model.
func BuildReport(ctx context.Context, kind report.Kind, p *Plan, res *Result, eng *Engine, refs []kms.KeyRef) *report.Report {
	r := report.New(kind, res.Started)
	r.RunID, r.FinishedAt, r.Operator = res.Run, res.Finished, OperatorName()
	r.Tool = report.Tool{Name: "tikv-ear", Version: ToolVersion}
	r.PlanDigest = p.Digest()
	r.Cluster = report.Cluster{PDClusterID: strconv.FormatUint(p.Cluster.ClusterID, 10), PDEndpoints: p.Cluster.PD, TiUPName: p.Cluster.Name}
	r.Outcome = report.OutcomeSucceeded
	if res.Err != nil {
		r.Outcome = report.OutcomeFailed
		r.Findings = append(r.Findings, report.Finding{Severity: report.SeverityHigh, Message: "run stopped: " + res.Err.Error(), Fix: "read the timeline; 'tikv-ear apply --resume' continues from the real state"})
	}
	seenVersion := map[string]bool{}
	read := readEvidence(ctx, p, res, eng)
	for i, sr := range res.Stores {
		n, _ := p.Node(sr.StoreID)
		if !seenVersion[n.Version] {
			seenVersion[n.Version] = true
			r.Cluster.TiKVVersions = append(r.Cluster.TiKVVersions, n.Version)
		}
		// After is the store's config as it is now on the host, after every pass
		// of the run (a rotation's second pass removes previous-master-key).
		ev := read[i]
		after := ev.after
		if ev.liveErr != nil {
			r.Findings = append(r.Findings, report.Finding{Severity: report.SeverityMedium, Store: sr.StoreID,
				Message: "the config could not be re-read after the run (" + ev.liveErr.Error() + "); the after state shown is the one the run wrote",
				Fix:     "run 'tikv-ear verify --plan' to read every store's state"})
		}
		st := report.Store{ID: sr.StoreID, Address: sr.Address, Zone: sr.Zone, Before: stateOf(sr.Before, n.Version), After: stateOf(after, n.Version)}
		if after.MasterKey.Type != "" && len(refs) > 0 {
			st.After.MasterKey.Fingerprint = refs[0].Fingerprint
			st.After.MasterKey.KeyVersion = refs[0].Version
		}
		v := &st.Verification
		v.Leaders = int64(sr.State.Sample.Leaders)
		switch { // LogMatches is nil when the log since the restart was not scanned
		case sr.State.LogUnread != "":
			v.Log, v.LogReason = report.LogUnknown, sr.State.LogUnread
		case sr.State.LogMatches != nil:
			v.Log = report.LogRead
		}
		for _, name := range sr.State.LogMatches {
			for _, m := range tikvlog.Catalogue() {
				if m.Name == name {
					v.LogLines = append(v.LogLines, report.LogLine{Time: res.Finished, Level: m.Level, Message: m.Text, Catalog: m.Name})
				}
			}
		}
		init := "0"
		if sr.State.Sample.Initialized {
			init = "1"
		}
		v.Metrics = []report.Metric{
			{Name: tikv.MetricIsInitialized, Value: init},
			{Name: tikv.MetricFileNum, Value: strconv.FormatInt(sr.State.Sample.FileNum, 10)},
			{Name: tikv.MetricDataKeyStorageTotal, Value: strconv.FormatInt(sr.State.Sample.DataKeys, 10)},
			{Name: tikv.MetricRegionCount, Labels: map[string]string{tikv.LabelType: "leader"}, Value: strconv.Itoa(sr.State.Sample.Leaders)},
		}
		if sr.State.KeyDict.Exists {
			v.KeyDict = &report.KeyDict{Method: sr.State.KeyDict.Method, KMSVendor: sr.State.KeyDict.KMSVendor, DataKeys: sr.State.Sample.DataKeys}
		}
		if proof := ev.proof; proof != nil {
			v.Coverage = &report.Coverage{FilesEncrypted: int64(proof.Encrypted.Files), FilesPlaintext: int64(proof.Plaintext.Files),
				BytesEncrypted: proof.Encrypted.Bytes, BytesPlaintext: proof.Plaintext.Bytes,
				Note: "only files written after enabling are encrypted; compaction rewrites the rest over time"}
		}
		if fi := ev.keyFile; fi != nil && fi.Exists {
			v.KeyFile = &report.KeyFile{Path: fi.Path, Mode: fmt.Sprintf("%04o", fi.Mode.Perm()), Owner: fi.Owner, FSType: fi.FSType}
		}
		if sr.Failed != "" {
			r.Findings = append(r.Findings, report.Finding{Severity: report.SeverityHigh, Store: sr.StoreID, Message: sr.Failed})
		}
		vd := runVerdict(sr, res.Err)
		v.Verdict = &vd
		r.Stores = append(r.Stores, st)
	}
	for _, e := range res.Timeline {
		ev := report.Event{At: e.Time, Store: e.StoreID, Phase: e.Step, Status: eventStatus(e.Kind), Detail: FirstNonEmpty(e.Message, e.Error)}
		if e.Decision != nil && e.Kind == DecisionMade {
			by := e.Decision.By
			if by != report.DecidedByPolicy {
				by = "operator:" + by
			}
			ev.Decision = &report.Decision{Question: e.Decision.Question, Options: e.Decision.Options, Choice: e.Decision.Chosen, DecidedBy: by}
		}
		if ev.Phase == "" {
			ev.Phase = StepRun
		}
		r.Timeline = append(r.Timeline, ev)
		if e.Kind == StepFailed {
			r.Faults = append(r.Faults, report.Fault{At: e.Time, Store: e.StoreID, Kind: e.Step, Message: e.Error})
		}
	}
	for i, ref := range refs {
		role := "master-key"
		if i > 0 {
			role = "previous-master-key"
		}
		ev, err := eng.Backend.Evidence(ctx, ref)
		if err != nil {
			r.Keys = append(r.Keys, KeyEvidence(role, ref, nil, err))
			continue
		}
		r.Keys = append(r.Keys, KeyEvidence(role, ref, &ev, nil))
	}
	pol, _, err := PlanPolicy("plan", p)
	if err != nil {
		pol = schedule.DefaultPolicy()
	}
	days := int64(pol.MasterKeyPeriod / schedule.Day)
	r.Schedule = &report.Schedule{DataKeyRotationPeriod: pol.DataKeyRotationPeriod, MasterKeyPeriodDays: days,
		SigningKeyPeriodDays: int64(pol.SigningKeyPeriod / schedule.Day), Mechanism: FirstNonEmpty(p.Schedule.Runner, "manual")}
	if len(refs) > 0 && !refs[0].Created.IsZero() {
		r.Schedule.LastMasterKeyRotation = refs[0].Created
		r.Schedule.NextDue = refs[0].Created.Add(pol.MasterKeyPeriod)
	}
	r.Compliance = report.MapCompliance(r)
	return r
}

// evidenceFanout bounds the hosts BuildReport reads at once.
const evidenceFanout = 20

// storeEvidence is what BuildReport reads from one host after the run: the
// live config (after is the run's own when it cannot be read), the on-disk
// proof and the master key file's metadata (nil when not read or not found).
type storeEvidence struct {
	after   tikv.Encryption
	liveErr error
	proof   *tikvdisk.Proof
	keyFile *ssh.FileInfo
}

// readEvidence reads every store's evidence, evidenceFanout hosts at a time,
// in the order of res.Stores: each store's reads are the same as before, in
// the same order, but 300 stores no longer wait for each other.
func readEvidence(ctx context.Context, p *Plan, res *Result, eng *Engine) []storeEvidence {
	out := make([]storeEvidence, len(res.Stores))
	sem := make(chan struct{}, evidenceFanout)
	var wg sync.WaitGroup
	for i, sr := range res.Stores {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n, _ := p.Node(sr.StoreID)
			ev := &out[i]
			ev.after = sr.After
			node := eng.Nodes[sr.StoreID]
			if live, err := LiveEncryption(ctx, node, n); err == nil {
				ev.after = live
			} else {
				ev.liveErr = err
			}
			if node == nil || n.DataDir == "" {
				return
			}
			if proof, err := node.Prove(ctx, n.DataDir); err == nil {
				ev.proof = &proof
			}
			if mk := ev.after.MasterKey; mk.Type == tikv.MasterKeyFile {
				if fi, err := node.N.Stat(ctx, mk.Path); err == nil {
					ev.keyFile = &fi
				}
			}
		})
	}
	wg.Wait()
	return out
}

func eventStatus(k EventKind) string {
	switch k {
	case StepStarted:
		return "started"
	case StepDone:
		return "ok"
	case StepFailed:
		return "failed"
	case StepSkipped:
		return "skipped"
	}
	return string(k)
}

// FirstNonEmpty returns the first non-empty value.
func FirstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Signer opens the signer the plan's [report] section names
// (report.OpenSigner); for a file signer with no key-file it generates
// dir/signing-key.pem (0600, pub.pem beside it) and returns its path.
func Signer(ctx context.Context, p *Plan, dir string) (report.Signer, string, error) {
	return report.OpenSigner(ctx, p.SignerConfig(dir), os.Getenv)
}

// WriteReport signs and writes the report into the plan's report directory.
func WriteReport(ctx context.Context, p *Plan, r *report.Report, runDir string) (report.Files, string, error) {
	base := p.Report.Dir
	if base == "" {
		base = "tikv-ear-reports"
	}
	signer, generated, err := Signer(ctx, p, base)
	if err != nil {
		return report.Files{}, "", fmt.Errorf("report signing key: %w", err)
	}
	files, err := report.WriteSigned(ctx, filepath.Join(base, runDir), r, signer)
	return files, generated, err
}

// runVerdict is a store's verdict on what the run saw of it: failing when
// the store failed or was rolled back, unknown when the run did not verify
// it (skipped, or the run stopped before it), proven only when the run's
// verification rules passed on it.
func runVerdict(sr *StoreResult, runErr error) verdict.Verdict {
	switch {
	case sr.Failed != "":
		return verdict.Fail(sr.Failed)
	case sr.RolledBack:
		return verdict.Fail("the store was rolled back to its config before the run")
	case sr.Skipped:
		return verdict.Unsure("the run skipped this store: nothing was verified on it")
	}
	for _, ph := range sr.Phases {
		if ph.Step == StepVerify && ph.OK {
			return verdict.Prove("the run's verification rules passed on this store after its restart")
		}
	}
	if runErr != nil {
		return verdict.Unsure("the run stopped before this store was verified: " + runErr.Error())
	}
	return verdict.Unsure("the run recorded no passed verification for this store")
}
