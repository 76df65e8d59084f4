// Package storetable is a small live table of TiKV stores for the terminal:
// a plain renderer for logs and pipes, and a bubbletea v2 model that polls a
// fetch function through tea.Tick commands (never in Update) and redraws.
// It knows nothing of where the rows come from.
package storetable

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Row is one store.
type Row struct {
	StoreID   uint64
	Node      string
	Address   string
	Zone      string
	Version   string
	State     string // PD state_name: Up, Disconnected, Down, Offline, Tombstone
	Leaders   int
	Regions   int
	Unit      string
	UnitState string
	SSHPort   int
}

var headers = []string{"STORE", "NODE", "ADDRESS", "ZONE", "VERSION", "STATE", "LEADERS", "REGIONS", "UNIT", "SYSTEMD", "SSH"}

func cells(r Row) []string {
	return []string{
		strconv.FormatUint(r.StoreID, 10), r.Node, r.Address, r.Zone, r.Version, r.State,
		strconv.Itoa(r.Leaders), strconv.Itoa(r.Regions), r.Unit, r.UnitState, strconv.Itoa(r.SSHPort),
	}
}

// Plain renders the table without colour, columns separated by two spaces.
func Plain(rows []Row) string {
	return render(rows, func(_ int, _ Row, s string) string { return s }, func(s string) string { return s })
}

// Styles are the table's colours.
type Styles struct {
	Header, Up, Warn, Bad, Footer lipgloss.Style
}

// DefaultStyles returns the table's styles for a dark or light background.
func DefaultStyles(isDark bool) Styles {
	ld := lipgloss.LightDark(isDark)
	return Styles{
		Header: lipgloss.NewStyle().Bold(true),
		Up:     lipgloss.NewStyle().Foreground(ld(lipgloss.Color("#047857"), lipgloss.Color("#34D399"))),
		Warn:   lipgloss.NewStyle().Foreground(ld(lipgloss.Color("#B45309"), lipgloss.Color("#FBBF24"))),
		Bad:    lipgloss.NewStyle().Foreground(ld(lipgloss.Color("#B91C1C"), lipgloss.Color("#F87171"))),
		Footer: lipgloss.NewStyle().Faint(true),
	}
}

// Styled renders the table with the state column coloured.
func (s Styles) Styled(rows []Row) string {
	stateCol := 5
	return render(rows, func(col int, r Row, cell string) string {
		if col != stateCol {
			return cell
		}
		switch r.State {
		case "Up":
			return s.Up.Render(cell)
		case "Disconnected", "Offline":
			return s.Warn.Render(cell)
		default:
			return s.Bad.Render(cell)
		}
	}, func(h string) string { return s.Header.Render(h) })
}

// render aligns the columns by their visible width; style paints a padded cell.
func render(rows []Row, style func(col int, r Row, cell string) string, header func(string) string) string {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = len(h)
	}
	all := make([][]string, len(rows))
	for i, r := range rows {
		all[i] = cells(r)
		for j, c := range all[i] {
			widths[j] = max(widths[j], ansi.StringWidth(c))
		}
	}
	var b strings.Builder
	line := make([]string, len(headers))
	for j, h := range headers {
		line[j] = pad(h, widths[j], j == len(headers)-1)
	}
	b.WriteString(header(strings.Join(line, "  ")) + "\n")
	for i, r := range rows {
		for j, c := range all[i] {
			line[j] = style(j, r, pad(c, widths[j], j == len(headers)-1))
		}
		b.WriteString(strings.Join(line, "  ") + "\n")
	}
	return b.String()
}

func pad(s string, w int, last bool) string {
	if last {
		return s
	}
	return s + strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))
}

// rowsMsg carries a fresh fetch.
type rowsMsg []Row

// Model is the live table: it fetches rows every Interval through a command.
type Model struct {
	title    string
	fetch    func() []Row
	interval time.Duration
	rows     []Row
	styles   Styles
	width    int
	quitting bool
}

// New returns a model that shows title above the rows fetch returns, polling every interval.
func New(title string, fetch func() []Row, interval time.Duration) Model {
	return Model{title: title, fetch: fetch, interval: interval, styles: DefaultStyles(true)}
}

// Rows returns the rows last received.
func (m Model) Rows() []Row { return m.rows }

// Init fetches at once.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.poll(0), tea.RequestBackgroundColor)
}

// poll fetches after d inside a command.
func (m Model) poll(d time.Duration) tea.Cmd {
	fetch := m.fetch
	if d <= 0 {
		return func() tea.Msg { return rowsMsg(fetch()) }
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return rowsMsg(fetch()) })
}

// Update handles keys, sizes, the background colour and fetched rows.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case rowsMsg:
		m.rows = msg
		return m, m.poll(m.interval)
	case tea.BackgroundColorMsg:
		m.styles = DefaultStyles(msg.IsDark())
	case tea.WindowSizeMsg:
		m.width = msg.Width
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "esc", "ctrl+c":
			m.quitting = true
			return m, tea.Quit
		}
	}
	return m, nil
}

// View renders the title, the table and a key hint.
func (m Model) View() tea.View {
	var b strings.Builder
	b.WriteString(m.styles.Header.Render(m.title) + "\n\n")
	if m.rows == nil {
		b.WriteString("waiting for PD…\n")
	} else {
		b.WriteString(m.styles.Styled(m.rows))
	}
	if !m.quitting {
		b.WriteString("\n" + m.styles.Footer.Render(fmt.Sprintf("refreshing every %s · q to quit", m.interval)) + "\n")
	}
	s := b.String()
	if m.width > 0 {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = ansi.Truncate(l, m.width, "…")
		}
		s = strings.Join(lines, "\n")
	}
	return tea.NewView(s)
}
