package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDemoWithoutATerminalRefusesWithAHeadlessHint(t *testing.T) {
	g, out, errb := testGlobals(context.Background())
	err := (&DemoCmd{Speed: 100}).Run(g)
	var e *Error
	if !errors.As(err, &e) || e.Code != ExitUsage {
		t.Fatalf("want a usage error (exit 2), got %v", err)
	}
	hints := strings.Join(e.Hints, "\n")
	for _, want := range []string{"tikv-ear sim up --sim", "tikv-ear plan --sim", "tikv-ear apply plan.toml --yes"} {
		if !strings.Contains(hints, want) {
			t.Errorf("hints lack %q:\n%s", want, hints)
		}
	}
	if out.String() != "" || errb.String() != "" {
		t.Errorf("the refusal started something: stdout %q, stderr %q", out.String(), errb.String())
	}
}
