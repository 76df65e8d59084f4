package steps

import (
	"fmt"
	"slices"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
	"github.com/tikv-ear/tikv-ear/report"
)

// VerifyTarget returns the evidence rules a store must meet after a run of kind
// toward desired. Log rules apply only when the log since the restart was read.
func VerifyTarget(desired tikv.Encryption, kind string) func(NodePlan, NodeState) []string {
	return func(n NodePlan, st NodeState) []string {
		var problems []string
		if st.Fatal != "" {
			problems = append(problems, "FATAL in the log: "+st.Fatal)
		}
		encrypting := desired.EffectiveMethod() != tikv.MethodPlaintext
		keyed := desired.MasterKey.EffectiveType() != tikv.MasterKeyPlaintext
		if encrypting || keyed {
			if !st.Sample.Initialized {
				problems = append(problems, tikv.MetricIsInitialized+" is not 1")
			}
			if !st.KeyDict.Exists {
				problems = append(problems, tikv.KeyDictName+" is missing in "+n.DataDir)
			}
		}
		if keyed && st.KeyDict.Exists && st.KeyDict.Method != tikv.MetadataMethodAES256GCM {
			problems = append(problems, fmt.Sprintf("%s metadata method is %q: the data keys are not protected by the master key", tikv.KeyDictName, st.KeyDict.Method))
		}
		if desired.MasterKey.EffectiveType() == tikv.MasterKeyKMS && st.KeyDict.Exists && st.KeyDict.KMSVendor == "" {
			problems = append(problems, tikv.KeyDictName+" has no kms_vendor: it is not wrapped by the KMS key")
		}
		if st.LogMatches == nil {
			return problems
		}
		has := func(m tikvlog.Msg) bool { return slices.Contains(st.LogMatches, m.Name) }
		switch {
		case kind == KindRotate && desired.PreviousMasterKey.EffectiveType() != tikv.MasterKeyPlaintext:
			// The master-key rotation path logs the persisted line and not "enabled" (reference §3).
			if !has(tikvlog.MsgPersistedReplaceMasterKey) && !has(tikvlog.MsgEnabled) {
				problems = append(problems, fmt.Sprintf("the log shows neither %q nor %q", tikvlog.MsgPersistedReplaceMasterKey.Text, tikvlog.MsgEnabled.Text+"…"))
			}
		case encrypting:
			if !has(tikvlog.MsgBeingEnabled) && !has(tikvlog.MsgEnabled) {
				problems = append(problems, fmt.Sprintf("the log shows neither %q nor %q since the restart", tikvlog.MsgBeingEnabled.Text+"…", tikvlog.MsgEnabled.Text+"…"))
			}
		}
		return problems
	}
}

// LogEvidence returns the node-log events of what the verify step read in a
// store's TiKV log since its restart, for the dashboard's log pane and the
// verbose headless output: each catalogue encryption message found (in the
// catalogue's newest wording; tikvlog.Catalogue cites TiKV's source), the
// FATAL line, or one line saying the log could not be read (unknown, never
// clean). The engine keeps only these lines of TiKV's log; the catalogue's
// messages carry no key material, and the FATAL line and the reason pass
// through report.Redact as every report string does.
func LogEvidence(store uint64, st NodeState) []Event {
	if st.LogUnread != "" {
		l := LogLine{Text: report.Redact("TiKV log since the restart: unknown (not read: " + st.LogUnread + ")")}
		return []Event{{Kind: NodeLog, Step: StepVerify, StoreID: store, Message: l.Text, Log: &l}}
	}
	return logEvents(StepVerify, store, st.LogMatches, st.Fatal)
}

// logEvents are the node-log events of catalogue message names and a FATAL
// message read from a store's log (either may be empty), for step.
func logEvents(step string, store uint64, names []string, fatal string) []Event {
	var out []Event
	for _, name := range names {
		l := LogLine{Text: "log: " + name, Catalog: name}
		if m, ok := catalogueMsg(name); ok {
			text := m.Text
			if m.Prefix {
				text += "…"
			}
			l.Level, l.Text = m.Level, "log: "+m.Level+" "+text
		}
		out = append(out, Event{Kind: NodeLog, Step: step, StoreID: store, Message: l.Text, Log: &l})
	}
	if fatal != "" {
		l := LogLine{Text: report.Redact("log: FATAL " + fatal), Level: "FATAL", Fatal: true}
		out = append(out, Event{Kind: NodeLog, Step: step, StoreID: store, Message: l.Text, Log: &l})
	}
	return out
}

// catalogueMsg finds a catalogue message by its name.
func catalogueMsg(name string) (tikvlog.Msg, bool) {
	for _, m := range tikvlog.Catalogue() {
		if m.Name == name {
			return m, true
		}
	}
	return tikvlog.Msg{}, false
}
