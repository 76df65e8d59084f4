package steps

import (
	"fmt"
	"sync"
)

// maxLiveLogLines bounds the log lines one look adds to the dashboard's
// pane: a look that finds more says how many it left out (the verify step's
// evidence and the report keep every catalogue line).
const maxLiveLogLines = 8

// liveLog counts, per store, the catalogue lines of TiKV's log since the
// store's last restart already shown as node-log events, so that the
// readiness looks show each line once, as it appears, and verification adds
// only what they had not seen. The looks read the log anyway (for a FATAL
// start): showing their lines costs no remote command.
type liveLog struct {
	mu     sync.Mutex
	shown  map[uint64]int
	fatals map[uint64]bool
}

// restarted forgets what was shown of store's log before its restart.
func (lv *liveLog) restarted(store uint64) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	delete(lv.shown, store)
	delete(lv.fatals, store)
}

// unseen returns the names and FATAL message not shown yet, marks them
// shown, and how many names it left out beyond limit (limit < 0: none).
func (lv *liveLog) unseen(store uint64, names []string, fatal string, limit int) (fresh []string, freshFatal string, left int) {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.shown == nil {
		lv.shown, lv.fatals = map[uint64]int{}, map[uint64]bool{}
	}
	from := min(lv.shown[store], len(names))
	fresh = names[from:]
	if limit >= 0 && len(fresh) > limit {
		fresh, left = fresh[len(fresh)-limit:], len(fresh)-limit
	}
	lv.shown[store] = len(names)
	if fatal != "" && !lv.fatals[store] {
		freshFatal = fatal
		lv.fatals[store] = true
	}
	return fresh, freshFatal, left
}

// showLook emits the lines a readiness look read in the store's log that
// were not shown yet: the dashboard's log pane follows TiKV's start live.
func (r *Runner) showLook(step string, batch int, store uint64, l Look) {
	if l.LogErr != nil {
		return
	}
	names, fatal, left := r.live.unseen(store, l.LogNames, l.Fatal, maxLiveLogLines)
	if left > 0 {
		text := fmt.Sprintf("log: … %d earlier line(s) since the restart (verification reads them all)", left)
		r.emit(Event{Kind: NodeLog, Step: step, StoreID: store, Batch: batch, Message: text, Log: &LogLine{Text: text}})
	}
	for _, e := range logEvents(step, store, names, fatal) {
		e.Batch = batch
		r.emit(e)
	}
}

// verifyEvidence is LogEvidence without the lines the readiness looks
// already showed.
func (r *Runner) verifyEvidence(store uint64, st NodeState) []Event {
	if st.LogUnread != "" {
		return LogEvidence(store, st)
	}
	names, fatal, _ := r.live.unseen(store, st.LogMatches, st.Fatal, -1)
	return logEvents(StepVerify, store, names, fatal)
}
