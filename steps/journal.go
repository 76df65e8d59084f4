package steps

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Journal record states.
const (
	StateStarted = "started"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Record is one line of the journal: a step transition of a run.
type Record struct {
	Time       time.Time         `json:"time"`
	Run        string            `json:"run"`
	Kind       string            `json:"kind"` // apply | rotate | disable | change-method
	PlanDigest string            `json:"plan_digest,omitempty"`
	Step       string            `json:"step"`
	StoreID    uint64            `json:"store_id,omitempty"`
	Batch      int               `json:"batch,omitempty"`
	State      string            `json:"state"`
	Detail     map[string]string `json:"detail,omitempty"`
}

// Journal is an append-only, fsynced NDJSON file: one record per step
// transition, so a crashed or killed run can be resumed or safely aborted.
// It never holds key material (only paths, ids, fingerprints).
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenJournal opens (creating) the journal file for appending.
func OpenJournal(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating journal directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening journal %s: %w", path, err)
	}
	return &Journal{f: f, path: path}, nil
}

// Path returns the journal file path.
func (j *Journal) Path() string { return j.path }

// Append writes r and fsyncs before returning.
func (j *Journal) Append(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding journal record: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("syncing journal %s: %w", j.path, err)
	}
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadJournal reads every record. A torn last line (a crash mid-write) is ignored.
func ReadJournal(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	defer f.Close()
	return readRecords(f, path)
}

func readRecords(r io.Reader, path string) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	line := 0
	var pendingErr error
	for sc.Scan() {
		line++
		if pendingErr != nil {
			return nil, pendingErr // a bad line that is not the last one is corruption
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			pendingErr = fmt.Errorf("%s:%d: corrupt journal record: %w", path, line, err)
			continue
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// RunState is what the journal says about the last run.
type RunState struct {
	Run        string
	Kind       string
	PlanDigest string
	Finished   bool              // the run recorded its end (success or clean abort)
	Done       map[string]bool   // "step/store" keys that completed
	Evicted    map[uint64]bool   // stores with an evict-leader scheduler the run added and did not remove
	Details    map[string]string // merged details, last wins (e.g. "backup/<store>")
	// LimitToRestore is PD's original leader-schedule-limit when the run raised
	// it and did not record putting it back ("" otherwise).
	LimitToRestore string
	Records        []Record
}

// LastRun summarises the most recent run in the records; ok is false when there is none.
func LastRun(recs []Record) (RunState, bool) {
	if len(recs) == 0 {
		return RunState{}, false
	}
	last := recs[len(recs)-1].Run
	st := RunState{Run: last, Done: map[string]bool{}, Evicted: map[uint64]bool{}, Details: map[string]string{}}
	for _, r := range recs {
		if r.Run != last {
			continue
		}
		st.Records = append(st.Records, r)
		if st.Kind == "" {
			st.Kind, st.PlanDigest = r.Kind, r.PlanDigest
		}
		for k, v := range r.Detail {
			st.Details[k] = v
		}
		if r.State == StateDone {
			st.Done[doneKey(r.Step, r.StoreID)] = true
		}
		switch {
		case r.Step == StepScheduleLimit && r.State == StateStarted:
			st.LimitToRestore = r.Detail["original"]
		case r.Step == StepScheduleLimit && r.State == StateDone:
			st.LimitToRestore = ""
		case r.Step == StepEvict && r.State == StateStarted:
			st.Evicted[r.StoreID] = true
		case r.Step == StepRelease && r.State == StateDone:
			delete(st.Evicted, r.StoreID)
		case r.Step == StepRun && (r.State == StateDone || r.State == StateFailed):
			st.Finished = true
		case r.Step == StepRun && r.State == StateStarted:
			st.Finished = false
		}
	}
	if st.LimitToRestore != "" {
		st.Finished = false // PD still runs with the raised limit: resume or abort restores it
	}
	return st, true
}

func doneKey(step string, store uint64) string { return fmt.Sprintf("%s/%d", step, store) }
