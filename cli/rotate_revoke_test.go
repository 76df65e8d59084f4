package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/steps"
)

// revokeQuestion is the engine's retire-old decision, keep first and default.
func revokeQuestion() steps.Decision {
	return steps.Decision{ID: steps.DecisionRetireOld, Question: "revoke the old master key generation 1 (g1) in file? It cannot be undone",
		Options: []string{steps.ChoiceKeep, steps.ChoiceRevoke}, Default: steps.ChoiceKeep, Typed: steps.ChoiceRevoke,
		Consequences: []string{"destroys: master key generation 1 (g1) in file", "it cannot be undone"}}
}

// Headless: --yes alone keeps the old key; --retire-old is the consent to
// revoke; in a terminal the operator reads what it destroys and types yes,
// and any other answer keeps it.
func TestRotateRevocationNeedsTypedYesOrRetireOld(t *testing.T) {
	g := func(in string, tty bool) (*Globals, *bytes.Buffer) {
		var errb bytes.Buffer
		return &Globals{Ctx: context.Background(), IO: IO{In: strings.NewReader(in), Out: &bytes.Buffer{}, Err: &errb, StdinTTY: tty, StderrTTY: tty,
			Getenv: func(string) string { return "" }}}, &errb
	}
	for _, c := range []struct {
		name       string
		in         string
		tty        bool
		yes, rtire bool
		want       string
	}{
		{"--incident --yes", "", false, true, false, steps.ChoiceKeep},
		{"--incident --yes --retire-old", "", false, true, true, steps.ChoiceRevoke},
		{"terminal, enter", "\n", true, false, false, steps.ChoiceKeep},
		{"terminal, y", "y\n", true, false, false, steps.ChoiceKeep},
		{"terminal, yes", "yes\n", true, false, false, steps.ChoiceRevoke},
	} {
		gl, errb := g(c.in, c.tty)
		got, by, err := cliDecider{g: gl, yes: c.yes, retire: c.rtire}.Decide(context.Background(), revokeQuestion())
		if err != nil || got != c.want {
			t.Errorf("%s: %q by %q, %v; want %q", c.name, got, by, err, c.want)
		}
		if c.tty && (!strings.Contains(errb.String(), "destroys: master key generation 1") || !strings.Contains(errb.String(), "cannot be undone")) {
			t.Errorf("%s: the prompt does not say what revoking destroys:\n%s", c.name, errb)
		}
	}
	gl, _ := g("", false)
	if _, _, err := (cliDecider{g: gl}).Decide(context.Background(), revokeQuestion()); err == nil {
		t.Error("no terminal and no --yes: the revocation was answered instead of refused")
	}
}
