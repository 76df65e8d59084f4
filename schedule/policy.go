package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Day is 24 hours; periods are whole days.
const Day = 24 * time.Hour

// Policy periods (reference kms-and-evidence.md §5).
const (
	// DefaultMasterKeyPeriod rotates the TiKV master key (a key-wrapping key) yearly.
	DefaultMasterKeyPeriod = 365 * Day
	// NISTKeyWrapOUP is NIST SP 800-57 Pt1 Table 1's originator-usage period for a
	// symmetric key-wrapping key: at most 2 years (2007 revision; Rev. 5 UNCONFIRMED).
	NISTKeyWrapOUP = 730 * Day
	// DefaultDataKeyRotationPeriod is TiKV's data-key-rotation-period default
	// (components/encryption/src/config.rs; cluster/tikv.DefaultDataKeyRotationPeriod).
	DefaultDataKeyRotationPeriod = "7d"
	// DefaultSigningKeyPeriod is the report signing key's period: 2 years,
	// inside SP 800-57's 1–3 years for a private signature key.
	DefaultSigningKeyPeriod = 730 * Day
	// MinSigningKeyPeriod and MaxSigningKeyPeriod bound SP 800-57's private signature key cryptoperiod.
	MinSigningKeyPeriod = 365 * Day
	MaxSigningKeyPeriod = 1095 * Day
)

// Policy is the rotation policy for the keys tikv-ear manages.
type Policy struct {
	MasterKeyPeriod       time.Duration // master-key rotation period, whole days
	DataKeyRotationPeriod string        // TiKV data-key-rotation-period, e.g. "7d"
	SigningKeyPeriod      time.Duration // report signing-key period
}

// DefaultPolicy returns 365d master key, TiKV's 7d data key and a 2-year signing key.
func DefaultPolicy() Policy {
	return Policy{MasterKeyPeriod: DefaultMasterKeyPeriod, DataKeyRotationPeriod: DefaultDataKeyRotationPeriod, SigningKeyPeriod: DefaultSigningKeyPeriod}
}

// Check validates p. Errors make the policy unusable; warnings are returned
// for periods outside NIST SP 800-57's suggested cryptoperiods.
func (p Policy) Check() (warnings []string, err error) {
	var errs []error
	if p.MasterKeyPeriod < Day || p.MasterKeyPeriod%Day != 0 {
		errs = append(errs, fmt.Errorf("master-key period %s: use a whole number of days, at least 1d", p.MasterKeyPeriod))
	} else if p.MasterKeyPeriod > NISTKeyWrapOUP {
		warnings = append(warnings, fmt.Sprintf("master-key period %dd exceeds the 730d (2-year) originator-usage period NIST SP 800-57 Pt1 suggests for key-wrapping keys", p.MasterKeyPeriod/Day))
	}
	if d, err := tikv.ParseReadableDuration(p.DataKeyRotationPeriod); err != nil {
		errs = append(errs, fmt.Errorf("data-key rotation period %q: %w", p.DataKeyRotationPeriod, err))
	} else if d <= 0 {
		errs = append(errs, fmt.Errorf("data-key rotation period %q: must be positive, e.g. 7d", p.DataKeyRotationPeriod))
	}
	if p.SigningKeyPeriod <= 0 {
		errs = append(errs, fmt.Errorf("signing-key period %s: must be positive", p.SigningKeyPeriod))
	} else if p.SigningKeyPeriod < MinSigningKeyPeriod || p.SigningKeyPeriod > MaxSigningKeyPeriod {
		warnings = append(warnings, fmt.Sprintf("signing-key period %dd is outside the 1–3 years NIST SP 800-57 Pt1 suggests for a private signature key", p.SigningKeyPeriod/Day))
	}
	return warnings, errors.Join(errs...)
}

// Due is where a key stands against its rotation period.
type Due struct {
	Age     time.Duration // now − last rotation (0 when never rotated)
	NextDue time.Time     // last rotation + period (zero when never rotated)
	Due     bool          // now ≥ NextDue, or never rotated
	Overdue bool          // now > NextDue, or never rotated
	Never   bool          // no rotation recorded
}

// Status reports the master key's age and next due date under p.
func (p Policy) Status(lastRotation, now time.Time) Due {
	return Status(p.MasterKeyPeriod, lastRotation, now)
}

// Status computes age and due date for a key rotated at lastRotation with the
// given period, as of now. A zero lastRotation means never rotated: due and overdue.
func Status(period time.Duration, lastRotation, now time.Time) Due {
	if lastRotation.IsZero() {
		return Due{Due: true, Overdue: true, Never: true}
	}
	next := lastRotation.Add(period)
	d := Due{NextDue: next, Due: !now.Before(next), Overdue: now.After(next)}
	if now.After(lastRotation) {
		d.Age = now.Sub(lastRotation)
	}
	return d
}
