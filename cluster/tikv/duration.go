package tikv

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ReadableDuration parse errors besides ErrDurationParse
// (components/tikv_util/src/config.rs, impl FromStr for ReadableDuration).
const (
	ErrDurationOrder    = "d, h, m, s, ms, us should occur in given order."
	ErrDurationNegative = "duration should be positive."
	// ErrDurationNotASCIIPrefix is followed by the trimmed input.
	ErrDurationNotASCIIPrefix = "unexpect ascii string: "
)

// ParseReadableDuration parses a TiKV ReadableDuration ("7d", "168h", "1d12h",
// "1.5h", "500ms") the way TiKV does: units d, h, m, s, ms, us, largest first,
// fractional numbers allowed, whitespace around the whole string trimmed.
// Errors carry TiKV's own texts.
func ParseReadableDuration(s string) (time.Duration, error) {
	const (
		us  = 1.0
		ms  = 1000 * us
		sec = 1000 * ms
		min = 60 * sec
		hr  = 60 * min
		day = 24 * hr
	)
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return 0, errors.New(ErrDurationNotASCIIPrefix + s)
		}
	}
	left := s
	last := day + 1
	total := 0.0
	for {
		idx := strings.IndexAny(left, "dhmsu")
		if idx < 0 {
			break
		}
		number, rest := left[:idx], left[idx:]
		var unit float64
		switch {
		case strings.HasPrefix(rest, "ms"):
			unit, left = ms, rest[2:]
		case strings.HasPrefix(rest, "us"):
			unit, left = us, rest[2:]
		default:
			switch rest[0] {
			case 'd':
				unit = day
			case 'h':
				unit = hr
			case 'm':
				unit = min
			case 's':
				unit = sec
			default:
				return 0, errors.New(ErrDurationParse)
			}
			left = rest[1:]
		}
		if unit >= last {
			return 0, errors.New(ErrDurationOrder)
		}
		n, err := parseRustFloat(strings.TrimSpace(number))
		if err != nil {
			return 0, errors.New(ErrDurationParse)
		}
		total += n * unit
		last = unit
	}
	if left != "" {
		return 0, errors.New(ErrDurationParse)
	}
	if math.Signbit(total) {
		return 0, errors.New(ErrDurationNegative)
	}
	if math.IsNaN(total) || total >= float64(math.MaxInt64/int64(time.Microsecond)) {
		return 0, fmt.Errorf("duration %q is too large", s)
	}
	return time.Duration(uint64(total)) * time.Microsecond, nil
}

// parseRustFloat accepts what Rust's f64::from_str accepts for plain decimals
// (digits, one dot, optional exponent, optional sign); it rejects Go-only
// forms such as hex floats and underscores.
func parseRustFloat(s string) (float64, error) {
	if s == "" || strings.ContainsAny(s, "_xXpP") {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return strconv.ParseFloat(s, 64)
}
