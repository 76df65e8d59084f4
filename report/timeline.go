package report

import (
	"fmt"
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
// the timeline has no phases.
func timelineChart(r *Report) *chart {
	spans := phaseSpans(r)
	if len(spans) == 0 {
		return nil
	}
	start, end := r.StartedAt, asOf(r)
	widen := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if t.After(end) {
			end = t
		}
	}
	for _, s := range spans {
		widen(s.Start)
		widen(s.End)
	}
	for _, f := range r.Faults {
		widen(f.At)
		widen(f.ResolvedAt)
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
	}
	plotX, plotX2 := chartLabelW, chartWidth-chartRight
	x := func(t time.Time) int {
		return plotX + int(int64(t.Sub(start))*int64(plotX2-plotX)/int64(span))
	}

	addr := map[uint64]string{}
	rowOf := map[uint64]int{}
	var ids []uint64
	for _, s := range r.Stores {
		if _, ok := rowOf[s.ID]; !ok && s.ID != 0 {
			rowOf[s.ID] = -1
			ids = append(ids, s.ID)
			addr[s.ID] = s.Address
		}
	}
	hasCluster := false
	scope := func(id uint64) {
		if id == 0 {
			hasCluster = true
		} else if _, ok := rowOf[id]; !ok {
			rowOf[id] = -1
			ids = append(ids, id)
		}
	}
	for _, s := range spans {
		scope(s.Store)
	}
	for _, e := range r.Timeline {
		if e.Decision != nil && !e.At.IsZero() {
			scope(e.Store)
		}
	}
	for _, f := range r.Faults {
		if !f.At.IsZero() {
			scope(f.Store)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	c := &chart{Width: chartWidth, PlotX: plotX, PlotX2: plotX2, AxisY: chartAxisY,
		Start: rfc3339(start), End: rfc3339(end), StoreIDs: ids, HasClusterRow: hasCluster}
	newRow := func(scope uint64) int {
		y := chartTop + len(c.Rows)*chartRowH
		row := svgRow{Class: "store-row", Store: strconv.FormatUint(scope, 10), Y: y, Label: storeRef(scope), Addr: addr[scope]}
		if scope == 0 {
			row.Class, row.Store, row.Label = "cluster-row", "", "cluster-wide"
		}
		row.Band = len(c.Rows)%2 == 1
		row.LabelY = y + chartRowH/2 + 4
		if row.Addr != "" {
			row.LabelY, row.AddrY = y+chartRowH/2-1, y+chartRowH/2+12
		}
		c.Rows = append(c.Rows, row)
		rowOf[scope] = len(c.Rows) - 1
		return len(c.Rows) - 1
	}
	if hasCluster {
		newRow(0)
	}
	for _, id := range ids {
		newRow(id)
	}

	// Store phases take the first, most distinct colours; cluster-wide phases the rest.
	colors := map[string]string{}
	for _, storePhases := range []bool{true, false} {
		for _, s := range spans {
			if _, ok := colors[s.Phase]; !ok && (s.Store != 0) == storePhases {
				colors[s.Phase] = phasePalette[len(c.PhasesInLegend)%len(phasePalette)]
				c.PhasesInLegend = append(c.PhasesInLegend, s.Phase)
			}
		}
	}
	first, last := map[uint64]time.Time{}, map[uint64]time.Time{}
	for _, s := range spans {
		if f, ok := first[s.Store]; !ok || s.Start.Before(f) {
			first[s.Store] = s.Start
		}
		if s.End.After(last[s.Store]) {
			last[s.Store] = s.End
		}
		row := &c.Rows[rowOf[s.Store]]
		x0, x1 := x(s.Start), x(s.End)
		b := svgBar{X: x0, Y: row.Y + (chartRowH-chartBarH)/2, W: max(x1-x0, 3), H: chartBarH,
			Fill: colors[s.Phase], TextColor: textOn(colors[s.Phase]),
			Title: fmt.Sprintf("%s, %s: %s, %s → %s, %s", storeRef(s.Store), s.Phase, s.Status, rfc3339(s.Start), rfc3339(s.End), spanDuration(s))}
		switch s.Status {
		case statusFailed:
			b.Stroke = failColor
		case statusSkipped, "unfinished":
			b.Dashed = true
		}
		b.TextX, b.TextY = b.X+5, b.Y+b.H/2+4
		for _, l := range []string{s.Phase + " " + fmtDuration(s.Duration()), s.Phase} {
			if len(l)*charW+8 <= b.W {
				b.Label = l
				break
			}
		}
		row.Bars = append(row.Bars, b)
	}

	// Each store's total time, after its last bar or else before its first.
	for id, f := range first {
		if id == 0 {
			continue
		}
		row := &c.Rows[rowOf[id]]
		row.Total = fmtDuration(last[id].Sub(f)) + " in total"
		w := len(row.Total)*charW - 8
		row.TotalY = row.Y + chartRowH/2 + 4
		switch x0, x1 := x(f), x(last[id]); {
		case x1+6+w <= plotX2:
			row.TotalX, row.TotalAnchor = x1+6, "start"
		case x0-6-w >= plotX:
			row.TotalX, row.TotalAnchor = x0-6, "end"
		default:
			row.Total = ""
		}
	}

	markRow := func(store uint64) *svgRow { return &c.Rows[rowOf[store]] }
	for _, e := range r.Timeline {
		if e.Decision == nil || e.At.IsZero() {
			continue
		}
		row := markRow(e.Store)
		d := e.Decision
		mx, my := x(e.At), row.Y+chartRowH/2
		row.Marks = append(row.Marks, svgMark{Kind: "decision", X: mx, Y: my, Path: fmt.Sprintf("M%d %dl8 8l-8 8l-8-8z", mx, my-8),
			Title: fmt.Sprintf("decision at %s: %s → %s (by %s)", rfc3339(e.At), d.Question, d.Choice, d.DecidedBy)})
	}
	for _, f := range r.Faults {
		if f.At.IsZero() {
			continue
		}
		row := markRow(f.Store)
		m := svgMark{Kind: "fault", X: x(f.At), Y: row.Y + chartRowH - 3, Title: fmt.Sprintf("fault at %s: %s: %s", rfc3339(f.At), f.Kind, f.Message)}
		m.X2 = m.X + 3
		if !f.ResolvedAt.IsZero() {
			m.X2 = max(x(f.ResolvedAt), m.X+3)
			m.Title += fmt.Sprintf("; resolved at %s (%s): %s", rfc3339(f.ResolvedAt), fmtDuration(f.ResolvedAt.Sub(f.At)), f.Resolution)
		} else {
			m.Title += "; not resolved"
		}
		row.Marks = append(row.Marks, m)
	}

	gridY2 := chartTop + len(c.Rows)*chartRowH
	c.GridY2 = gridY2
	step := tickStep(span)
	layout := "15:04"
	if step < time.Minute {
		layout = "15:04:05"
	}
	if end.Sub(start) >= 24*time.Hour {
		layout = "Jan 2 15:04"
	}
	for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
		if t.Before(start) {
			continue
		}
		c.Ticks = append(c.Ticks, svgTick{X: x(t), Label: t.UTC().Format(layout)})
	}
	c.AxisTitle = fmt.Sprintf("UTC, %s to %s (%s); gridlines every %s", start.UTC().Format("2006-01-02 15:04:05"), end.UTC().Format("2006-01-02 15:04:05"), fmtDuration(end.Sub(start)), fmtDuration(step))

	// Legend: phases, then what the outlines and marks mean.
	lx, ly := plotX, gridY2+22
	addLegend := func(kind, fill, label string) {
		w := 22 + len(label)*charW + 18
		if lx+w > chartWidth-chartRight {
			lx, ly = plotX, ly+chartLegendH
		}
		c.Legend = append(c.Legend, svgLegend{X: lx, Y: ly, MidY: ly + 7, X2: lx + 14, Kind: kind, Fill: fill, Label: label,
			Path: fmt.Sprintf("M%d %dl7 7l-7 7l-7-7z", lx+7, ly), TextX: lx + 20, TextY: ly + 11})
		lx += w
	}
	for _, p := range c.PhasesInLegend {
		addLegend("phase", colors[p], p)
	}
	addLegend("failed", "#ffffff", "failed step (red outline)")
	addLegend("skipped", "#ffffff", "skipped or unfinished (dashed)")
	if len(r.Faults) > 0 {
		addLegend("fault", failColor, "fault, until resolved")
	}
	for _, e := range r.Timeline {
		if e.Decision != nil {
			addLegend("decision", "#222222", "decision")
			break
		}
	}
	c.Height = ly + chartLegendH + 6
	c.Desc = fmt.Sprintf("Timeline of %d stores from %s to %s. The table below the chart lists every phase with its start, end and duration.",
		len(ids), c.Start, c.End)
	return c
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
