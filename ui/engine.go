package ui

import (
	"context"
	"fmt"
	"slices"
	"sync"

	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

// DecisionMsg carries a decision the engine asks into the program. The
// dashboard shows it inline; the operator's pick goes back on the reply channel.
type DecisionMsg struct {
	Decision steps.Decision
	reply    chan<- string
}

// Decider is the steps.Decider the wizard hands to Apply: Decide sends the
// question into the program and blocks until the operator picks an option or
// ctx ends.
type Decider struct {
	send func(tea.Msg)
}

// NewDecider returns a Decider that delivers questions with send (usually
// (*tea.Program).Send).
func NewDecider(send func(tea.Msg)) *Decider { return &Decider{send: send} }

// Decide asks the operator.
func (d *Decider) Decide(ctx context.Context, dec steps.Decision) (string, string, error) {
	reply := make(chan string, 1)
	msg := DecisionMsg{Decision: dec, reply: reply}
	// Send blocks until the program takes the message and returns once the
	// program has ended, so it runs beside the wait for the reply.
	go d.send(msg)
	select {
	case choice := <-reply:
		if !slices.Contains(dec.Options, choice) {
			return "", "", fmt.Errorf("decision %s: %q is not one of its options", dec.ID, choice)
		}
		return choice, "operator", nil
	case <-ctx.Done():
		return "", "", fmt.Errorf("waiting for the operator to decide %s: %w", dec.ID, ctx.Err())
	}
}

// answer returns the command that delivers the operator's choice.
func answer(reply chan<- string, choice string) tea.Cmd {
	return func() tea.Msg {
		reply <- choice // buffered: never blocks
		return nil
	}
}

// StepGate is a steps.Sink in front of another sink that makes pausing real:
// while paused, the engine blocks in Emit of its next StepStarted event, that
// is before it begins any new step. Steps already running finish, decisions
// are still asked, and cancelling ctx (abort) always lets the engine go on to
// clean up.
type StepGate struct {
	ctx  context.Context
	next steps.Sink

	mu     sync.Mutex
	paused bool
	resume chan struct{}
}

// NewStepGate returns an open gate forwarding to next.
func NewStepGate(ctx context.Context, next steps.Sink) *StepGate {
	return &StepGate{ctx: ctx, next: next}
}

// Pause closes the gate before the next step.
func (g *StepGate) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused = true
		g.resume = make(chan struct{})
	}
}

// Resume opens the gate.
func (g *StepGate) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resume)
	}
}

// Paused reports whether the gate is closed.
func (g *StepGate) Paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// Emit forwards e, first waiting while paused if e starts a step.
func (g *StepGate) Emit(e steps.Event) {
	if e.Kind == steps.StepStarted {
		g.mu.Lock()
		paused, resume := g.paused, g.resume
		g.mu.Unlock()
		if paused {
			g.next.Emit(steps.Event{Time: e.Time, Kind: steps.Info, Step: e.Step, StoreID: e.StoreID, Store: e.Store, Batch: e.Batch, Message: "paused by the operator before " + e.Step})
			select {
			case <-resume:
			case <-g.ctx.Done():
			}
		}
	}
	g.next.Emit(e)
}

// eventMsg is one engine event pulled from the buffer.
type eventMsg struct{ e steps.Event }

// eventsClosedMsg says the buffer is closed and drained.
type eventsClosedMsg struct{}

// waitEvent pulls one event from b (the channel-pull pattern): the engine
// never waits for the terminal, and the model re-issues it after each event.
func waitEvent(b *steps.Buffered) tea.Cmd {
	return func() tea.Msg {
		e, ok := b.Next()
		if !ok {
			return eventsClosedMsg{}
		}
		return eventMsg{e}
	}
}
