package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms"
)

// Decision ids the session asks besides the runner's.
const (
	// DecisionRetireOld asks before the old master-key generation is revoked.
	DecisionRetireOld = "retire-old"
	// ChoiceRevoke and ChoiceKeep are its options.
	ChoiceRevoke = "revoke"
	ChoiceKeep   = "keep"
)

// Step names of the rotation's steps after the runner.
const (
	StepSecondPass = "second-pass"
	StepRetire     = "retire"
)

// op is what a run kind adds to the common sequence.
type op struct {
	// adjust edits the plan before the first preflight.
	adjust func(*Plan)
	// prepare makes the new target (rotation: a new generation) and returns
	// the key generations to deliver; skipped when resuming.
	prepare func(context.Context) ([]kms.KeyRef, error)
	// persist saves the plan once the second preflight passed.
	persist func() error
	// after runs once every store is verified (rotation: the second pass and
	// retirement); its events join the result's timeline.
	after func(context.Context) error
}

// op returns the kind's hooks.
func (s *Session) op(o RunOptions) op {
	switch o.Kind {
	case KindRotate:
		return s.rotateOp(o)
	case KindChangeMethod:
		return s.methodOp(o.Method)
	case KindDisable:
		if o.RemoveMasterKey {
			return s.removeMasterKeyOp()
		}
		return s.methodOp(tikv.MethodPlaintext)
	}
	return op{}
}

// methodOp changes the plan's method for the run and saves the plan only
// once every store is verified on it: an interrupted or failed run leaves
// plan.toml naming the method the cluster had, so `verify --plan` does not
// fail every store the run never reached (issue 15), and the resume
// (`--resume` with the same method) takes the new method from the command.
func (s *Session) methodOp(method string) op {
	changed := false
	return op{
		adjust: func(p *Plan) {
			if method != "" && p.Target.Method != method {
				p.Target.Method, changed = method, true
			}
		},
		after: func(context.Context) error {
			if !changed {
				return nil
			}
			if err := SavePlan(s.PlanPath, s.Plan); err != nil {
				return fmt.Errorf("every store runs method %s, but saving it in %s failed: %w", method, s.PlanPath, err)
			}
			s.emit(Event{Kind: Info, Step: StepFinalize, Message: fmt.Sprintf("%s now names method %s", s.PlanPath, method)})
			return nil
		},
	}
}

// removeMasterKeyOp is disable's step two: the master key becomes the
// previous one, the method and the master key go to plaintext.
func (s *Session) removeMasterKeyOp() op {
	return op{
		prepare: func(context.Context) ([]kms.KeyRef, error) {
			p := s.Plan
			previous := p.Target.MasterKey
			p.Target.Method = tikv.MethodPlaintext
			p.Target.PreviousMasterKey = &previous
			p.Target.MasterKey = kms.KeyRef{}
			return []kms.KeyRef{previous}, nil
		},
		after: func(context.Context) error { return SavePlan(s.PlanPath, s.Plan) },
	}
}

// IncidentStrategy is the fastest safe rollout of an incident rotation: zone
// batches where PD's regions prove them safe, no canary, polls of at most 500ms.
func IncidentStrategy(p *Plan) {
	p.Strategy.Canary = 0
	p.Strategy.Batching = BatchZone
	for _, d := range []*Duration{&p.Strategy.EvictPoll, &p.Strategy.ReadyPoll, &p.Strategy.SettlePoll} {
		if d.Duration > 500*time.Millisecond {
			d.Duration = 500 * time.Millisecond
		}
	}
}

// rotateOp rotates the master key: a new generation becomes master-key, the
// old one previous-master-key, a rolling restart re-encrypts every store's
// key.dict, then a second pass removes previous-master-key and the old key
// files, and the old generation is revoked when asked and confirmed.
func (s *Session) rotateOp(o RunOptions) op {
	var old kms.KeyRef
	return op{
		adjust: func(p *Plan) {
			if o.Incident {
				IncidentStrategy(p)
			}
		},
		prepare: func(ctx context.Context) ([]kms.KeyRef, error) {
			p, b := s.Plan, s.Backend
			if p.Target.PreviousMasterKey != nil { // a rotation already in flight: continue it
				old = *p.Target.PreviousMasterKey
				return []kms.KeyRef{p.Target.MasterKey, old}, nil
			}
			old = p.Target.MasterKey
			s.emit(Event{Kind: StepStarted, Step: StepPrepare, Message: "creating the next master-key generation in " + b.Name()})
			next, err := b.Prepare(ctx, kms.Purpose("new"))
			if err != nil {
				err = Failf("nothing on any host changed; see docs/backend-"+b.Name()+".md (rotation)",
					"creating the new master-key generation in %s: %v", b.Name(), err)
				s.emit(Event{Kind: StepFailed, Step: StepPrepare, Error: err.Error()})
				return nil, err
			}
			if o.Incident && next.Backend == "gcp" && next.ID == old.ID {
				// A new primary version of the same CryptoKey changes nothing TiKV
				// holds: its KmsBackend keeps the data key whose ciphertext the old
				// version produced and decrypts key.dict with it whatever version is
				// primary (tikv/tikv components/encryption/src/master_key/kms.rs,
				// v8.0.0–v8.5; kms/gcpkms package doc), so the suspect version would
				// still unlock every store. An incident must move to another key.
				return nil, Usagef("set [target.key.gcp] next-key-id in "+s.PlanPath+" to another CryptoKey, then run rotate --incident again; nothing on any host changed",
					"an incident rotation must move TiKV off the suspect key, but gcp made version %s of the same CryptoKey %s primary: TiKV would keep key.dict wrapped by version %s",
					next.Version, next.ID, FirstNonEmpty(old.Version, "in use"))
			}
			if kms.SameKey(next, old) {
				// Rotating to the key in use would change nothing, and retiring
				// the "old" key afterwards would revoke the key TiKV runs on.
				return nil, Failf("set [target.key."+b.Name()+"] next-key-id in "+s.PlanPath+" to another key (aws: or create-keys = true); nothing on any host changed",
					"%s returned the master key in use (%s) as the new one", b.Name(), next.ID)
			}
			p.Target.MasterKey, p.Target.PreviousMasterKey = next, &old
			s.emit(Event{Kind: StepDone, Step: StepPrepare, Message: "new master key prepared: " + KeyLabel(next, true)})
			return []kms.KeyRef{next, old}, nil
		},
		persist: func() error {
			p := s.Plan
			if err := SavePlan(s.PlanPath, p); err != nil {
				return err
			}
			s.emit(Event{Kind: Info, Step: StepPrepare, Message: fmt.Sprintf("%s now names %s as master-key and %s as previous-master-key",
				s.PlanPath, KeyLabel(p.Target.MasterKey, false), KeyLabel(*p.Target.PreviousMasterKey, false))})
			return nil
		},
		after: func(ctx context.Context) error {
			p := s.Plan
			if old.ID == "" && p.Target.PreviousMasterKey != nil {
				old = *p.Target.PreviousMasterKey
			}
			if err := s.secondPass(ctx, old); err != nil {
				return err
			}
			p.Target.PreviousMasterKey = nil
			// A KMS spec now names the key in use, so the next rotation moves on.
			p.Target.Key = p.Target.Key.Rotated(p.Target.MasterKey)
			if err := SavePlan(s.PlanPath, p); err != nil {
				return err
			}
			s.emit(Event{Kind: StepDone, Step: StepSecondPass, Message: "every store runs on the new master key alone; " + s.PlanPath + " updated"})
			if o.Incident || o.Retire {
				return s.retireOld(ctx, old)
			}
			return nil
		},
	}
}

// secondPass removes previous-master-key from every config and the old key
// files from every host. No restart is needed: TiKV builds the previous key
// only when the current one fails (reference tikv-encryption.md §2.2), and
// every key.dict was re-encrypted with the new key in the first pass.
func (s *Session) secondPass(ctx context.Context, old kms.KeyRef) error {
	eng := s.Engine
	want := eng.Desired
	want.PreviousMasterKey = tikv.MasterKey{}
	s.emit(Event{Kind: StepStarted, Step: StepSecondPass, Message: "removing previous-master-key from every tikv.toml"})
	fail := func(err error) error {
		s.emit(Event{Kind: StepFailed, Step: StepSecondPass, Error: err.Error()})
		return err
	}
	for _, n := range s.Plan.Nodes {
		node := eng.Nodes[n.StoreID]
		live, ok, err := node.ReadFile(ctx, n.ConfigPath)
		if err != nil || !ok {
			return fail(fmt.Errorf("second pass: reading %s on %s: %v", n.ConfigPath, n.Host, err))
		}
		updated, err := TOMLEditor(live, want)
		if err != nil {
			return fail(fmt.Errorf("second pass: editing %s: %w", n.ConfigPath, err))
		}
		if string(updated) != string(live) {
			if _, err := node.WriteFile(ctx, n.ConfigPath, updated); err != nil {
				return fail(fmt.Errorf("second pass: writing %s on %s: %w", n.ConfigPath, n.Host, err))
			}
		}
		mk := eng.Backend.MasterKey(old)
		if mk.Type == tikv.MasterKeyFile && mk.Path != "" && mk.Path != want.MasterKey.Path {
			if err := eng.KeyHosts[n.StoreID].Remove(ctx, mk.Path, true); err != nil {
				return fail(fmt.Errorf("second pass: removing the old key file on %s: %w", n.Host, err))
			}
		}
		msg := fmt.Sprintf("store %d: previous-master-key removed from the config", n.StoreID)
		if mk.Type == tikv.MasterKeyFile {
			msg += "; old key file shredded"
		}
		s.emit(Event{Kind: StepDone, Step: StepSecondPass, StoreID: n.StoreID, Message: msg})
	}
	return nil
}

// retireOld asks the decider (the wizard's dashboard, or the command line:
// --yes or a typed yes), then revokes the old generation in its backend.
func (s *Session) retireOld(ctx context.Context, old kms.KeyRef) error {
	eng := s.Engine
	if name := eng.Backend.Name(); manualRetire(name) {
		// Nothing to ask: offering "revoke" would end a finished rotation in
		// Retire's "not automated" error (kms/gcpkms, kms/azurekms Retire).
		s.emit(Event{Kind: Info, Step: StepRetire, Message: fmt.Sprintf("the old %s was NOT revoked: tikv-ear does not revoke keys in %s; every store already runs %s, so disable the old key in %s yourself once no backup taken before this rotation must stay restorable",
			keyWhole(old), name, KeyLabel(s.Plan.Target.MasterKey, false), name)})
		return nil
	}
	// Keep is the default and listed first: revoking is typed, never preselected.
	dec := Decision{ID: DecisionRetireOld, Options: []string{ChoiceKeep, ChoiceRevoke}, Default: ChoiceKeep, Typed: ChoiceRevoke,
		Question:     fmt.Sprintf("revoke the old master %s in %s? Every store already runs on the new one; read what revoking destroys first", keyWhole(old), eng.Backend.Name()),
		Consequences: s.revokeConsequences(old)}
	s.emit(Event{Kind: DecisionAsk, Step: StepRetire, Decision: &dec})
	choice, by, err := s.decider().Decide(ctx, dec)
	if err != nil {
		return err
	}
	dec.Chosen, dec.By = choice, by
	s.emit(Event{Kind: DecisionMade, Step: StepRetire, Decision: &dec})
	if choice != ChoiceRevoke {
		s.emit(Event{Kind: Info, Step: StepRetire, Message: fmt.Sprintf("the old %s was NOT revoked; every store already runs %s (revoke it later in %s)",
			KeyLabel(old, false), KeyLabel(s.Plan.Target.MasterKey, false), eng.Backend.Name())})
		return nil
	}
	var hosts []kms.Host
	for _, h := range eng.KeyHosts {
		hosts = append(hosts, h)
	}
	ev, err := eng.Backend.Retire(ctx, old, kms.RetireOptions{Confirmed: true, Hosts: hosts})
	if err != nil {
		err = fmt.Errorf("retiring the old generation: %w", err)
		s.emit(Event{Kind: StepFailed, Step: StepRetire, Error: err.Error()})
		return err
	}
	s.emit(Event{Kind: StepDone, Step: StepRetire, Message: fmt.Sprintf("old %s retired in %s (%s)", KeyLabel(old, false), eng.Backend.Name(), ev.State)})
	return nil
}

// revokeConsequences says what revoking old destroys. Every store re-wrapped
// its key.dict under the new key in the first pass (the runner verified
// "encryption: persisted result after replace master key." on each), so
// only copies taken before the rotation still need old: with it gone, they
// cannot be decrypted (docs/incident-rotation.md, tikv-encryption.md §2.2).
func (s *Session) revokeConsequences(old kms.KeyRef) []string {
	name := s.Engine.Backend.Name()
	ids := make([]string, 0, len(s.Plan.Nodes))
	for _, n := range s.Plan.Nodes {
		ids = append(ids, fmt.Sprint(n.StoreID))
	}
	stores := strings.Join(ids, ",")
	// What each backend's Retire does (kms/<backend> Retire, docs/incident-rotation.md "Per backend").
	how, undo := "it is revoked in "+name, "treat it as final"
	switch name {
	case "file":
		how, undo = "its key files are shredded here and on every host", "it cannot be undone"
	case "vault":
		how, undo = "its KV versions are destroyed in Vault and its key files shredded on every host", "it cannot be undone"
	case "aws":
		how, undo = "the CMK is disabled in AWS KMS", "AWS can re-enable it (EnableKey), but treat it as gone"
	}
	return []string{
		fmt.Sprintf("destroys: master %s in %s; %s", keyWhole(old), name, how),
		fmt.Sprintf("stores %s keep running: each re-encrypted its key.dict under %s in this rotation", stores, KeyLabel(s.Plan.Target.MasterKey, false)),
		fmt.Sprintf("no longer decryptable: every copy of key.dict taken before this rotation (disk snapshots, file-level backups of the data dirs of stores %s), and the data files those copies unlock", stores),
		undo + "; keep it instead while such a backup must stay restorable, and revoke it later in " + name,
	}
}

// manualRetire reports whether the named backend leaves revoking the old key
// to the operator: gcp and azure Retire return "not automated" (kms/gcpkms,
// kms/azurekms), because TiKV may still need an old version there.
func manualRetire(backend string) bool {
	return backend == "gcp" || backend == "azure"
}

// keyWhole names a key once, whole: "key generation N (fingerprint) at <id>"
// for file and vault, "key <id>" (with its version when known) for a KMS key.
func keyWhole(ref kms.KeyRef) string {
	if ref.Generation == 0 {
		if ref.Version != "" {
			return fmt.Sprintf("key %s version %s", ref.ID, ref.Version)
		}
		return "key " + ref.ID
	}
	return fmt.Sprintf("key %s at %s", KeyLabel(ref, true), ref.ID)
}

// KeyLabel names a master key for people: "generation N" for file and vault
// (with its fingerprint when withFP), "key <id>" for a KMS key, which has no
// generation number.
func KeyLabel(ref kms.KeyRef, withFP bool) string {
	if ref.Generation == 0 {
		return "key " + ref.ID
	}
	if withFP && ref.Fingerprint != "" {
		return fmt.Sprintf("generation %d (%s)", ref.Generation, ref.Fingerprint)
	}
	return fmt.Sprintf("generation %d", ref.Generation)
}

// Deliver re-pushes the key files of the plan's generations to the stores
// (all when ids is empty), e.g. after a reboot emptied a tmpfs key directory.
// It returns how many stores it reached.
func (s *Session) Deliver(ctx context.Context, ids []uint64) (int, error) {
	if s.Engine.Desired.MasterKey.Type == tikv.MasterKeyFile { // a sealed Vault or an expired token: say so before any host
		for _, c := range s.Backend.Preflight(ctx) {
			if kc := KeyCheck(c, 0); kc.Status == Fail {
				return 0, Failf(kc.Fix, "key backend preflight: %s; nothing delivered", kc.Message)
			}
		}
	}
	keys := &BackendKeys{B: s.Backend, Refs: PlanRefs(s.Plan), Hosts: s.Engine.KeyHosts}
	delivered := 0
	for _, n := range s.Plan.Nodes {
		if len(ids) > 0 && !containsID(ids, n.StoreID) {
			continue
		}
		if err := keys.Stage(ctx, n); err != nil {
			return delivered, fmt.Errorf("delivering to store %d (%s): %w", n.StoreID, n.Host, err)
		}
		delivered++
		// The message names the store itself: a line printer shows it as written.
		msg := fmt.Sprintf("store %d (%s): key %s delivered", n.StoreID, n.Host, KeyLabel(s.Plan.Target.MasterKey, false))
		if s.Engine.Desired.MasterKey.Type != tikv.MasterKeyFile {
			msg = fmt.Sprintf("store %d (%s): nothing to deliver: TiKV fetches its %s key from the KMS itself", n.StoreID, n.Host, s.Backend.Name())
		}
		s.emit(Event{Kind: StepDone, Step: StepStage, Message: msg})
	}
	return delivered, nil
}

func containsID(ids []uint64, id uint64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}
