package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/gather"
	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/steps"
)

// StatusCmd is `tikv-ear status`: a read-only look at every store's
// encryption at rest and the cluster's health.
type StatusCmd struct {
	ConnectFlags `embed:""`
	Plan         string `name:"plan" type:"existingfile" help:"plan.toml of the cluster: adds the master key's generation, age and next due date (and connects as the plan says when no --pd or --sim is given)."`
	Output       string `name:"output" short:"o" enum:"text,json" default:"text" help:"Output format: text or json (schema: docs/status-json.md)."`
}

// connectOrPlan connects with flags, or, when they name no cluster and a plan
// is given, as the plan says; a plan made for another cluster is refused.
func connectOrPlan(ctx context.Context, flags ConnectFlags, planPath string) (*steps.Plan, *Session, error) {
	if planPath == "" {
		s, err := flags.Connect(ctx)
		return nil, s, err
	}
	p, err := steps.LoadPlan(planPath)
	if err != nil {
		return nil, nil, err
	}
	if len(flags.PD) == 0 && flags.Sim == "" { // kong has already applied TIKV_EAR_PD and TIKV_EAR_SIM
		pf := planConnect(p)
		if flags.Timeout > 0 {
			pf.Timeout = flags.Timeout
		}
		if flags.Concurrency > 0 {
			pf.Concurrency = flags.Concurrency
		}
		flags = pf
	}
	s, err := flags.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	if p.Cluster.ClusterID != 0 && s.ClusterID != p.Cluster.ClusterID {
		s.Close()
		return nil, nil, Failf("pass the plan of this cluster, or re-create it with 'tikv-ear plan'", "%s was made for PD cluster %d, but the cluster reached is %d", planPath, p.Cluster.ClusterID, s.ClusterID)
	}
	return p, s, nil
}

// gatherSession gathers the status of a connected cluster, with a progress
// line on stderr; nothing on any host or in PD changes.
func gatherSession(g *Globals, sess *Session) (*gather.Report, error) {
	if sess.Flags.Timeout <= 0 {
		sess.Flags.Timeout = 10 * time.Second
	}
	prog := newProgressLine(g.IO.Err, g.IO.StderrTTY)
	rep, err := gather.Gather(g.Ctx, gather.Sources{
		PD: sess.PD, ClusterID: sess.ClusterID, Stores: sess.Stores, Nodes: sess.Inventory.Nodes,
		SSH: sess.SSH, SSHUser: sess.Flags.SSHUser, HTTP: httpClient(sess.Flags.Timeout),
	}, gather.Options{Concurrency: sess.Flags.Concurrency, Progress: prog.update})
	prog.finish()
	if err != nil {
		return nil, err
	}
	for _, w := range sess.Inventory.Warnings {
		fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s\n", w)
	}
	return rep, nil
}

// Run gathers the status and prints it on stdout; progress goes to stderr.
// A partial result (some stores unreadable) still exits 0, and says so; so
// does an overdue master key (a warning).
func (c *StatusCmd) Run(g *Globals) error {
	p, sess, err := connectOrPlan(g.Ctx, c.ConnectFlags, c.Plan)
	if err != nil {
		// A PD that cannot be reached comes back as *pd.UnreachableError,
		// whose Hint report prints; the exit code is 1.
		return err
	}
	defer sess.Close()
	rep, err := gatherSession(g, sess)
	if err != nil {
		return err
	}
	if p != nil {
		pol, warnings, err := PlanPolicy(c.Plan, p)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s\n", w)
		}
		rep.MasterKey = steps.MasterKeyAge(rep, p.Target.MasterKey, nil, pol.MasterKeyPeriod, rep.GatheredAt)
		if wn := overdueWarning(rep.MasterKey); wn != "" {
			fmt.Fprintf(g.IO.Err, "tikv-ear: warning: %s\n", strings.Replace(wn, "<plan>", c.Plan, 1))
		}
	}
	if c.Output == "json" {
		enc := json.NewEncoder(g.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("writing the status as JSON: %w", err)
		}
	} else if err := WriteStatusText(g.IO.Out, rep); err != nil {
		return fmt.Errorf("writing the status: %w", err)
	}
	if !rep.Complete {
		where := "the notes below the table"
		if c.Output == "json" {
			where = `"partial" in the JSON`
		}
		fmt.Fprintf(g.IO.Err, "tikv-ear: warning: partial result: %d source(s) could not be read; see %s\n", len(rep.Partial), where)
	}
	return nil
}

// progressLine shows "gathering 3/6 stores…" on stderr: rewritten in place on
// a TTY, otherwise a plain line at the start, every tenth and the end.
type progressLine struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	lastDec int
	shown   bool
}

func newProgressLine(w io.Writer, tty bool) *progressLine {
	return &progressLine{w: w, tty: tty, lastDec: -1}
}

func (p *progressLine) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf("gathering %d/%d stores…", done, total)
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", msg)
		p.shown = true
		return
	}
	dec := 10
	if total > 0 {
		dec = done * 10 / total
	}
	if dec != p.lastDec {
		p.lastDec = dec
		fmt.Fprintf(p.w, "tikv-ear: %s\n", msg)
	}
}

// finish clears the rewritten line.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// WriteStatusText renders a report as the aligned store table, the cluster
// summary and the notes (reasons, errors, warnings) below.
func WriteStatusText(w io.Writer, rep *gather.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tADDRESS\tZONE\tVERSION\tPD\tLEADERS/REGIONS\tMETHOD\tMASTER KEY\tSTATE\tVERDICT\tKEY.DICT\tCOVERAGE FILES/BYTES\tTIUP")
	for _, s := range rep.Stores {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.StoreID, s.Address, dash(s.PD.Zone), dash(s.PD.Version), dash(s.PD.StateName),
			s.PD.LeaderCount, s.PD.RegionCount, methodCell(s), masterKeyCell(s), s.State, dash(string(s.Verdict.Value)),
			keyDictCell(s.KeyDict), coverageCell(s.Coverage), yesNo(s.TiUPManaged))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	writeClusterSummary(w, rep.Cluster)
	if rep.MasterKey != nil {
		printSchedule(w, rep.MasterKey)
	}
	notes := false
	for _, s := range rep.Stores {
		interesting := s.State != gather.StatePlaintext && s.State != gather.StateEncrypted || !s.Verdict.Proven()
		damaged := s.Log != nil && (s.Log.UnparsedTotal > 0 || s.Log.DamagedTotal > 0 || s.Log.Stderr != nil && s.Log.Stderr.UnparsedTotal > 0)
		if !interesting && !damaged && len(s.Errors) == 0 && len(s.Warnings) == 0 {
			continue
		}
		if !notes {
			fmt.Fprintln(w, "\nnotes:")
			notes = true
		}
		fmt.Fprintf(w, "  store %d (%s): %s: %s\n", s.StoreID, s.Address, s.State, s.Reason)
		if !s.Verdict.Proven() {
			fmt.Fprintf(w, "    verdict: %s\n", s.Verdict.Value)
		}
		writeLogRecords(w, s.Log)
		if !s.Reachable {
			fmt.Fprintf(w, "    unreachable over SSH (%s): tikv.toml, key.dict, file.dict, tikv.log and the data files were not read\n", s.SSHTarget)
		}
		for _, e := range s.Errors {
			fmt.Fprintf(w, "    error: %s: %s\n", e.Source, e.Message)
		}
		for _, wn := range s.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", wn)
		}
		if s.Config != nil {
			for _, p := range s.Config.Problems {
				loc := p.File
				if p.Line > 0 {
					loc += ":" + strconv.Itoa(p.Line)
				}
				key := ""
				if p.Key != "" {
					key = p.Key + ": "
				}
				fix := ""
				if p.Fix != "" {
					fix = " (fix: " + p.Fix + ")"
				}
				fmt.Fprintf(w, "    %s: %s: %s%s%s\n", p.Severity, loc, key, p.Message, fix)
			}
		}
	}
	for _, e := range rep.Cluster.Errors {
		if !notes {
			fmt.Fprintln(w, "\nnotes:")
			notes = true
		}
		fmt.Fprintf(w, "  cluster: error: %s\n", e)
	}
	if !rep.Complete {
		fmt.Fprintf(w, "\npartial result: %d source(s) could not be read (listed above); the rest is shown\n", len(rep.Partial))
	}
	return nil
}

// writeLogRecords lists the records of tikv.log and tikv_stderr.log that
// could not be read whole, with their line numbers, so no evidence is
// dropped without a word.
func writeLogRecords(w io.Writer, lf *gather.LogFacts) {
	if lf == nil {
		return
	}
	list := func(file, what string, total int, rs []gather.LogRecord) {
		if total == 0 {
			return
		}
		fmt.Fprintf(w, "    %s: %d %s after the last start:\n", file, total, what)
		for _, r := range rs {
			fmt.Fprintf(w, "      line %d: %s", r.Line, clipText(r.Text))
			if r.Problem != "" {
				fmt.Fprintf(w, " (%s)", r.Problem)
			}
			fmt.Fprintln(w)
		}
		if total > len(rs) {
			fmt.Fprintf(w, "      … and %d more\n", total-len(rs))
		}
	}
	list(path.Base(lf.Path), "unparsed records", lf.UnparsedTotal, lf.Unparsed)
	list(path.Base(lf.Path), "damaged records (level and message recovered)", lf.DamagedTotal, lf.Damaged)
	if sf := lf.Stderr; sf != nil {
		list(path.Base(sf.Path), "unparsed lines", sf.UnparsedTotal, sf.Unparsed)
		if sf.Failure != nil {
			when := "older than tikv.log's last start"
			switch {
			case !sf.CurrentKnown:
				when = "not placeable against tikv.log's last start"
			case sf.Current:
				when = "after tikv.log's last start"
			}
			fmt.Fprintf(w, "    %s: line %d: %s %s (%s)\n", path.Base(sf.Path), sf.Failure.Line, sf.Failure.Level, clipText(sf.Failure.Message), when)
		}
	}
}

// clipText shortens a log text for one line of text output: newlines show
// as ⏎ and other control bytes (a NUL run in a damaged log) as \xNN, so the
// terminal shows what the file holds.
func clipText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("⏎")
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	s = b.String()
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func writeClusterSummary(w io.Writer, c gather.Cluster) {
	labels := strings.Join(c.LocationLabels, ",")
	if labels == "" {
		labels = "none"
	}
	fmt.Fprintf(w, "cluster %d: max-replicas %d, location-labels %s", c.ID, c.MaxReplicas, labels)
	if c.PlacementRules {
		fmt.Fprint(w, " (placement rules are on: PD uses its rules instead, see /pd/api/v1/config/rules)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "regions: miss-peer %s, pending-peer %s, down-peer %s\n",
		count(c.Regions.MissPeer), count(c.Regions.PendingPeer), count(c.Regions.DownPeer))
	if len(c.EvictLeaderStores) == 0 && len(c.EvictLeaderSchedulers) == 0 {
		fmt.Fprintln(w, "evict-leader: none")
		return
	}
	ids := make([]string, len(c.EvictLeaderStores))
	for i, id := range c.EvictLeaderStores {
		ids[i] = strconv.FormatUint(id, 10)
	}
	fmt.Fprintf(w, "evict-leader: %s covers stores %s (a leftover keeps a store at 0 leaders)\n",
		strings.Join(c.EvictLeaderSchedulers, ","), dash(strings.Join(ids, ",")))
}

func count(n int) string {
	if n < 0 {
		return "?"
	}
	return strconv.Itoa(n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// methodCell is the configured method, with the running one when it differs.
func methodCell(s gather.Store) string {
	cfg, run := "", ""
	if s.Config != nil {
		cfg = s.Config.Method
	}
	if s.Running != nil {
		run = s.Running.Method
	}
	switch {
	case cfg == "" && run == "":
		return "?"
	case cfg == "":
		return run + " (running)"
	case run != "" && run != cfg:
		return cfg + " (running " + run + ")"
	}
	return cfg
}

func masterKeyCell(s gather.Store) string {
	switch {
	case s.Config != nil:
		t := s.Config.MasterKey.Type
		if t == tikv.MasterKeyKMS && s.Config.MasterKey.Vendor != "" {
			t += "/" + s.Config.MasterKey.Vendor
		}
		return t
	case s.Running != nil && s.Running.MasterKeyType != "":
		return s.Running.MasterKeyType + " (running)"
	}
	return "?"
}

func keyDictCell(kd *gather.KeyDictFacts) string {
	switch {
	case kd == nil:
		return "?"
	case !kd.Exists:
		return "none"
	}
	out := kd.Method
	if kd.KMSVendor != "" {
		out += "/" + kd.KMSVendor
	}
	if kd.KeysExposed {
		out += " (KEYS EXPOSED)"
	}
	return out
}

func coverageCell(c *gather.Coverage) string {
	if c == nil {
		return "?"
	}
	if c.Encrypted.Files+c.Plaintext.Files == 0 {
		return "no files"
	}
	return fmt.Sprintf("%s/%s", steps.Percent(c.FilesPercent), steps.Percent(c.BytesPercent))
}
