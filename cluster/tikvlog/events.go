package tikvlog

import (
	"io"
	"strconv"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Event is one catalogue message found in a TiKV log.
type Event struct {
	// Msg is the catalogue entry; Msg.Name identifies the event
	// (MsgEnabled.Name, MsgRotateDataKey.Name, ...). Wording is the
	// release wording the line was written in.
	Msg     Msg
	Wording Wording
	// Record is the record the event was read from (Record.Line is its
	// 1-based line number; Record.Class says whether it was damaged).
	Record Record
	// Method is the data-encryption-method ("aes256-ctr") for enabled,
	// being-enabled, try-rotate and new-encrypted-file events, parsed from
	// the Rust Debug name.
	Method string
	// KeyID is the key_id field of a rotate-data-key event.
	KeyID uint64
	// Err is the error text of a failure (init failed, master key access,
	// raft engine), and Code the error code of an init failure ("KV:Encryption:Io").
	Err  string
	Code string
}

// MatchCatalogue returns the catalogue message a record is, if any.
func MatchCatalogue(r Record) (Msg, Wording, bool) {
	if !r.HasLevel() {
		return Msg{}, Wording{}, false
	}
	for _, m := range Catalogue() {
		if w, ok := m.Match(r.Message); ok {
			return m, w, true
		}
	}
	return Msg{}, Wording{}, false
}

// initFailedCodeSep separates error and code in MsgEncryptionInitFailed
// ("Encryption failed to initialize: {}. code: {}", components/server/src/common.rs).
const initFailedCodeSep = ". code: "

// EventFor builds the event of a record that matched catalogue message m in wording w.
func EventFor(m Msg, w Wording, r Record) Event {
	ev := Event{Msg: m, Wording: w, Record: r}
	tail := strings.TrimPrefix(r.Message, w.Text)
	switch m.Name {
	case MsgEnabled.Name, MsgBeingEnabled.Name, MsgTryRotateDataKey.Name:
		ev.Method = tikv.MethodFromDebugName(strings.TrimSpace(tail))
	case MsgNewEncryptedFile.Name:
		if v, ok := r.Field("method"); ok {
			ev.Method = tikv.MethodFromDebugName(v)
		}
	case MsgRotateDataKey.Name:
		if v, ok := r.Field("key_id"); ok {
			ev.KeyID, _ = strconv.ParseUint(v, 10, 64)
		}
	case MsgEncryptionInitFailed.Name:
		if i := strings.LastIndex(tail, initFailedCodeSep); i >= 0 {
			ev.Err, ev.Code = tail[:i], strings.TrimSpace(tail[i+len(initFailedCodeSep):])
		} else {
			ev.Err = tail
		}
	case MsgFailedAccessMasterKey.Name, MsgRaftEngineOpenFailed.Name:
		ev.Err = tail
	}
	return ev
}

// Scanner reads a TiKV log and yields its catalogue events; every record
// it reads, event or not, is counted by class.
type Scanner struct {
	rd *Reader
	ev Event
	// Counts is the number of records per class read so far.
	Counts map[Class]int
}

// NewScanner returns a scanner over r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{rd: NewReader(r), Counts: map[Class]int{}}
}

// Scan advances to the next catalogue event; it returns false at the end of
// the stream or on a read error (see Err).
func (s *Scanner) Scan() bool {
	for s.rd.Next() {
		r := s.rd.Record()
		s.Counts[r.Class]++
		m, w, ok := MatchCatalogue(r)
		if !ok {
			continue
		}
		s.ev = EventFor(m, w, r)
		return true
	}
	return false
}

// Event returns the current event.
func (s *Scanner) Event() Event { return s.ev }

// Err returns the read error that stopped the scan, if any.
func (s *Scanner) Err() error { return s.rd.Err() }
