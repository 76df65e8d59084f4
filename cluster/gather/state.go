package gather

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/cluster/verdict"
)

// Derive works out a store's effective state from its gathered facts, with
// the reason in words. The running process (status port) is the truth about
// what TiKV does now; the disk says how far data has followed; tikv.toml says
// what the next start will do; the log and the key file explain a TiKV that
// is not serving.
func Derive(s *Store) (State, string) {
	cfgMethod := ""
	if s.Config != nil && s.Config.Method != "" {
		cfgMethod = s.Config.Method
	}
	if s.Running == nil {
		return notServing(s)
	}
	method := s.Running.Method
	source := "the running process"
	if method == "" {
		if cfgMethod == "" {
			return StateUnknown, "the status port answers /metrics but not /config, and tikv.toml could not be read"
		}
		method, source = cfgMethod, "tikv.toml (the status port did not answer /config)"
	}
	cov := s.Coverage
	pending := ""
	if cfgMethod != "" && cfgMethod != method {
		pending = fmt.Sprintf("; tikv.toml now sets %s, applied at the next restart", cfgMethod)
	}
	if method == tikv.MethodPlaintext {
		if cfgMethod != "" && cfgMethod != tikv.MethodPlaintext {
			return StateEnabling, fmt.Sprintf("tikv.toml sets %s but the running process still uses plaintext: restart the store to apply it", cfgMethod)
		}
		if cov != nil && cov.Encrypted.Files > 0 {
			return StateEncryptedPartial, fmt.Sprintf("method is plaintext but %d data files (%s) are still encrypted; compaction rewrites them over time%s",
				cov.Encrypted.Files, pct(cov.BytesPercent)+" of bytes", pending)
		}
		if cov == nil {
			return StatePlaintext, fmt.Sprintf("%s uses method plaintext (data files not checked)%s", source, pending)
		}
		return StatePlaintext, fmt.Sprintf("%s uses method plaintext; %d data files, none encrypted%s", source, cov.Plaintext.Files, pending)
	}
	if !s.Running.IsInitialized && s.Running.Method != "" {
		pending += "; tikv_encryption_is_initialized is 0"
	}
	switch {
	case cov == nil:
		return StateEncrypted, fmt.Sprintf("%s uses %s (data files not checked)%s", source, method, pending)
	case cov.Plaintext.Files > 0:
		return StateEncryptedPartial, fmt.Sprintf("%s uses %s; %d data files still plaintext (%s of bytes encrypted); compaction rewrites them over time%s",
			source, method, cov.Plaintext.Files, pct(cov.BytesPercent), pending)
	case cov.Encrypted.Files == 0:
		return StateEncrypted, fmt.Sprintf("%s uses %s; no data files on disk yet%s", source, method, pending)
	}
	return StateEncrypted, fmt.Sprintf("%s uses %s; all %d data files encrypted%s", source, method, cov.Encrypted.Files, pending)
}

// notServing explains a store whose status port does not answer. A FATAL
// record after the last start, whole or damaged, in tikv.log or a newer one
// in tikv_stderr.log is a failed start; without one, the store is unknown,
// and the reason says what could not be read or which lines could not be
// parsed, never that the log is clean when it was not read.
func notServing(s *Store) (State, string) {
	if s.KeyFile != nil && !s.KeyFile.Exists {
		return StateWaitingForKey, fmt.Sprintf("TiKV is not serving and its master key file %s does not exist (a tmpfs is emptied by a reboot): deliver the key again, then TiKV starts", s.KeyFile.Path)
	}
	if s.Log != nil && s.Log.FatalAfterStart {
		for i := len(s.Log.Events) - 1; i >= 0; i-- {
			ev := s.Log.Events[i]
			if ev.Level != "FATAL" {
				continue
			}
			return StateFailing, "TiKV is not serving; its last start failed: " + describeFatal(ev, "tikv.log")
		}
		return StateFailing, "TiKV is not serving; its last start failed with a FATAL line in tikv.log"
	}
	if s.Log != nil && s.Log.Stderr != nil && s.Log.Stderr.Failure != nil && s.Log.Stderr.Current {
		return StateFailing, "TiKV is not serving; its last start failed: " + describeFatal(*s.Log.Stderr.Failure, StderrName)
	}
	state := s.PD.StateName
	if state == "" {
		state = "unknown to PD"
	}
	if !s.Reachable {
		return StateUnknown, fmt.Sprintf("the status port does not answer and the host cannot be reached over SSH (PD: %s)", state)
	}
	if s.Log == nil {
		return StateUnknown, fmt.Sprintf("the status port does not answer (PD: %s) and tikv.log could not be read: %s", state, sourceError(s, SourceLog))
	}
	if v := LogVerdict(s); v.Value != verdict.Proven {
		return StateUnknown, fmt.Sprintf("the status port does not answer (PD: %s); %s", state, v.Reason)
	}
	return StateUnknown, fmt.Sprintf("the status port does not answer (PD: %s) and tikv.log shows no failed start", state)
}

// LogVerdict judges the last start from tikv.log and tikv_stderr.log alone:
// failing when a FATAL record (whole or damaged) follows the last start in
// tikv.log or a newer failure sits in tikv_stderr.log; unknown when either
// file could not be read, records after the last start could not be parsed,
// or a stderr failure cannot be placed in time; proven otherwise (the reason
// says whether a successful encryption start was seen in the part read).
func LogVerdict(s *Store) verdict.Verdict {
	lf := s.Log
	if lf == nil {
		return verdict.Unsure("tikv.log could not be read: " + sourceError(s, SourceLog))
	}
	var fails, unsure []string
	if lf.FatalAfterStart {
		what := "a FATAL record follows the last start in tikv.log"
		for i := len(lf.Events) - 1; i >= 0; i-- {
			if ev := lf.Events[i]; ev.Level == "FATAL" {
				what += ": " + describeFatal(ev, "tikv.log")
				break
			}
		}
		fails = append(fails, what)
	}
	if n := lf.UnparsedTotal; n > 0 {
		unsure = append(unsure, fmt.Sprintf("tikv.log has %d unparsed %s after the last start (%s) that may hide a failure", n, plural(n, "record", "records"), lineList(lf.Unparsed, n)))
	}
	switch sf := lf.Stderr; {
	case sf == nil:
		unsure = append(unsure, StderrName+" could not be read: "+sourceError(s, SourceStderr))
	case sf.Failure != nil && sf.Current:
		fails = append(fails, fmt.Sprintf("%s holds a failure newer than tikv.log's last start: %s", StderrName, describeFatal(*sf.Failure, StderrName)))
	case sf.Failure != nil && !sf.CurrentKnown:
		unsure = append(unsure, fmt.Sprintf("%s holds a failure (line %d: %s) that cannot be placed against tikv.log's last start", StderrName, sf.Failure.Line, clip(sf.Failure.Message)))
	case sf.UnparsedTotal > 0 && (sf.Current || !sf.CurrentKnown):
		unsure = append(unsure, fmt.Sprintf("%s has %d unparsed %s (%s)", StderrName, sf.UnparsedTotal, plural(sf.UnparsedTotal, "line", "lines"), lineList(sf.Unparsed, sf.UnparsedTotal)))
	}
	switch {
	case len(fails) > 0:
		return verdict.Fail(strings.Join(fails, "; "))
	case len(unsure) > 0:
		return verdict.Unsure(strings.Join(unsure, "; "))
	case lf.Started:
		return verdict.Prove("the last start in tikv.log completed encryption init and no FATAL record follows it")
	}
	return verdict.Prove("no FATAL record after the last start in the part of tikv.log read (no encryption start line in it)")
}

// describeFatal renders a FATAL event with where it was read.
func describeFatal(ev LogEvent, file string) string {
	msg := clip(ev.Message)
	if ev.Error != "" {
		msg = clip(ev.Error)
		if ev.Code != "" {
			msg += " (" + ev.Code + ")"
		}
	}
	if ev.Line > 0 {
		msg += fmt.Sprintf(" (%s line %d", file, ev.Line)
		if ev.Damaged != "" {
			msg += ", a damaged record: " + ev.Damaged
		}
		msg += ")"
	}
	return msg
}

// clip shortens a message for a reason line.
func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > maxRecordText {
		return s[:maxRecordText] + "…"
	}
	return s
}

// lineList renders "lines 3, 7, 9" (and how many more).
func lineList(rs []LogRecord, total int) string {
	nums := make([]string, 0, len(rs))
	for _, r := range rs {
		nums = append(nums, strconv.Itoa(r.Line))
	}
	out := plural(total, "line ", "lines ") + strings.Join(nums, ", ")
	if total > len(rs) {
		out += fmt.Sprintf(" and %d more", total-len(rs))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// sourceError returns the first error recorded for source.
func sourceError(s *Store, source string) string {
	for _, e := range s.Errors {
		if e.Source == source {
			return e.Message
		}
	}
	return "not read"
}

// Judge gives a store's three-valued verdict: failing when the store failed
// (State failing or waiting-for-key), unknown when State is unknown or a
// source of evidence could not be read, proven when every source was read
// and shows State.
func Judge(s *Store) verdict.Verdict {
	switch s.State {
	case StateFailing, StateWaitingForKey:
		return verdict.Fail(s.Reason)
	case StateUnknown, "":
		return verdict.Unsure(s.Reason)
	}
	var missing []string
	for _, e := range s.Errors {
		missing = append(missing, e.Source+": "+e.Message)
	}
	if len(missing) > 0 {
		return verdict.Unsure(s.Reason + "; not read: " + strings.Join(missing, "; "))
	}
	return verdict.Prove(s.Reason)
}

// pct renders a percentage rounded down to one decimal, so that 99.96 is
// not shown as 100.
func pct(v float64) string { return fmt.Sprintf("%.1f%%", math.Floor(v*10)/10) }

// LastReplaceMasterKey returns the newest "encryption: persisted result after
// replace master key." event (tikvlog.MsgPersistedReplaceMasterKey) among the
// stores' log events, and the store that logged it; ok is false when none
// was seen (only the end of each tikv.log is read).
func LastReplaceMasterKey(rep *Report) (at time.Time, store uint64, ok bool) {
	for _, s := range rep.Stores {
		if s.Log == nil {
			continue
		}
		for _, ev := range s.Log.Events {
			if ev.Name != tikvlog.MsgPersistedReplaceMasterKey.Name || ev.Time == nil {
				continue
			}
			if !ok || ev.Time.After(at) {
				at, store, ok = *ev.Time, s.StoreID, true
			}
		}
	}
	return at, store, ok
}
