package tikvlog

import (
	"io"
	"slices"
	"time"
)

// OtherFatal names the events of FATAL records that are not catalogue
// messages: TiKV has many fatal start-up errors the catalogue does not name,
// and each still marks a failed start.
const OtherFatal = "fatal"

// MaxListed bounds how many damaged records an Analysis keeps for listing.
const MaxListed = 20

// Analysis is what a log says about the last start attempt of the process.
type Analysis struct {
	// Events are the catalogue events, oldest first.
	Events []Event
	// Counts is the number of records per class.
	Counts map[Class]int
	// StartLine is the line of the last "Welcome to TiKV" (0 when the read
	// part has none: then the whole text counts as the last attempt).
	StartLine int
	// StartTime is that record's timestamp (zero when none).
	StartTime time.Time
	// Failed is true when the last start outcome is a FATAL record (parsed
	// or recovered from a damaged one) with no successful encryption init
	// after it; Fatal is that record.
	Failed bool
	Fatal  *Record
	// Started is true when a successful encryption init outcome follows the
	// last start marker (and no FATAL after it).
	Started bool
	// Unparsed are the records after the last start from which no level
	// could be recovered (at most MaxListed, UnparsedTotal counts them all);
	// Partial likewise for the damaged records that were recovered.
	Unparsed      []Record
	UnparsedTotal int
	Partial       []Record
	PartialTotal  int
}

// initOutcomes are the catalogue messages that end a successful encryption
// init (reference tikv-encryption.md §3).
func initOutcomes() []string {
	return []string{MsgDisabled.Name, MsgBeingEnabled.Name, MsgEnabled.Name, MsgPersistedReplaceMasterKey.Name}
}

// Analyze reads a whole log (tikv.log or tikv_stderr.log) and works out how
// its last start attempt ended. It never drops a record: damaged ones are
// counted, and those after the last start are kept for listing.
func Analyze(r io.Reader) (Analysis, error) {
	a := Analysis{Counts: map[Class]int{}}
	rd := NewReader(r)
	outcomes := initOutcomes()
	for rd.Next() {
		rec := rd.Record()
		a.Counts[rec.Class]++
		m, w, isMsg := MatchCatalogue(rec)
		if rec.HasLevel() && MsgWelcome.Matches(rec.Message) {
			a.StartLine, a.StartTime, a.Failed, a.Fatal, a.Started = rec.Line, rec.Time, false, nil, false
			a.Unparsed, a.UnparsedTotal, a.Partial, a.PartialTotal = nil, 0, nil, 0
		}
		switch rec.Class {
		case Unparsed:
			a.UnparsedTotal++
			if len(a.Unparsed) < MaxListed {
				a.Unparsed = append(a.Unparsed, rec)
			}
		case Partial:
			a.PartialTotal++
			if len(a.Partial) < MaxListed {
				a.Partial = append(a.Partial, rec)
			}
		}
		switch {
		case isMsg:
			a.Events = append(a.Events, EventFor(m, w, rec))
		case rec.HasLevel() && rec.Level == "FATAL":
			a.Events = append(a.Events, Event{Msg: Msg{Name: OtherFatal, Level: "FATAL"}, Record: rec, Err: rec.Message})
		}
		switch {
		case rec.HasLevel() && rec.Level == "FATAL":
			a.Failed, a.Started = true, false
			rc := rec
			a.Fatal = &rc
		case isMsg && slices.Contains(outcomes, m.Name):
			a.Failed, a.Fatal, a.Started = false, nil, true
		}
	}
	return a, rd.Err()
}
