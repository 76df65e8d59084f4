package report

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event statuses that open or close a phase (the values cli writes into Event.Status).
const (
	statusStarted = "started"
	statusOK      = "ok"
	statusFailed  = "failed"
	statusSkipped = "skipped"
)

// phaseSpan is one phase of one scope (a store, or 0 for the cluster) from
// its start to its end, derived from the timeline's events.
type phaseSpan struct {
	Store      uint64
	Phase      string
	Status     string // ok | failed | skipped | unfinished
	Start, End time.Time
	// ToRunEnd is set when no later event of the scope bounds the phase, so
	// it is drawn up to the end of the run.
	ToRunEnd bool
	Detail   string
}

// Duration is End - Start.
func (p phaseSpan) Duration() time.Duration { return p.End.Sub(p.Start) }

// phaseSpans derives per-scope phases from r's timeline. A "started" event
// opens a phase and the next ok/failed/skipped event of the same scope and
// phase closes it. A closing event without an opening one (a timeline that
// records one event per phase) starts a phase that lasts until the scope's
// next phase starts. A phase nothing bounds runs to the end of the run.
// Events of other statuses (decisions, info, warnings) are not phases.
func phaseSpans(r *Report) []phaseSpan {
	byScope := map[uint64][]Event{}
	for _, e := range r.Timeline {
		if e.At.IsZero() {
			continue
		}
		switch e.Status {
		case statusStarted, statusOK, statusFailed, statusSkipped:
			byScope[e.Store] = append(byScope[e.Store], e)
		}
	}
	end := asOf(r)
	var out []phaseSpan
	for _, id := range sortedKeys(byScope) {
		es := byScope[id]
		sort.SliceStable(es, func(a, b int) bool { return es[a].At.Before(es[b].At) })
		var spans []phaseSpan
		open := map[string]int{}
		for _, e := range es {
			if i, ok := open[e.Phase]; ok && e.Status != statusStarted {
				spans[i].End, spans[i].Status = e.At, e.Status
				if e.Detail != "" {
					spans[i].Detail = e.Detail
				}
				delete(open, e.Phase)
				continue
			}
			if i, ok := open[e.Phase]; ok { // started again: the earlier attempt ends here
				spans[i].End = e.At
			}
			s := phaseSpan{Store: id, Phase: e.Phase, Status: e.Status, Start: e.At, Detail: e.Detail}
			if e.Status == statusStarted {
				s.Status = "unfinished"
				open[e.Phase] = len(spans)
			}
			spans = append(spans, s)
		}
		for i := range spans {
			if !spans[i].End.IsZero() {
				continue
			}
			for _, next := range spans[i+1:] {
				if next.Start.After(spans[i].Start) {
					spans[i].End = next.Start
					break
				}
			}
			if spans[i].End.IsZero() {
				spans[i].End, spans[i].ToRunEnd = end, true
				if end.Before(spans[i].Start) {
					spans[i].End = spans[i].Start
				}
			}
		}
		out = append(out, spans...)
	}
	return out
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// fmtDuration writes d to the second, without zero tails: "45s", "2m", "1h5m", "3d2h".
func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	var b strings.Builder
	for _, p := range []struct {
		n    time.Duration
		unit string
	}{{days, "d"}, {h, "h"}, {m, "m"}, {s, "s"}} {
		if p.n > 0 {
			b.WriteString(strconv.FormatInt(int64(p.n), 10) + p.unit)
		}
	}
	return b.String()
}

// spanDuration is the duration as the views print it.
func spanDuration(p phaseSpan) string {
	s := fmtDuration(p.Duration())
	if p.ToRunEnd {
		s += " (to the end of the run)"
	}
	return s
}

// Chart geometry (pixels in the SVG's own coordinates).
const (
	chartWidth   = 1040
	chartLabelW  = 150 // row labels on the left
	chartRight   = 20
	chartAxisY   = 34 // baseline of the tick labels
	chartTop     = 44 // first row
	chartRowH    = 36
	chartBarH    = 22
	chartLegendH = 20
	charW        = 7 // average glyph width at font-size 12, to decide whether a label fits a bar
)

// phasePalette colours phases in order of first appearance: Tableau 10
// without its red (red marks failures), then three more distinct hues.
var phasePalette = [...]string{"#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f3b73", "#8cd17d", "#d4a6c8"}

// failColor outlines failed phases and marks faults.
const failColor = "#c00000"

type svgBar struct {
	X, Y, W, H      int
	Fill, TextColor string
	Stroke          string // empty, or failColor for a failed phase
	Dashed          bool   // skipped or unfinished
	Label           string // drawn inside the bar when it fits
	TextX, TextY    int
	Title           string
}

type svgRow struct {
	Class, Store       string // Class "store-row" or "cluster-row"; Store the id
	Y, LabelY, AddrY   int
	Band               bool   // shaded background (every other row)
	Total              string // the store's time from its first phase to its last
	TotalX, TotalY     int
	TotalAnchor        string
	Label, Addr, Title string
	Bars               []svgBar
	Marks              []svgMark
}

type svgMark struct {
	Kind  string // decision | fault
	X, Y  int    // decision: centre of the diamond; fault: start of the red line
	X2    int    // fault: end of the red line (resolution)
	Path  string // decision: the diamond's outline
	Title string
}

type svgTick struct {
	X     int
	Label string
}

type svgLegend struct {
	X, Y         int    // top left of the 14×14 swatch
	MidY, X2     int    // fault: the red line from X to X2 at MidY
	Kind         string // phase | failed | skipped | fault | decision
	Fill         string
	Path         string // decision: the diamond
	Label        string
	TextX, TextY int
}

type chart struct {
	Width, Height  int
	PlotX, PlotX2  int
	AxisY, GridY2  int
	AxisTitle      string
	Ticks          []svgTick
	Rows           []svgRow
	Legend         []svgLegend
	Desc           string
	Start, End     string
	StoreIDs       []uint64
	HasClusterRow  bool
	PhasesInLegend []string
}

// timelineChart lays out the inline SVG timeline: a time axis in UTC with
// gridlines, a row for cluster-wide phases when there are any, one row per
// store (every store of the report, and any other store the timeline names)
// with a bar per phase, decisions as diamonds, faults as red lines from when
// they occurred to when they were resolved, and a legend. It returns nil when
// the timeline has no phases. Each stage is one method of chartLayout.
func timelineChart(r *Report) *chart {
	spans := phaseSpans(r)
	if len(spans) == 0 {
		return nil
	}
	l := newChartLayout(r, spans)
	l.rows()
	l.bars()
	l.totals()
	l.marks()
	l.axis()
	l.legend()
	return l.c
}

// chartLayout is the state the stages of timelineChart share.
type chartLayout struct {
	r           *Report
	spans       []phaseSpan
	start, end  time.Time
	span        time.Duration
	c           *chart
	addr        map[uint64]string
	rowOf       map[uint64]int // store (0 = cluster-wide) → index in c.Rows
	colors      map[string]string
	first, last map[uint64]time.Time // each scope's first phase start and last phase end
}

// newChartLayout fixes the time range (the run, widened to every phase and
// fault) and the scopes that get a row.
func newChartLayout(r *Report, spans []phaseSpan) *chartLayout {
	l := &chartLayout{r: r, spans: spans, start: r.StartedAt, end: asOf(r), addr: map[uint64]string{}, rowOf: map[uint64]int{},
		colors: map[string]string{}, first: map[uint64]time.Time{}, last: map[uint64]time.Time{}}
	for _, s := range spans {
		l.widen(s.Start)
		l.widen(s.End)
	}
	for _, f := range r.Faults {
		l.widen(f.At)
		l.widen(f.ResolvedAt)
	}
	l.span = l.end.Sub(l.start)
	if l.span <= 0 {
		l.span = time.Second
	}
	l.c = &chart{Width: chartWidth, PlotX: chartLabelW, PlotX2: chartWidth - chartRight, AxisY: chartAxisY,
		Start: rfc3339(l.start), End: rfc3339(l.end)}
	return l
}

func (l *chartLayout) widen(t time.Time) {
	if t.IsZero() {
		return
	}
	if l.start.IsZero() || t.Before(l.start) {
		l.start = t
	}
	if t.After(l.end) {
		l.end = t
	}
}

// x maps t onto the plot.
func (l *chartLayout) x(t time.Time) int {
	return l.c.PlotX + int(int64(t.Sub(l.start))*int64(l.c.PlotX2-l.c.PlotX)/int64(l.span))
}

// rows adds the cluster-wide row (when any phase, decision or fault is
// cluster-wide), then one row per store in id order.
func (l *chartLayout) rows() {
	var ids []uint64
	for _, s := range l.r.Stores {
		if _, ok := l.rowOf[s.ID]; !ok && s.ID != 0 {
			l.rowOf[s.ID] = -1
			ids = append(ids, s.ID)
			l.addr[s.ID] = s.Address
		}
	}
	scope := func(id uint64) {
		if id == 0 {
			l.c.HasClusterRow = true
		} else if _, ok := l.rowOf[id]; !ok {
			l.rowOf[id] = -1
			ids = append(ids, id)
		}
	}
	for _, s := range l.spans {
		scope(s.Store)
	}
	for _, e := range l.r.Timeline {
		if e.Decision != nil && !e.At.IsZero() {
			scope(e.Store)
		}
	}
	for _, f := range l.r.Faults {
		if !f.At.IsZero() {
			scope(f.Store)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	l.c.StoreIDs = ids
	if l.c.HasClusterRow {
		l.newRow(0)
	}
	for _, id := range ids {
		l.newRow(id)
	}
}

func (l *chartLayout) newRow(scope uint64) {
	c := l.c
	y := chartTop + len(c.Rows)*chartRowH
	row := svgRow{Class: "store-row", Store: strconv.FormatUint(scope, 10), Y: y, Label: storeRef(scope), Addr: l.addr[scope]}
	if scope == 0 {
		row.Class, row.Store, row.Label = "cluster-row", "", "cluster-wide"
	}
	row.Band = len(c.Rows)%2 == 1
	row.LabelY = y + chartRowH/2 + 4
	if row.Addr != "" {
		row.LabelY, row.AddrY = y+chartRowH/2-1, y+chartRowH/2+12
	}
	c.Rows = append(c.Rows, row)
	l.rowOf[scope] = len(c.Rows) - 1
}

// bars colours the phases (store phases take the first, most distinct
// colours; cluster-wide phases the rest) and draws one bar per phase.
func (l *chartLayout) bars() {
	c := l.c
	for _, storePhases := range []bool{true, false} {
		for _, s := range l.spans {
			if _, ok := l.colors[s.Phase]; !ok && (s.Store != 0) == storePhases {
				l.colors[s.Phase] = phasePalette[len(c.PhasesInLegend)%len(phasePalette)]
				c.PhasesInLegend = append(c.PhasesInLegend, s.Phase)
			}
		}
	}
	for _, s := range l.spans {
		if f, ok := l.first[s.Store]; !ok || s.Start.Before(f) {
			l.first[s.Store] = s.Start
		}
		if s.End.After(l.last[s.Store]) {
			l.last[s.Store] = s.End
		}
		row := &c.Rows[l.rowOf[s.Store]]
		x0, x1 := l.x(s.Start), l.x(s.End)
		b := svgBar{X: x0, Y: row.Y + (chartRowH-chartBarH)/2, W: max(x1-x0, 3), H: chartBarH,
			Fill: l.colors[s.Phase], TextColor: textOn(l.colors[s.Phase]),
			Title: fmt.Sprintf("%s, %s: %s, %s → %s, %s", storeRef(s.Store), s.Phase, s.Status, rfc3339(s.Start), rfc3339(s.End), spanDuration(s))}
		switch s.Status {
		case statusFailed:
			b.Stroke = failColor
		case statusSkipped, "unfinished":
			b.Dashed = true
		}
		b.TextX, b.TextY = b.X+5, b.Y+b.H/2+4
		for _, label := range []string{s.Phase + " " + fmtDuration(s.Duration()), s.Phase} {
			if len(label)*charW+8 <= b.W {
				b.Label = label
				break
			}
		}
		row.Bars = append(row.Bars, b)
	}
}

// totals writes each store's total time after its last bar, or else before
// its first, or nowhere when neither fits.
func (l *chartLayout) totals() {
	for id, f := range l.first {
		if id == 0 {
			continue
		}
		row := &l.c.Rows[l.rowOf[id]]
		row.Total = fmtDuration(l.last[id].Sub(f)) + " in total"
		w := len(row.Total)*charW - 8
		row.TotalY = row.Y + chartRowH/2 + 4
		switch x0, x1 := l.x(f), l.x(l.last[id]); {
		case x1+6+w <= l.c.PlotX2:
			row.TotalX, row.TotalAnchor = x1+6, "start"
		case x0-6-w >= l.c.PlotX:
			row.TotalX, row.TotalAnchor = x0-6, "end"
		default:
			row.Total = ""
		}
	}
}

// marks draws decisions as diamonds and faults as red lines until resolved.
func (l *chartLayout) marks() {
	for _, e := range l.r.Timeline {
		if e.Decision == nil || e.At.IsZero() {
			continue
		}
		row := &l.c.Rows[l.rowOf[e.Store]]
		d := e.Decision
		mx, my := l.x(e.At), row.Y+chartRowH/2
		row.Marks = append(row.Marks, svgMark{Kind: "decision", X: mx, Y: my, Path: fmt.Sprintf("M%d %dl8 8l-8 8l-8-8z", mx, my-8),
			Title: fmt.Sprintf("decision at %s: %s → %s (by %s)", rfc3339(e.At), d.Question, d.Choice, d.DecidedBy)})
	}
	for _, f := range l.r.Faults {
		if f.At.IsZero() {
			continue
		}
		row := &l.c.Rows[l.rowOf[f.Store]]
		m := svgMark{Kind: "fault", X: l.x(f.At), Y: row.Y + chartRowH - 3, Title: fmt.Sprintf("fault at %s: %s: %s", rfc3339(f.At), f.Kind, f.Message)}
		m.X2 = m.X + 3
		if !f.ResolvedAt.IsZero() {
			m.X2 = max(l.x(f.ResolvedAt), m.X+3)
			m.Title += fmt.Sprintf("; resolved at %s (%s): %s", rfc3339(f.ResolvedAt), fmtDuration(f.ResolvedAt.Sub(f.At)), f.Resolution)
		} else {
			m.Title += "; not resolved"
		}
		row.Marks = append(row.Marks, m)
	}
}

// tickLayouts picks the tick label format: the first whose condition holds.
var tickLayouts = []struct {
	when   func(step, total time.Duration) bool
	layout string
}{
	{func(_, total time.Duration) bool { return total >= 24*time.Hour }, "Jan 2 15:04"},
	{func(step, _ time.Duration) bool { return step < time.Minute }, "15:04:05"},
	{func(time.Duration, time.Duration) bool { return true }, "15:04"},
}

// axis places the gridlines and their labels under the rows.
func (l *chartLayout) axis() {
	c := l.c
	c.GridY2 = chartTop + len(c.Rows)*chartRowH
	step, total := tickStep(l.span), l.end.Sub(l.start)
	layout := ""
	for _, tl := range tickLayouts {
		if tl.when(step, total) {
			layout = tl.layout
			break
		}
	}
	for t := l.start.Truncate(step); !t.After(l.end); t = t.Add(step) {
		if t.Before(l.start) {
			continue
		}
		c.Ticks = append(c.Ticks, svgTick{X: l.x(t), Label: t.UTC().Format(layout)})
	}
	c.AxisTitle = fmt.Sprintf("UTC, %s to %s (%s); gridlines every %s", l.start.UTC().Format("2006-01-02 15:04:05"), l.end.UTC().Format("2006-01-02 15:04:05"), fmtDuration(total), fmtDuration(step))
}

// legendMarks are the legend entries after the phases: what outlines and
// marks mean, each shown when the report can draw it.
var legendMarks = []struct {
	kind, fill, label string
	shown             func(r *Report) bool
}{
	{"failed", "#ffffff", "failed step (red outline)", func(*Report) bool { return true }},
	{"skipped", "#ffffff", "skipped or unfinished (dashed)", func(*Report) bool { return true }},
	{"fault", failColor, "fault, until resolved", func(r *Report) bool { return len(r.Faults) > 0 }},
	{"decision", "#222222", "decision", func(r *Report) bool {
		return slices.ContainsFunc(r.Timeline, func(e Event) bool { return e.Decision != nil })
	}},
}

// legend lays out the phases, then legendMarks, wrapping at the plot's width,
// and sets the chart's height and description.
func (l *chartLayout) legend() {
	c := l.c
	lx, ly := c.PlotX, c.GridY2+22
	add := func(kind, fill, label string) {
		w := 22 + len(label)*charW + 18
		if lx+w > chartWidth-chartRight {
			lx, ly = c.PlotX, ly+chartLegendH
		}
		c.Legend = append(c.Legend, svgLegend{X: lx, Y: ly, MidY: ly + 7, X2: lx + 14, Kind: kind, Fill: fill, Label: label,
			Path: fmt.Sprintf("M%d %dl7 7l-7 7l-7-7z", lx+7, ly), TextX: lx + 20, TextY: ly + 11})
		lx += w
	}
	for _, p := range c.PhasesInLegend {
		add("phase", l.colors[p], p)
	}
	for _, m := range legendMarks {
		if m.shown(l.r) {
			add(m.kind, m.fill, m.label)
		}
	}
	c.Height = ly + chartLegendH + 6
	c.Desc = fmt.Sprintf("Timeline of %d stores from %s to %s. The table below the chart lists every phase with its start, end and duration.",
		len(c.StoreIDs), c.Start, c.End)
}

// tickStep picks a round gridline interval giving at most 12 ticks over span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if span/s <= 12 {
			return s
		}
	}
	d := 24 * time.Hour
	for span/d > 12 {
		d *= 2
	}
	return d
}

// textOn returns black or white, whichever reads better on the hex colour bg.
func textOn(bg string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(bg, "#"), 16, 32)
	if err != nil {
		return "#000000"
	}
	r, g, b := float64(v>>16&0xff), float64(v>>8&0xff), float64(v&0xff)
	if 0.299*r+0.587*g+0.114*b < 140 {
		return "#ffffff"
	}
	return "#000000"
}
