package ui

import (
	"bytes"
	"context"
	"image/color"
	"strconv"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/tikv-ear/tikv-ear/steps"
)

type recSink struct {
	mu  sync.Mutex
	got []steps.Event
	ch  chan steps.Event
}

func (r *recSink) Emit(e steps.Event) {
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
	r.ch <- e
}

func TestStepGateHoldsTheNextStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recSink{ch: make(chan steps.Event, 10)}
	g := NewStepGate(ctx, rec)
	g.Emit(steps.Event{Kind: steps.NodeLog, Message: "x"}) // open gate: passes
	<-rec.ch
	g.Pause()
	g.Emit(steps.Event{Kind: steps.StepProgress}) // only step starts are held
	<-rec.ch
	done := make(chan struct{})
	go func() { g.Emit(steps.Event{Kind: steps.StepStarted, Step: steps.StepSwap}); close(done) }()
	if e := <-rec.ch; e.Kind != steps.Info || !strings.Contains(e.Message, "paused by the operator before swap") {
		t.Fatalf("first event while paused: %+v", e)
	}
	// The swap start is held: it can only arrive after Resume.
	g.Resume()
	if e := <-rec.ch; e.Kind != steps.StepStarted {
		t.Fatalf("after resume got %+v", e)
	}
	<-done

	g.Pause()
	go func() { g.Emit(steps.Event{Kind: steps.StepStarted, Step: steps.StepRestart}) }()
	<-rec.ch // the pause notice
	cancel() // an abort always lets the engine go on to clean up
	if e := <-rec.ch; e.Step != steps.StepRestart {
		t.Fatalf("after cancel got %+v", e)
	}
}

func TestDeciderAnswersAndCancels(t *testing.T) {
	msgs := make(chan any, 1)
	d := NewDecider(func(m tea.Msg) { msgs <- m })
	dec := steps.Decision{ID: "x", Options: []string{"a", "b"}, Default: "a"}
	go func() {
		m := (<-msgs).(DecisionMsg)
		answer(m.reply, "b")()
	}()
	choice, by, err := d.Decide(context.Background(), dec)
	if choice != "b" || by != "operator" || err != nil {
		t.Fatalf("got %q %q %v", choice, by, err)
	}
	go func() { m := (<-msgs).(DecisionMsg); answer(m.reply, "zzz")() }()
	if _, _, err := d.Decide(context.Background(), dec); err == nil || !strings.Contains(err.Error(), "not one of its options") {
		t.Fatalf("a foreign answer was accepted: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := d.Decide(ctx, dec); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("cancelled decide: %v", err)
	}
}

func TestFieldValidator(t *testing.T) {
	v := fieldValidator(BackendField{Key: "key-id", Label: "Key ID", Required: true, Pattern: `^alias/`, PatternHelp: "use alias/..."})
	for in, want := range map[string]string{"": "key id is required", "mykey": "key id: use alias/...", "alias/tikv": ""} {
		err := v(in)
		if (want == "") != (err == nil) || (err != nil && err.Error() != want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
	if err := fieldValidator(BackendField{Key: "k", Label: "K", Pattern: "("})("x"); err == nil || !strings.Contains(err.Error(), "does not compile") {
		t.Errorf("bad pattern: %v", err)
	}
}

func TestParseEndpoints(t *testing.T) {
	got, err := ParseEndpoints(" http://pd-1:2379, pd-2:2379 ,,https://pd-3:2379")
	if err != nil || strings.Join(got, " ") != "http://pd-1:2379 pd-2:2379 https://pd-3:2379" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"pd-1", "ftp://pd:2379", "http://"} {
		if _, err := ParseEndpoints(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestColorProfileHonoursNoColor(t *testing.T) {
	var out bytes.Buffer
	// TTY_FORCE makes colorprofile treat the buffer as the terminal it stands for.
	tty := ColorProfile(&out, []string{"TERM=xterm-256color", "TTY_FORCE=1"})
	if tty <= colorprofile.Ascii {
		t.Fatalf("a 256-colour terminal gave %v", tty)
	}
	if p := ColorProfile(&out, []string{"TERM=xterm-256color", "TTY_FORCE=1", "NO_COLOR=1"}); p > colorprofile.Ascii {
		t.Fatalf("NO_COLOR gave %v", p)
	}
}

func TestStylesFollowTheBackground(t *testing.T) {
	dark, light := NewStyles(true), NewStyles(false)
	if dark.Title.GetForeground() == light.Title.GetForeground() {
		t.Fatal("the title colour does not change with the background")
	}
}

func TestAccessiblePromptsRunOutsideTheProgram(t *testing.T) {
	m := New(context.Background(), nil, Options{Accessible: true}, nil)
	if cmd := m.connectForm(); cmd == nil || m.form != nil {
		t.Fatal("an accessible prompt was embedded instead of run as plain questions")
	}
	if m.View().AltScreen {
		t.Fatal("accessible mode uses the alternate screen")
	}
	// What the tea.Exec command runs: the form, line by line, on the terminal.
	v := &formValues{path: "plan.toml"}
	f := m.newForm(huhSaveGroup(v))
	var out bytes.Buffer
	a := &accessibleForm{form: f}
	a.SetStdin(strings.NewReader("staged.toml\n"))
	a.SetStdout(&out)
	a.SetStderr(&out)
	if err := a.Run(); err != nil {
		t.Fatal(err)
	}
	if v.path != "staged.toml" {
		t.Fatalf("path %q after the prompt; output:\n%s", v.path, out.String())
	}
	if !strings.Contains(out.String(), "Save the plan to") {
		t.Fatalf("the prompt was not written:\n%s", out.String())
	}
}

func TestBackgroundColourReachesStylesAndForms(t *testing.T) {
	m := New(context.Background(), nil, Options{}, nil)
	m.Update(tea.BackgroundColorMsg{Color: color.White})
	if m.styles.IsDark {
		t.Fatal("a white background kept the dark styles")
	}
	m.connectForm()
	if m.form == nil || m.bg == nil {
		t.Fatal("no embedded form, or the background was not kept for it")
	}
	m.Update(tea.BackgroundColorMsg{Color: color.Black})
	if !m.styles.IsDark {
		t.Fatal("a black background kept the light styles")
	}
}

// The Connect table fits 80 columns with a KMS master key named in the
// ENCRYPTION column: the address column gives way, no row wraps, and the
// cell is whole.
func TestStoreTableEncryptionFits80Columns(t *testing.T) {
	var rows []StoreRow
	for i, mk := range []string{"kms (azure)", "kms (gcp)", "file", ""} {
		rows = append(rows, StoreRow{ID: uint64(i + 1), Address: "tikv-store-host-number-0" + strconv.Itoa(i) + ".example:20160", Zone: "z1", Version: "8.5.2", State: "Up", Leaders: 100, Encryption: "aes256-ctr", MasterKey: mk})
	}
	rows[3].Encryption = "plaintext"
	got := storeTable(NewStyles(true), rows, 80, 10)
	for _, l := range strings.Split(got, "\n") {
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("a %d-column line at 80 columns: %q", w, l)
		}
	}
	for _, want := range []string{"aes256-ctr (kms (azure))", "aes256-ctr (kms (gcp))", "aes256-ctr (file)", "plaintext", "ENCRYPTION"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
