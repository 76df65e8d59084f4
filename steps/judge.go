package steps

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// GatherCluster reads every store's evidence (running config, metrics,
// key.dict, file.dict, logs, key file, on-disk coverage) over the cluster's
// connections: the one gathering verify, the wizard's verification and the
// compaction count share.
func GatherCluster(ctx context.Context, s *Cluster) (*gather.Report, error) {
	return gather.Gather(ctx, gather.Sources{PD: s.PD, ClusterID: s.ClusterID, Stores: s.Stores, Nodes: s.Inventory.Nodes,
		SSH: s.SSH, SSHUser: s.Flags.SSHUser, HTTP: HTTPClient(s.Flags.Timeout)}, gather.Options{Concurrency: s.Flags.Concurrency})
}

// VerifyCluster is `tikv-ear verify`: the evidence of every store judged
// against wantMethod ("" accepts any cipher). The wizard's Verification
// screen calls it too, so both give the same per-store verdicts.
func VerifyCluster(ctx context.Context, s *Cluster, wantMethod string) (VerifyResult, error) {
	rep, err := GatherCluster(ctx, s)
	if err != nil {
		return VerifyResult{}, err
	}
	return Judge(rep, wantMethod), nil
}

// VerifyResult is the --output json document of verify (schema 1).
type VerifyResult struct {
	Schema int  `json:"schema"`
	OK     bool `json:"ok"`
	// Verdict is the worst store verdict: proven only when every store is.
	Verdict verdict.Verdict     `json:"verdict"`
	Stores  []StoreVerification `json:"stores"`
}

// StoreVerification is one store's verdict and evidence. Problems are
// evidence that shows the store falls short (verdict failing); Unknowns are
// evidence that could not be read or does not decide (verdict unknown when
// there is no problem). OK is true only when the verdict is proven.
type StoreVerification struct {
	StoreID  uint64          `json:"store_id"`
	Address  string          `json:"address"`
	OK       bool            `json:"ok"`
	Verdict  verdict.Verdict `json:"verdict"`
	Problems []string        `json:"problems,omitempty"`
	Unknowns []string        `json:"unknowns,omitempty"`
	Warnings []string        `json:"warnings,omitempty"`
	State    gather.State    `json:"state"`
	Method   string          `json:"method,omitempty"`
	KeyDict  string          `json:"key_dict_method,omitempty"`
	LogLines []string        `json:"log_lines,omitempty"`
	// LogRecords are the unparsed records after the last start, "file line N: text".
	LogRecords []string         `json:"log_records,omitempty"`
	Coverage   *gather.Coverage `json:"coverage,omitempty"`
	// Running is what the status port said (config and tikv_encryption_*
	// gauges); nil when it did not answer.
	Running *gather.RunningFacts `json:"running,omitempty"`
}

// Judge applies the verification rules to gathered evidence.
func Judge(rep *gather.Report, wantMethod string) VerifyResult {
	res := VerifyResult{Schema: 1, OK: true}
	for _, st := range rep.Stores {
		v := StoreVerification{StoreID: st.StoreID, Address: st.Address, State: st.State, Coverage: st.Coverage, Running: st.Running}
		bad := func(f string, a ...any) { v.Problems = append(v.Problems, fmt.Sprintf(f, a...)) }
		unsure := func(f string, a ...any) { v.Unknowns = append(v.Unknowns, fmt.Sprintf(f, a...)) }
		if wantMethod == tikv.MethodPlaintext {
			judgeDisabled(&v, st)
			res.Stores = append(res.Stores, v)
			continue
		}
		if st.Running == nil {
			notAnswering(&v, st)
		} else {
			v.Method = st.Running.Method
			switch {
			case v.Method == "" || v.Method == tikv.MethodPlaintext:
				bad("running data-encryption-method is %q", FirstNonEmpty(v.Method, tikv.MethodPlaintext))
			case wantMethod != "" && v.Method != wantMethod:
				bad("running method %s, the plan wants %s", v.Method, wantMethod)
			}
			if st.Running.MasterKeyType == "" || st.Running.MasterKeyType == tikv.MasterKeyPlaintext {
				bad("running master key is plaintext")
			}
			if !st.Running.IsInitialized {
				bad("%s is not 1", tikv.MetricIsInitialized)
			}
		}
		switch {
		case st.KeyDict == nil:
			unsure("%s could not be read: %s", tikv.KeyDictName, firstError(st, gather.SourceKeyDict, gather.SourceDisk, gather.SourceSSH))
		case !st.KeyDict.Exists:
			bad("%s is missing", tikv.KeyDictName)
		case st.KeyDict.KeysExposed || st.KeyDict.Method != tikv.MetadataMethodAES256GCM:
			bad("%s metadata method is %q: the data keys are not protected by a master key", tikv.KeyDictName, st.KeyDict.Method)
		default:
			v.KeyDict = st.KeyDict.Method
		}
		judgeLog(&v, st)
		if st.Log != nil {
			for _, e := range st.Log.Events {
				if e.Name == tikvlog.MsgEnabled.Name || e.Name == tikvlog.MsgBeingEnabled.Name || e.Name == tikvlog.MsgPersistedReplaceMasterKey.Name {
					v.LogLines = append(v.LogLines, e.Message)
				}
			}
			if len(v.LogLines) == 0 {
				v.Warnings = append(v.Warnings, "no encryption start line in the log tail")
			}
		}
		if st.KeyFile == nil && st.Config != nil && st.Config.MasterKey.Type == tikv.MasterKeyFile {
			unsure("the master key file %s could not be checked: %s", st.Config.MasterKey.Path, firstError(st, gather.SourceKeyFile, gather.SourceSSH))
		}
		if kf := st.KeyFile; kf != nil {
			if !kf.Exists {
				bad("key file %s is missing (TiKV cannot restart: 'tikv-ear deliver')", kf.Path)
			} else {
				if kf.Mode != "0400" {
					v.Warnings = append(v.Warnings, fmt.Sprintf("key file %s has mode %s, want 0400", kf.Path, kf.Mode))
				}
				if kf.FSType != "tmpfs" {
					v.Warnings = append(v.Warnings, fmt.Sprintf("key file %s is on %s, not tmpfs: the key rests on disk", kf.Path, kf.FSType))
				}
			}
		}
		if c := st.Coverage; c == nil {
			unsure("the data files on disk were not checked: %s", firstError(st, gather.SourceDisk, gather.SourceSSH))
		} else if c.Encrypted.Files+c.Plaintext.Files == 0 {
			// Nothing was proven on disk: the rest of the evidence stands, but
			// the store's verdict may not say its files were checked.
			if c.Skipped+c.Mismatches > 0 {
				unsure("no data file on disk was proven: %d changed while they were read and %d were still being written; verify again", c.Skipped, c.Mismatches)
			} else {
				unsure("no data file was found on disk under %s, so none proves encryption yet", strings.Join(c.Dirs, ", "))
			}
		} else if c.Plaintext.Files > 0 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("%d of %d data files still plaintext (written before encryption; compaction rewrites them)", c.Plaintext.Files, c.Plaintext.Files+c.Encrypted.Files))
		}
		finish(&v)
		res.Stores = append(res.Stores, v)
	}
	return finishResult(res)
}

// finish sets a store's verdict from its problems and unknowns.
func finish(v *StoreVerification) {
	switch {
	case len(v.Problems) > 0:
		v.Verdict = verdict.Fail(strings.Join(v.Problems, "; "))
	case len(v.Unknowns) > 0:
		v.Verdict = verdict.Unsure(strings.Join(v.Unknowns, "; "))
	default:
		v.Verdict = verdict.Prove("every rule was checked against evidence read from the store")
	}
	v.OK = v.Verdict.Proven()
}

// finishResult combines the store verdicts: no stores proves nothing.
func finishResult(res VerifyResult) VerifyResult {
	vs := make([]verdict.Verdict, 0, len(res.Stores))
	for _, s := range res.Stores {
		vs = append(vs, verdict.Verdict{Value: s.Verdict.Value, Reason: fmt.Sprintf("store %d: %s", s.StoreID, s.Verdict.Reason)})
	}
	res.Verdict = verdict.Combine(vs...)
	res.OK = res.Verdict.Proven()
	return res
}

// notAnswering judges a store whose status port does not answer: failing
// when gather found a failed start or a missing key, otherwise unknown.
func notAnswering(v *StoreVerification, st gather.Store) {
	msg := fmt.Sprintf("the status port did not answer: %s", firstError(st, gather.SourceStatus, gather.SourceMetrics))
	if st.State == gather.StateFailing || st.State == gather.StateWaitingForKey {
		v.Problems = append(v.Problems, msg+"; "+st.Reason)
		return
	}
	v.Unknowns = append(v.Unknowns, msg+"; "+st.Reason)
}

// judgeLog applies the log rules (gather.LogVerdict): no FATAL record, whole
// or damaged, after the last start in tikv.log, nor a newer failure in
// tikv_stderr.log. A log that could not be read, unparsed records after the
// last start and a stderr failure that cannot be placed in time leave the
// rule unknown; the unparsed records are listed with their line numbers.
func judgeLog(v *StoreVerification, st gather.Store) {
	lv := gather.LogVerdict(&st)
	switch lv.Value {
	case verdict.Failing:
		v.Problems = append(v.Problems, lv.Reason)
	case verdict.Unknown:
		v.Unknowns = append(v.Unknowns, lv.Reason)
	}
	if lf := st.Log; lf != nil {
		for _, r := range lf.Unparsed {
			v.LogRecords = append(v.LogRecords, fmt.Sprintf("%s line %d: %s", path.Base(lf.Path), r.Line, ClipText(r.Text)))
		}
	}
}

// judgeDisabled checks a store after 'disable': the method is plaintext, and
// while any encrypted file is left the master key must stay configured.
func judgeDisabled(v *StoreVerification, st gather.Store) {
	bad := func(f string, a ...any) { v.Problems = append(v.Problems, fmt.Sprintf(f, a...)) }
	if st.Running == nil {
		notAnswering(v, st)
	} else {
		v.Method = st.Running.Method
		if v.Method != "" && v.Method != tikv.MethodPlaintext {
			bad("running data-encryption-method is %s; disable sets plaintext", v.Method)
		}
	}
	judgeLog(v, st)
	if st.KeyDict == nil {
		v.Unknowns = append(v.Unknowns, fmt.Sprintf("%s could not be read: %s", tikv.KeyDictName, firstError(st, gather.SourceKeyDict, gather.SourceDisk, gather.SourceSSH)))
	}
	if st.KeyDict != nil && st.KeyDict.Exists {
		v.KeyDict = st.KeyDict.Method
		if c := st.Coverage; c != nil && c.Encrypted.Files > 0 {
			if st.Running != nil && (st.Running.MasterKeyType == "" || st.Running.MasterKeyType == tikv.MasterKeyPlaintext) {
				bad("%d encrypted files are left but no master key is configured", c.Encrypted.Files)
			}
			v.Warnings = append(v.Warnings, fmt.Sprintf("%d data files still encrypted; compaction rewrites them in plaintext over time", c.Encrypted.Files))
		}
	}
	finish(v)
}

func firstError(st gather.Store, sources ...string) string {
	for _, e := range st.Errors {
		for _, s := range sources {
			if e.Source == s {
				return e.Message
			}
		}
	}
	return "unreachable"
}

// ClipText shortens a log text for one line of text output: newlines show
// as ⏎ and other control bytes (a NUL run in a damaged log) as \xNN, so the
// terminal shows what the file holds.
func ClipText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("⏎")
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	s = b.String()
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
