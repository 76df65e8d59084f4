package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/tikv-ear/tikv-ear/report"
	"github.com/tikv-ear/tikv-ear/steps"
)

// bindPlan checks the plan against PD and the hosts before the first change
// (steps.BindPlan) and narrows p.Nodes to the --stores subset. A plan that
// does not match is bad input: exit 2, nothing changed.
func bindPlan(ctx context.Context, eng *Engine, p *steps.Plan, subset []uint64) (steps.Binding, error) {
	stores, err := eng.PD.Stores(ctx)
	if err != nil {
		return steps.Binding{}, fmt.Errorf("reading the stores from PD to check the plan: %w", err)
	}
	b, err := steps.BindPlan(ctx, p, stores, eng.Nodes, subset)
	var be *steps.BindingError
	if errors.As(err, &be) {
		return b, &Error{Msg: be.Error(), Hints: []string{be.Hint()}, Code: ExitUsage, Err: err}
	}
	if err != nil {
		return b, err
	}
	p.Nodes = b.Nodes
	return b, nil
}

// markPartial records in the report that the run covered part of the
// cluster: "partial: N of M Up stores", never "succeeded" alone.
func markPartial(rep *report.Report, b steps.Binding) {
	if !b.Partial {
		return
	}
	if rep.Outcome == report.OutcomeSucceeded {
		rep.Outcome = report.OutcomePartial
	}
	rep.Findings = append(rep.Findings, report.Finding{Severity: report.SeverityMedium, Message: b.Summary(),
		Fix: "run the other stores too ('tikv-ear apply' without --stores) so the whole cluster is encrypted"})
}
