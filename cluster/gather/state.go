package gather

import (
	"fmt"
	"math"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
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

// notServing explains a store whose status port does not answer.
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
			msg := ev.Message
			if ev.Error != "" {
				msg = ev.Error
				if ev.Code != "" {
					msg += " (" + ev.Code + ")"
				}
			}
			return StateFailing, "TiKV is not serving; its last start failed: " + msg
		}
		return StateFailing, "TiKV is not serving; its last start failed with a FATAL line in tikv.log"
	}
	state := s.PD.StateName
	if state == "" {
		state = "unknown to PD"
	}
	if !s.Reachable {
		return StateUnknown, fmt.Sprintf("the status port does not answer and the host cannot be reached over SSH (PD: %s)", state)
	}
	return StateUnknown, fmt.Sprintf("the status port does not answer (PD: %s) and tikv.log shows no failed start", state)
}

// pct renders a percentage rounded down to one decimal, so that 99.96 is
// not shown as 100.
func pct(v float64) string { return fmt.Sprintf("%.1f%%", math.Floor(v*10)/10) }

// LastReplaceMasterKey returns the newest "encryption: persisted result after
// replace master key." event (tikv.MsgPersistedReplaceMasterKey) among the
// stores' log events, and the store that logged it; ok is false when none
// was seen (only the end of each tikv.log is read).
func LastReplaceMasterKey(rep *Report) (at time.Time, store uint64, ok bool) {
	for _, s := range rep.Stores {
		if s.Log == nil {
			continue
		}
		for _, ev := range s.Log.Events {
			if ev.Name != tikv.MsgPersistedReplaceMasterKey.Name || ev.Time == nil {
				continue
			}
			if !ok || ev.Time.After(at) {
				at, store, ok = *ev.Time, s.StoreID, true
			}
		}
	}
	return at, store, ok
}
