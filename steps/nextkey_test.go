package steps

import (
	"errors"
	"strings"
	"testing"

	"github.com/tikv-ear/tikv-ear/kms"
	"github.com/tikv-ear/tikv-ear/kms/awskms"
)

func TestCheckNextKeyRefusesFromThePlanAlone(t *testing.T) {
	p := &Plan{}
	p.Target.Key = kms.Spec{Backend: "aws", AWS: &awskms.Config{KeyID: "alias/tikv"}}
	p.Target.MasterKey = kms.KeyRef{Backend: "aws", ID: "arn:aws:kms:us-west-2:1:key/a"}
	err := CheckNextKey(p, "/x/plan.toml", true)
	var e *Error
	if !errors.As(err, &e) || e.Code != ExitUsage {
		t.Fatalf("CheckNextKey = %v, want an exit-2 refusal", err)
	}
	if len(e.Hints) != 1 || !strings.Contains(e.Hints[0], "/x/plan.toml") || !strings.Contains(e.Hints[0], "nothing was created") {
		t.Errorf("hints %q: want the plan to edit and that nothing changed", e.Hints)
	}
	// A rotation in flight goes on with the generations it recorded.
	p.Target.PreviousMasterKey = &kms.KeyRef{Backend: "aws", ID: "arn:aws:kms:us-west-2:1:key/0"}
	if err := CheckNextKey(p, "/x/plan.toml", true); err != nil {
		t.Errorf("an interrupted rotation was refused: %v", err)
	}
	p.Target.PreviousMasterKey = nil
	p.Target.Key.AWS.CreateKeys = true
	if err := CheckNextKey(p, "/x/plan.toml", true); err != nil {
		t.Errorf("create-keys = true was refused: %v", err)
	}
}

func TestKeyWholeNamesAKeyOnce(t *testing.T) {
	for _, ref := range []kms.KeyRef{
		{Backend: "aws", ID: "arn:aws:kms:us-west-2:1:key/a"},
		{Backend: "gcp", ID: "projects/p/locations/l/keyRings/r/cryptoKeys/k", Version: "3"},
		{Backend: "file", ID: "/etc/tikv/master-g1.key", Generation: 1, Fingerprint: "sha256:ab"},
	} {
		got := "revoke the old master " + keyWhole(ref)
		if strings.Contains(got, "key key") || !strings.HasPrefix(got, "revoke the old master key ") {
			t.Errorf("%+v reads %q", ref, got)
		}
	}
}
