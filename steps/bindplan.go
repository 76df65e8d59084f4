package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/tikv-ear/tikv-ear/report"
)

// bindPlan checks the plan against PD and the hosts before the first change
// (BindPlan) and narrows the plan's nodes to the --stores subset. A plan that
// does not match is bad input: exit 2, nothing changed.
func (s *Session) bindPlan(ctx context.Context, subset []uint64) (Binding, error) {
	stores, err := s.Engine.PD.Stores(ctx)
	if err != nil {
		return Binding{}, fmt.Errorf("reading the stores from PD to check the plan: %w", err)
	}
	b, err := BindPlan(ctx, s.Plan, stores, s.Engine.Nodes, subset)
	var be *BindingError
	if errors.As(err, &be) {
		return b, &Error{Msg: be.Error(), Hints: []string{be.Hint()}, Code: ExitUsage, Err: err}
	}
	if err != nil {
		return b, err
	}
	s.Plan.Nodes = b.Nodes
	return b, nil
}

// markPartial records in the report that the run covered part of the
// cluster: "partial: N of M Up stores", never "succeeded" alone.
func markPartial(rep *report.Report, b Binding) {
	if !b.Partial {
		return
	}
	if rep.Outcome == report.OutcomeSucceeded {
		rep.Outcome = report.OutcomePartial
	}
	rep.Findings = append(rep.Findings, report.Finding{Severity: report.SeverityMedium, Message: b.Summary(),
		Fix: "run the other stores too ('tikv-ear apply' without --stores) so the whole cluster is encrypted"})
}
