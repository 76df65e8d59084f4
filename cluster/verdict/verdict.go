// Package verdict is the three-valued answer every check of tikv-ear gives:
// proven (the evidence was read and shows the claim), failing (the evidence
// shows the opposite) or unknown (the evidence could not be read, or does
// not decide), always with the reason in words. Missing or unreadable
// evidence is unknown, never proven.
package verdict

import "strings"

// Value is proven, failing or unknown.
type Value string

// The three values.
const (
	Proven  Value = "proven"
	Failing Value = "failing"
	Unknown Value = "unknown"
)

// Values lists every Value, best first.
func Values() []Value { return []Value{Proven, Unknown, Failing} }

// Verdict is a value and the reason for it.
type Verdict struct {
	Value  Value  `json:"value"`
	Reason string `json:"reason"`
}

// Prove, Fail and Unknownf build verdicts.
func Prove(reason string) Verdict { return Verdict{Value: Proven, Reason: reason} }

// Fail builds a failing verdict.
func Fail(reason string) Verdict { return Verdict{Value: Failing, Reason: reason} }

// Unsure builds an unknown verdict.
func Unsure(reason string) Verdict { return Verdict{Value: Unknown, Reason: reason} }

// rank orders values from best to worst.
func rank(v Value) int {
	switch v {
	case Proven:
		return 0
	case Failing:
		return 2
	}
	return 1 // Unknown, and anything unrecognised, is never better than unknown
}

// Proven reports whether v is proven.
func (v Verdict) Proven() bool { return v.Value == Proven }

// String renders "value: reason".
func (v Verdict) String() string {
	if v.Reason == "" {
		return string(v.Value)
	}
	return string(v.Value) + ": " + v.Reason
}

// Combine returns the worst of vs (failing over unknown over proven); the
// reasons of every verdict of that value are joined with "; ". No verdicts
// at all is unknown: nothing was proven.
func Combine(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Unsure("no evidence was checked")
	}
	worst := vs[0].Value
	for _, v := range vs[1:] {
		if rank(v.Value) > rank(worst) {
			worst = v.Value
		}
	}
	if rank(worst) == 1 {
		worst = Unknown
	}
	var reasons []string
	for _, v := range vs {
		if rank(v.Value) == rank(worst) && v.Reason != "" {
			reasons = append(reasons, v.Reason)
		}
	}
	return Verdict{Value: worst, Reason: strings.Join(reasons, "; ")}
}
