package tikv

import (
	"testing"
	"time"
)

func TestParseReadableDuration(t *testing.T) {
	good := map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "168h": 168 * time.Hour, "1d12h": 36 * time.Hour, "1.5h": 90 * time.Minute,
		"500ms": 500 * time.Millisecond, " 10m ": 10 * time.Minute, "1h30m15s": time.Hour + 30*time.Minute + 15*time.Second,
		"3us": 3 * time.Microsecond, "": 0,
	}
	for in, want := range good {
		got, err := ParseReadableDuration(in)
		if err != nil || got != want {
			t.Errorf("%q = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{"7": ErrDurationParse, "7w": ErrDurationParse, "1m1h": ErrDurationOrder, "d": ErrDurationParse,
		"-1h": ErrDurationNegative, "1hh": ErrDurationOrder, "1x": ErrDurationParse, "5u": ErrDurationParse}
	for in, want := range bad {
		if _, err := ParseReadableDuration(in); err == nil || err.Error() != want {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion("v9.0.0-beta.2")
	if err != nil || v != (Version{9, 0, 0}) {
		t.Errorf("got %v %v", v, err)
	}
	if _, err := ParseVersion("nightly"); err == nil {
		t.Error("nightly parsed")
	}
	if KMSRotationBug(Version{7, 5, 4}) || !KMSRotationBug(Version{7, 5, 3}) || !KMSRotationBug(Version{8, 2, 0}) || KMSRotationBug(Version{8, 5, 0}) {
		t.Error("KMSRotationBug gates wrong")
	}
}
