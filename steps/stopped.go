package steps

import (
	"fmt"
	"slices"
	"strings"
)

// StoppedRun describes a run that stopped before its end (interrupted,
// aborted from the wizard, or failed): which stores carry the run's new
// config without having been verified on it, and the exact commands that go
// on (resume) or stop safely (abort). Every face shows it the same way.
type StoppedRun struct {
	Kind string
	// Interrupted: the operator stopped the run (Ctrl-C, the wizard's abort).
	Interrupted bool
	// Unverified are the stores whose tikv.toml the run replaced and did not
	// put back, that no check proved on the target: they run the new config
	// (or will at their next restart) unverified.
	Unverified []uint64
	Resume     string // the command that continues the run
	Abort      string // the command that stops it safely
}

// Command returns the command line that runs kind again on the plan with
// flag (--resume or --abort), with the run's own arguments (change-method's
// --to), so a hint can be pasted as it is.
func (o RunOptions) Command(planPath, flag string) string {
	parts := []string{"tikv-ear", o.Kind, planPath}
	if o.Kind == KindChangeMethod && o.Method != "" {
		parts = append(parts, "--to", o.Method)
	}
	return strings.Join(append(parts, flag), " ")
}

// Stopped returns what a stopped run left, from the journal's last run and
// the run's result; ok is false when the journal records no unfinished run.
func (s *Session) Stopped(o RunOptions) (StoppedRun, bool) {
	last, unfinished, err := s.Unfinished()
	if err != nil || !unfinished {
		return StoppedRun{}, false
	}
	st := StoppedRun{Kind: last.Kind, Resume: o.Command(s.PlanPath, "--resume"), Abort: o.Command(s.PlanPath, "--abort")}
	verified := map[uint64]bool{}
	if s.res != nil {
		for _, sr := range s.res.Stores {
			if sr.Failed == "" && sr.State.RunningOK && SameEncryption(sr.After, s.Engine.Desired) {
				verified[sr.StoreID] = true
			}
			if sr.RolledBack {
				verified[sr.StoreID] = true // not on the new config: its own rollback event says which
			}
		}
	}
	for id := range swappedStores(last) {
		if !verified[id] {
			st.Unverified = append(st.Unverified, id)
		}
	}
	slices.Sort(st.Unverified)
	return st, true
}

// Sentence says in one line what the stopped run left.
func (st StoppedRun) Sentence() string {
	how := "stopped"
	if st.Interrupted {
		how = "interrupted"
	}
	msg := fmt.Sprintf("the %s run was %s; nothing more changes", st.Kind, how)
	switch len(st.Unverified) {
	case 0:
		return msg + "; no store carries an unverified new config"
	case 1:
		return msg + fmt.Sprintf("; store %d has the new config in its tikv.toml and was not verified on it", st.Unverified[0])
	}
	return msg + fmt.Sprintf("; stores %v have the new config in their tikv.toml and were not verified on it", st.Unverified)
}

// Hints are the two next steps, each an exact command.
func (st StoppedRun) Hints() []string {
	return []string{"resume (verifies what was done, then goes on): " + st.Resume,
		"or stop safely (puts back the config of stores never restarted on it): " + st.Abort}
}
