package core

// Field describes one setting of a backend's [key.<backend>] plan table, so a
// form (the wizard) can be generated from the backend instead of hand-written.
// A field never carries key material: a secret is always named by a file path.
type Field struct {
	// Key is the setting's name in the plan's [key.<backend>] table.
	Key string
	// TiKVKey is the key it becomes under [security.encryption.master-key] in
	// tikv.toml (e.g. "azure.tenant-id"); "" when only the tool reads it.
	TiKVKey string
	// Label is a short human name; Help says what to enter.
	Label, Help string
	// Placeholder is an example shown in an empty input, never a default.
	Placeholder string
	// Default is the value a form starts with when nothing pre-fills it.
	Default string
	// Secret marks a setting whose value is a path to a file holding a secret
	// (the secret itself is never a plan value).
	Secret bool
	// Required means the plan is refused without it (see also OneOf).
	Required bool
	// OneOf names a group of which at least one field must be set (e.g. the
	// Azure credential); Required is false for its members.
	OneOf string
	// Pattern, when set, is a regular expression the value must match;
	// PatternHelp says in words what it means.
	Pattern, PatternHelp string
	// Format is a check beyond Pattern: FormatURL (an http or https base URL),
	// FormatHTTPS (https only), FormatYesNo, FormatAbsPath; "" for none.
	Format string
	// Advanced fields are asked last, in their own group: the tool's own
	// overrides (endpoints, trust, rotation targets) most operators leave empty.
	Advanced bool
}

// Field formats.
const (
	// FormatURL is an http:// or https:// base URL with a host.
	FormatURL = "url"
	// FormatHTTPS is an https:// base URL with a host.
	FormatHTTPS = "https"
	// FormatYesNo is "yes" or "no" (a boolean setting).
	FormatYesNo = "yesno"
	// FormatAbsPath is an absolute path on the TiKV hosts.
	FormatAbsPath = "abspath"
)
