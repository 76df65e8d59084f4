package ui_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/ui"
	"github.com/tikv-ear/tikv-ear/ui/uitest"
)

// harness drives a Model the way bubbletea would, but synchronously: commands
// run on goroutines, their messages come back on one channel, and Update is
// only ever called from the test goroutine.
type harness struct {
	t    testing.TB
	m    *ui.Model
	f    *uitest.Fake
	msgs chan tea.Msg
}

func newHarness(t testing.TB, f *uitest.Fake, opts ui.Options) *harness {
	t.Helper()
	h := &harness{t: t, f: f, msgs: make(chan tea.Msg, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dec := ui.NewDecider(func(msg tea.Msg) { h.msgs <- msg })
	if opts.Rotate {
		h.m = ui.NewRotate(ctx, f, opts, dec)
	} else {
		h.m = ui.New(ctx, f, opts, dec)
	}
	h.update(tea.WindowSizeMsg{Width: 80, Height: 24})
	h.run(h.m.Init())
	return h
}

// run executes cmd in the background, flattening batches and sequences.
func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		h.deliver(msg)
	}()
}

func (h *harness) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
		return
	case spinner.TickMsg:
		return // animation: never fed back, so tests do not spin
	}
	// tea.Sequence's message is an unexported []tea.Cmd: run its commands in order.
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
		for i := 0; i < v.Len(); i++ {
			if c, _ := v.Index(i).Interface().(tea.Cmd); c != nil {
				h.deliver(c())
			}
		}
		return
	}
	h.msgs <- msg
}

func (h *harness) update(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// until feeds messages until ok holds; the deadline only guards against a hang.
func (h *harness) until(what string, ok func(m *ui.Model) bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for !ok(h.m) {
		select {
		case msg := <-h.msgs:
			h.update(msg)
		case <-deadline:
			h.t.Fatalf("waiting for %s: still on %s (busy %q, err %v)\n%s", what, h.m.Screen(), h.m.Busy(), h.m.Err(), h.view())
		}
	}
}

// idle waits for the screen with nothing in flight.
func (h *harness) idle(s ui.Screen) {
	h.t.Helper()
	h.until("screen "+s.String(), func(m *ui.Model) bool { return m.Screen() == s && m.Busy() == "" })
}

func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.update(keyPress(k))
	}
}

func (h *harness) size(w, ht int) { h.update(tea.WindowSizeMsg{Width: w, Height: ht}) }

func (h *harness) view() string { return ansi.Strip(h.m.View().Content) }

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "f1":
		return tea.KeyPressMsg{Code: tea.KeyF1}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// prefilled is a Connect prefill that starts discovery at once.
func prefilled() ui.Options {
	return ui.Options{Prefill: ui.ConnectInput{Environment: "production", PD: []string{"http://127.0.0.1:2379"}, SSHUser: "tidb"}}
}

// toPlan walks connect → algorithm → backend (form, preflight) → plan.
func (h *harness) toPlan() {
	h.t.Helper()
	h.idle(ui.ScreenConnect)
	h.press("enter")
	h.idle(ui.ScreenAlgorithm)
	h.press("enter")
	h.idle(ui.ScreenBackend)
	h.press("enter") // aws: opens its fields
	h.focus("Key ID")
	h.press("enter")
	h.focus("Region")
	h.press("enter")
	h.until("preflight", func(m *ui.Model) bool { return strings.Contains(h.view(), "Preflight") && m.Busy() == "" })
	h.press("enter")
	h.idle(ui.ScreenPlan)
}

func contains(t *testing.T, view string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(view, w) {
			t.Errorf("view lacks %q:\n%s", w, view)
		}
	}
}

// focus waits until the form field titled title has the focus (huh marks it with ┃).
func (h *harness) focus(title string) {
	h.t.Helper()
	h.until("focus on "+title, func(m *ui.Model) bool { return strings.Contains(h.view(), "┃ "+title) })
}
