package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

// Operations a command performs; resultMsg.op names which one answered.
const (
	opJournal = "journal"
	// opResumeJournal reads the journal again when the operator picks
	// Resume: another tikv-ear (apply --resume, --abort) may have ended the
	// run since home read it.
	opResumeJournal = "journal-resume"
	opAbortRun      = "abort-unfinished"
	opDiscover      = "discover"
	opAlgorithms    = "algorithms"
	opBackends      = "backends"
	opPreflight     = "preflight"
	opPlan          = "plan"
	opSave          = "save"
	opApply         = "apply"
	opVerify        = "verify"
	opSchedule      = "schedule"
	opReport        = "report"
)

func busyText(op string) string {
	switch op {
	case opJournal, opResumeJournal:
		return "reading the run journal…"
	case opAbortRun:
		return "cleaning up after the unfinished run…"
	case opDiscover:
		return "discovering the cluster: PD stores, hosts, current encryption…"
	case opAlgorithms:
		return "checking version gates and measuring AES-CTR throughput…"
	case opBackends:
		return "listing key backends…"
	case opPreflight:
		return "running preflight checks (read-only)…"
	case opPlan:
		return "building the plan and the per-node diffs…"
	case opSave:
		return "saving the plan…"
	case opVerify:
		return "gathering evidence from every store…"
	case opSchedule:
		return "listing rotation schedules…"
	case opReport:
		return "writing and signing the report…"
	case opAudit:
		return "auditing (read-only): every store's config, key.dict, metrics and files, the key backend; then signing the report…"
	}
	return op + "…"
}

// resultMsg is the answer of one Driver call.
type resultMsg struct {
	op  string
	val any
	err error
}

// call wraps a Driver call as a command. The command only calls the driver
// and returns what it said; it never touches the model.
func call[T any](op string, f func() (T, error)) tea.Cmd {
	return func() tea.Msg {
		v, err := f()
		return resultMsg{op: op, val: v, err: err}
	}
}

func journalCmd(ctx context.Context, d Driver) tea.Cmd {
	return call(opJournal, func() (*Unfinished, error) { return d.Journal(ctx) })
}

func resumeJournalCmd(ctx context.Context, d Driver) tea.Cmd {
	return call(opResumeJournal, func() (*Unfinished, error) { return d.Journal(ctx) })
}

func abortUnfinishedCmd(ctx context.Context, d Driver, u Unfinished) tea.Cmd {
	return call(opAbortRun, func() (struct{}, error) { return struct{}{}, d.AbortUnfinished(ctx, u) })
}

func discoverCmd(ctx context.Context, d Driver, in ConnectInput) tea.Cmd {
	return call(opDiscover, func() (Discovery, error) { return d.Discover(ctx, in) })
}

func algorithmsCmd(ctx context.Context, d Driver, disc Discovery) tea.Cmd {
	return call(opAlgorithms, func() ([]AlgorithmOption, error) { return d.Algorithms(ctx, disc) })
}

func backendsCmd(ctx context.Context, d Driver, disc Discovery, env string) tea.Cmd {
	return call(opBackends, func() ([]BackendOption, error) { return d.Backends(ctx, disc, env) })
}

func preflightCmd(ctx context.Context, d Driver, c Choices) tea.Cmd {
	return call(opPreflight, func() ([]steps.Check, error) { return d.Preflight(ctx, c) })
}

func planCmd(ctx context.Context, d Driver, c Choices) tea.Cmd {
	return call(opPlan, func() (PlanPreview, error) { return d.BuildPlan(ctx, c) })
}

func saveCmd(ctx context.Context, d Driver, p PlanPreview, path string) tea.Cmd {
	return call(opSave, func() (string, error) {
		if err := d.SavePlan(ctx, p, path); err != nil {
			return "", fmt.Errorf("saving the plan to %s: %w", path, err)
		}
		return path, nil
	})
}

// applyCmd runs the rollout. Events go through gate into buf; buf is closed
// when Apply returns so the event pump drains and stops.
// finished is closed when Apply has returned, so Run can wait for the engine's cleanup.
func applyCmd(ctx context.Context, d Driver, p PlanPreview, gate *StepGate, buf *steps.Buffered, dec steps.Decider, finished chan struct{}) tea.Cmd {
	return func() tea.Msg {
		res, err := d.Apply(ctx, p, gate, dec)
		buf.Close()
		close(finished)
		return resultMsg{op: opApply, val: res, err: err}
	}
}

func verifyCmd(ctx context.Context, d Driver, p PlanPreview) tea.Cmd {
	return call(opVerify, func() ([]StoreEvidence, error) { return d.Verify(ctx, p) })
}

func scheduleCmd(ctx context.Context, d Driver, p PlanPreview) tea.Cmd {
	return call(opSchedule, func() ([]ScheduleOption, error) { return d.ScheduleOptions(ctx, p) })
}

func reportCmd(ctx context.Context, d Driver, r *steps.Result, p PlanPreview) tea.Cmd {
	return call(opReport, func() (ReportFiles, error) { return d.WriteReport(ctx, r, p) })
}

// cancelCmd cancels the rollout's context: the engine stops at its next
// check and runs its cleanup (evict-leader schedulers removed) before Apply returns.
func cancelCmd(cancel context.CancelFunc) tea.Cmd {
	return func() tea.Msg {
		cancel()
		return nil
	}
}

// handleResult routes a Driver answer; answers for an operation no longer in
// flight (the operator went back) are dropped.
func (m *Model) handleResult(r resultMsg) tea.Cmd {
	if r.op == opApply {
		return m.applied(r)
	}
	if r.op != m.busy {
		return nil
	}
	m.busy = ""
	if r.err != nil {
		m.err = r.err
		if r.op == opJournal { // a journal we cannot read must not block a fresh start
			m.screen = ScreenConnect
			return m.connectForm()
		}
		return nil
	}
	switch r.op {
	case opResumeJournal:
		u, _ := r.val.(*Unfinished)
		m.unfinished = u
		if u == nil {
			m.stopped = nil // this session's stopped run is the one that ended elsewhere
			m.goHome()
			m.notice = "the interrupted run has ended since this screen read the journal (another tikv-ear resumed or aborted it): nothing to resume"
			return nil
		}
		m.screen = ScreenResume
		return nil
	case opJournal:
		if u, _ := r.val.(*Unfinished); u != nil {
			m.unfinished = u
			if m.opts.Home {
				return m.goHome()
			}
			m.screen = ScreenResume
			return nil
		}
		if m.opts.Home {
			return m.goHome()
		}
		m.screen = ScreenConnect
		if len(m.connect.PD) > 0 || m.connect.TiUPName != "" {
			return m.start(opDiscover, discoverCmd(m.ctx, m.driver, m.connect))
		}
		return m.connectForm()
	case opAbortRun:
		m.unfinished = nil
		if m.opts.Home {
			m.goHome()
			m.notice = "the unfinished run was cleaned up"
			return nil
		}
		m.notice = "the unfinished run was cleaned up"
		m.screen = ScreenConnect
		return m.connectForm()
	case opDiscover:
		d := r.val.(Discovery)
		m.disc = &d
		m.algos, m.backends, m.checks, m.checked, m.preview = nil, nil, nil, false, nil
	case opAlgorithms:
		m.algos = r.val.([]AlgorithmOption)
		m.algoIdx = firstEnabledAlgo(m.algos)
	case opBackends:
		m.backends = r.val.([]BackendOption)
		m.backendIdx = firstEnabledBackend(m.backends)
	case opPreflight:
		m.checks, m.checked = r.val.([]steps.Check), true
		m.scroll.reset() // a new verdict starts at its top: failures first
	case opPlan:
		p := r.val.(PlanPreview)
		m.preview, m.diffIdx, m.confirmApply = &p, 0, false
		m.screen = ScreenPlan
		m.renderDiff()
	case opSave:
		m.notice = "plan saved to " + r.val.(string)
	case opVerify:
		m.evidence = r.val.([]StoreEvidence)
	case opSchedule:
		m.sched = r.val.([]ScheduleOption)
		m.schedIdx = 0
	case opAudit:
		a := r.val.(AuditResult)
		m.audit = &a
	case opReport:
		f := r.val.(ReportFiles)
		m.report = &f
		m.screen = ScreenReport
	}
	return nil
}

// leadersMsg is one reading of the stores' leader counts.
type leadersMsg struct {
	gen    int
	counts map[uint64]int
	err    error
}

// leadersTickMsg asks for the next reading.
type leadersTickMsg struct{ gen int }

// pollLeaders reads leader counts once, when the driver can.
func (m *Model) pollLeaders() tea.Cmd {
	lc, ok := m.driver.(LeaderCounter)
	if !ok {
		return nil
	}
	ctx, gen := m.ctx, m.pollGen
	return func() tea.Msg {
		counts, err := lc.LeaderCounts(ctx)
		return leadersMsg{gen: gen, counts: counts, err: err}
	}
}

// leadersRead folds a reading in and schedules the next one while the
// rollout runs. A driver that cannot count stops the loop; a failed read
// (a store restarting) is retried at the next tick.
func (m *Model) leadersRead(msg leadersMsg) tea.Cmd {
	if msg.gen != m.pollGen {
		return nil
	}
	if msg.err == nil {
		m.dash.leaderCounts(msg.counts)
	}
	if errors.Is(msg.err, errors.ErrUnsupported) || m.applyDone {
		return nil
	}
	every := m.opts.LeaderPoll
	if every <= 0 {
		every = time.Second
	}
	gen := msg.gen
	return tea.Tick(every, func(time.Time) tea.Msg { return leadersTickMsg{gen: gen} })
}
