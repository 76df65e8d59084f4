package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikvlog"
)

// Step names, in the order a store goes through them.
const (
	StepPreflight = "preflight"
	StepPrepare   = "prepare-keys"
	StepStage     = "stage"
	StepEvict     = "evict"
	StepSwap      = "swap"
	StepRestart   = "restart"
	StepReady     = "ready"
	StepVerify    = "verify"
	StepRelease   = "release"
	StepSettle    = "settle"
	StepRollback  = "rollback"
	StepFinalize  = "finalize"
	StepRun       = "run"
	// StepScheduleLimit raises PD's leader-schedule-limit for the run and restores it.
	StepScheduleLimit = "schedule-limit"
)

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	StepStarted  EventKind = "step-started"
	StepProgress EventKind = "step-progress"
	StepDone     EventKind = "step-done"
	StepFailed   EventKind = "step-failed"
	StepSkipped  EventKind = "step-skipped"
	NodeLog      EventKind = "node-log"
	MetricSample EventKind = "metric"
	DecisionAsk  EventKind = "decision"
	DecisionMade EventKind = "decision-made"
	Info         EventKind = "info"
	Warning      EventKind = "warning"
	RunDone      EventKind = "run-done"
)

// Event is one entry of the typed stream the wizard and the headless printers consume.
type Event struct {
	Time     time.Time `json:"time"`
	Kind     EventKind `json:"kind"`
	Step     string    `json:"step,omitempty"`
	Batch    int       `json:"batch,omitempty"`
	StoreID  uint64    `json:"store_id,omitempty"`
	Store    string    `json:"store,omitempty"`
	Message  string    `json:"message,omitempty"`
	Done     int       `json:"done,omitempty"`
	Total    int       `json:"total,omitempty"`
	Metrics  *Sample   `json:"metrics,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
	Error    string    `json:"error,omitempty"`
	// Log is a node-log event's line, classified by the engine.
	Log *LogLine `json:"log,omitempty"`
}

// LogLine is one line of a node's TiKV log as the engine classified it, so
// that no face parses TiKV's log format itself.
type LogLine struct {
	// Text is "15:04:05 LEVEL message" when the line is in TiKV's unified
	// format, else the line as it was.
	Text  string `json:"text"`
	Level string `json:"level,omitempty"`
	// Catalog names the catalogue message (an encryption line) it matches.
	Catalog string `json:"catalog,omitempty"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// ClassifyLog reads one TiKV log line (tikvlog.Classify: the unified log
// format, and damaged records whose level and message can be recovered, so a
// cut FATAL line still counts as FATAL) and marks it when it is one of the
// catalogue's encryption messages or FATAL.
func ClassifyLog(line string) LogLine {
	l := LogLine{Text: line}
	msg := line
	if pl := tikvlog.Classify(line); pl.HasLevel() {
		msg, l.Level = pl.Message, pl.Level
		l.Text = pl.Level + " " + pl.Message
		if !pl.Time.IsZero() {
			l.Text = pl.Time.Format("15:04:05") + " " + l.Text
		}
	}
	if m, ok := tikvlog.Lookup(msg); ok {
		l.Catalog = m.Name
		if l.Level == "" {
			l.Level = m.Level
		}
	}
	l.Fatal = l.Level == "FATAL"
	return l
}

// NodeLogEvent is the node-log event of one line of a store's TiKV log.
func NodeLogEvent(store uint64, line string) Event {
	l := ClassifyLog(line)
	return Event{Kind: NodeLog, StoreID: store, Message: l.Text, Log: &l}
}

// Sample is a metric reading from a store's status port.
type Sample struct {
	Leaders     int   `json:"leaders"`
	Regions     int   `json:"regions"`
	Initialized bool  `json:"encryption_initialized"`
	FileNum     int64 `json:"encryption_file_num"`
	DataKeys    int64 `json:"encryption_data_keys"`
}

// Decision is a question the runner meets (eviction timed out, verification failed).
type Decision struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Options  []string `json:"options"`
	Default  string   `json:"default"`
	// Typed names an option that is taken only when the operator types
	// "yes" after reading Consequences: never preselected, never one key.
	Typed string `json:"typed,omitempty"`
	// Consequences say what the Typed option destroys, one fact a line.
	Consequences []string `json:"consequences,omitempty"`
	Chosen       string   `json:"chosen,omitempty"`
	By           string   `json:"by,omitempty"` // "policy" or the operator
}

// Decider answers decisions: headless runs follow the plan's policies, the wizard asks.
type Decider interface {
	Decide(ctx context.Context, d Decision) (choice string, by string, err error)
}

// PolicyDecider answers every decision with its default (which the runner sets from the plan's policy).
type PolicyDecider struct{}

// Decide returns the default.
func (PolicyDecider) Decide(_ context.Context, d Decision) (string, string, error) {
	return d.Default, "policy", nil
}

// Sink receives events. Emit must not block the engine for long.
type Sink interface{ Emit(Event) }

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

// Fanout sends every event to each sink.
type Fanout []Sink

// Emit forwards e.
func (f Fanout) Emit(e Event) {
	for _, s := range f {
		s.Emit(e)
	}
}

// Buffered decouples a slow consumer (a terminal) from the engine: Emit never
// blocks; when the buffer is full the oldest progress, log and metric events are
// dropped (and counted), never step transitions or decisions.
type Buffered struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []Event
	max     int
	dropped int
	closed  bool
}

// NewBuffered returns a buffer holding up to max events.
func NewBuffered(max int) *Buffered {
	b := &Buffered{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func droppable(k EventKind) bool { return k == NodeLog || k == MetricSample || k == StepProgress }

// Emit queues e without blocking.
func (b *Buffered) Emit(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if len(b.queue) >= b.max {
		for i, q := range b.queue {
			if droppable(q.Kind) {
				b.queue = append(b.queue[:i], b.queue[i+1:]...)
				b.dropped++
				break
			}
		}
	}
	b.queue = append(b.queue, e)
	b.cond.Signal()
}

// Next blocks until an event is available; ok is false once closed and drained.
func (b *Buffered) Next() (Event, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) == 0 && !b.closed {
		b.cond.Wait()
	}
	if len(b.queue) == 0 {
		return Event{}, false
	}
	e := b.queue[0]
	b.queue = b.queue[1:]
	return e, true
}

// Close ends the stream after the queued events are read.
func (b *Buffered) Close() {
	b.mu.Lock()
	b.closed = true
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Dropped returns how many droppable events were discarded.
func (b *Buffered) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// JSONSink writes events as NDJSON (--output json).
type JSONSink struct {
	mu sync.Mutex
	W  io.Writer
}

// Emit writes one line.
func (s *JSONSink) Emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	s.W.Write(append(b, '\n'))
}

// LineSink prints events for people reading a terminal or a CI log.
type LineSink struct {
	mu      sync.Mutex
	W       io.Writer
	Verbose bool // include node log lines and metric samples
}

// Emit prints one line.
func (s *LineSink) Emit(e Event) {
	if !s.Verbose && (e.Kind == NodeLog || e.Kind == MetricSample || e.Kind == StepProgress) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	who := ""
	if e.StoreID != 0 {
		who = fmt.Sprintf(" store %d (%s)", e.StoreID, e.Store)
	}
	ts := e.Time.UTC().Format("15:04:05")
	switch e.Kind {
	case StepStarted:
		fmt.Fprintf(s.W, "%s ▸ %s%s %s\n", ts, e.Step, who, e.Message)
	case StepDone:
		fmt.Fprintf(s.W, "%s ✓ %s%s %s\n", ts, e.Step, who, e.Message)
	case StepSkipped:
		fmt.Fprintf(s.W, "%s – %s%s skipped: %s\n", ts, e.Step, who, e.Message)
	case StepFailed:
		fmt.Fprintf(s.W, "%s ✗ %s%s: %s\n", ts, e.Step, who, e.Error)
	case DecisionAsk:
		fmt.Fprintf(s.W, "%s ? %s%s: %s\n", ts, e.Step, who, e.Decision.Question)
	case DecisionMade:
		fmt.Fprintf(s.W, "%s → %s%s: %s (by %s)\n", ts, e.Step, who, e.Decision.Chosen, e.Decision.By)
	case Warning:
		fmt.Fprintf(s.W, "%s ! %s%s %s\n", ts, e.Step, who, e.Message)
	case RunDone:
		fmt.Fprintf(s.W, "%s ■ %s\n", ts, e.Message)
	default:
		fmt.Fprintf(s.W, "%s   %s%s %s\n", ts, e.Step, who, e.Message)
	}
}
