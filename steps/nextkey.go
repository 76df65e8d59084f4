package steps

// CheckNextKey refuses, before preflight and before anything is created or
// any host touched, a master-key rotation whose key backend has nowhere to take
// the new key from (kms.Spec.NextKeyProblem). A rotation already in flight
// (the plan names a previous master key) goes on with the generations it
// recorded, so it is never refused here. planPath names the file to edit.
func CheckNextKey(p *Plan, planPath string, incident bool) error {
	if p.Target.PreviousMasterKey != nil {
		return nil
	}
	problem, fix := p.Target.Key.NextKeyProblem(incident, planPath)
	if problem == "" {
		return nil
	}
	return Usagef(fix+"; nothing was created and no host changed", "%s", problem)
}
