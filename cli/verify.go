package cli

import (
	"fmt"
	"io"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
	"github.com/tikv-ear/tikv-ear/steps"
)

// VerifyCmd proves, store by store, that encryption is on and working: the
// running config, the log lines, the metrics, key.dict metadata, file.dict and
// the on-disk coverage, and the key file's mode. It exits non-zero when any
// store falls short.
type VerifyCmd struct {
	ConnectFlags `embed:""`
	PlanFile     string        `name:"plan" type:"existingfile" help:"plan.toml: also check that each store runs the plan's method and master key (connection flags come from the plan)."`
	Method       string        `name:"method" help:"Method every store must run (default: any cipher; the plan's when --plan is given)."`
	Watch        bool          `name:"watch" help:"Repeat until interrupted, showing on-disk coverage grow as compaction rewrites old files."`
	Interval     time.Duration `name:"interval" default:"10s" help:"Time between --watch rounds."`
	Output       string        `name:"output" enum:"text,json" default:"text" help:"text or json."`
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
}

// Run verifies once, or in rounds with --watch.
func (c *VerifyCmd) Run(g *Globals) error {
	flags := c.ConnectFlags
	want := c.Method
	if c.PlanFile != "" {
		p, _, err := openPlan(g.Ctx, c.PlanFile)
		if err != nil {
			return err
		}
		flags = planConnect(p)
		if want == "" {
			want = p.Target.Method
		}
	}
	s, err := flags.Connect(g.Ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	for round := 0; ; round++ {
		rep, err := gather.Gather(g.Ctx, gather.Sources{PD: s.PD, ClusterID: s.ClusterID, Stores: s.Stores, Nodes: s.Inventory.Nodes,
			SSH: s.SSH, SSHUser: s.Flags.SSHUser, HTTP: httpClient(s.Flags.Timeout)}, gather.Options{Concurrency: s.Flags.Concurrency})
		if err != nil {
			return err
		}
		res := Judge(rep, want)
		if c.Output == "json" {
			if err := writeJSON(g.IO.Out, res); err != nil {
				return err
			}
		} else {
			printVerify(g.IO.Out, res, round)
		}
		if !c.Watch {
			switch res.Verdict.Value {
			case verdict.Proven:
				return nil
			case verdict.Failing:
				return &Error{Msg: "verification failed: some stores are not encrypted as required", Hints: []string{"see the problems above; 'tikv-ear status' shows each store's state"}, Code: ExitFailure}
			}
			return &Error{Msg: "verification incomplete: some evidence could not be read, so encryption is not proven", Hints: []string{"see the unknowns above; fix access to the sources they name and run verify again"}, Code: ExitFailure}
		}
		if err := steps.RealSleep(g.Ctx, c.Interval); err != nil {
			return nil
		}
	}
}

// Judge applies the verification rules to gathered evidence.
func Judge(rep *gather.Report, wantMethod string) VerifyResult {
	res := VerifyResult{Schema: 1, OK: true}
	for _, st := range rep.Stores {
		v := StoreVerification{StoreID: st.StoreID, Address: st.Address, State: st.State, Coverage: st.Coverage}
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
				bad("running data-encryption-method is %q", steps.FirstNonEmpty(v.Method, tikv.MethodPlaintext))
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
			v.LogRecords = append(v.LogRecords, fmt.Sprintf("%s line %d: %s", path.Base(lf.Path), r.Line, clipText(r.Text)))
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

func printVerify(w io.Writer, res VerifyResult, round int) {
	if round > 0 {
		fmt.Fprintf(w, "\n— %s\n", time.Now().UTC().Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tVERDICT\tMETHOD\tKEY.DICT\tFILES ENCRYPTED\tBYTES ENCRYPTED")
	for _, s := range res.Stores {
		cell := string(s.Verdict.Value)
		files, bytes := "-", "-"
		if c := s.Coverage; c != nil {
			files = fmt.Sprintf("%.1f%% (%d/%d)", c.FilesPercent, c.Encrypted.Files, c.Encrypted.Files+c.Plaintext.Files)
			bytes = fmt.Sprintf("%.1f%%", c.BytesPercent)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.StoreID, s.Address, cell, steps.FirstNonEmpty(s.Method, "-"), steps.FirstNonEmpty(s.KeyDict, "-"), files, bytes)
	}
	tw.Flush()
	for _, s := range res.Stores {
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  store %d: ✗ %s\n", s.StoreID, p)
		}
		for _, u := range s.Unknowns {
			fmt.Fprintf(w, "  store %d: ? %s\n", s.StoreID, u)
		}
		for _, r := range s.LogRecords {
			fmt.Fprintf(w, "  store %d: ? unparsed: %s\n", s.StoreID, r)
		}
		for _, x := range s.Warnings {
			fmt.Fprintf(w, "  store %d: ! %s\n", s.StoreID, x)
		}
		if len(s.LogLines) > 0 {
			fmt.Fprintf(w, "  store %d: log: %s\n", s.StoreID, strings.Join(s.LogLines, " | "))
		}
	}
}
