package cli

import (
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tikv-ear/tikv-ear/sim"
	"github.com/tikv-ear/tikv-ear/ui/storetable"
)

// DemoCmd starts an embedded simulated cluster and shows it live.
type DemoCmd struct {
	Speed float64 `default:"10" help:"Sim seconds per wall second."`
}

// Run starts a 6-store, 3-zone sim in a temp dir and shows the live store
// table on stderr; without a TTY it prints the table once and exits.
func (c *DemoCmd) Run(g *Globals) error {
	if c.Speed <= 0 {
		return Usagef("give a positive --speed, e.g. --speed 10", "--speed %v: the sim clock must run forward", c.Speed)
	}
	cl, err := sim.Start(g.Ctx, sim.Options{Stores: 6, Zones: 3, Speed: c.Speed})
	if err != nil {
		return Failf("check that the temp dir is writable and free ports exist on 127.0.0.1", "starting the simulated cluster: %v", err)
	}
	defer cl.Close()
	if !g.IO.Interactive() {
		fmt.Fprint(g.IO.Out, storetable.Plain(storeRows(cl)))
		fmt.Fprintln(g.IO.Err, "tikv-ear: hint: run 'tikv-ear demo' in a terminal for the live table, or 'tikv-ear sim up' to keep a sim running")
		return nil
	}
	title := fmt.Sprintf("tikv-ear demo · simulated cluster · PD %s · speed ×%g", cl.PDURLs()[0], c.Speed)
	m := storetable.New(title, func() []storetable.Row { return storeRows(cl) }, 500*time.Millisecond)
	p := tea.NewProgram(m, tea.WithContext(g.Ctx), tea.WithInput(g.IO.In), tea.WithOutput(g.IO.Err))
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) && g.Ctx.Err() == nil {
		return fmt.Errorf("running the live table: %w", err)
	}
	return nil
}
