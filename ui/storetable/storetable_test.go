package storetable

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

var sample = []Row{
	{StoreID: 1, Node: "tikv-1", Address: "127.0.0.1:40001", Zone: "z1", Version: "8.5.2", State: "Up", Leaders: 4, Regions: 12, Unit: "tikv-40001.service", UnitState: "active", SSHPort: 41001},
	{StoreID: 2, Node: "tikv-2", Address: "127.0.0.1:40003", Zone: "z2", Version: "6.1.2", State: "Disconnected", Leaders: 0, Regions: 12, Unit: "tikv-40003.service", UnitState: "activating", SSHPort: 41002},
}

func TestPlainAlignsColumns(t *testing.T) {
	got := Plain(sample)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header + 2 rows, got:\n%s", got)
	}
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "Up") && !strings.HasPrefix(l[col:], "Disconnected") {
			t.Fatalf("STATE column not aligned at %d:\n%s", col, got)
		}
	}
	if strings.Contains(got, "\x1b[") {
		t.Fatal("plain output contains ANSI escapes")
	}
}

func TestModelPollsThroughCommands(t *testing.T) {
	calls := 0
	m := New("sim", func() []Row { calls++; return sample }, time.Second)
	if calls != 0 {
		t.Fatal("New must not fetch")
	}
	msg := m.poll(0)()
	if calls != 1 {
		t.Fatalf("the poll command fetched %d times", calls)
	}
	next, cmd := m.Update(msg)
	if cmd == nil {
		t.Fatal("rows must schedule the next poll")
	}
	if calls != 1 {
		t.Fatal("Update fetched rows itself")
	}
	view := ansi.Strip(next.View().Content)
	for _, want := range []string{"tikv-1", "Disconnected", "q to quit"} {
		if !strings.Contains(view, want) {
			t.Fatalf("view lacks %q:\n%s", want, view)
		}
	}
	_, cmd = next.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil {
		t.Fatal("q must quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q did not return tea.Quit")
	}
}

func TestViewTruncatesToWidth(t *testing.T) {
	m := New("sim", func() []Row { return sample }, time.Second)
	next, _ := m.Update(tea.WindowSizeMsg{Width: 30, Height: 10})
	next, _ = next.Update(rowsMsg(sample))
	for _, l := range strings.Split(next.View().Content, "\n") {
		if w := ansi.StringWidth(l); w > 30 {
			t.Fatalf("line wider than 30 (%d): %q", w, ansi.Strip(l))
		}
	}
}
