package core

// Field describes one setting of a backend's [key.<backend>] plan table, so a
// form (the wizard) can be generated from the backend instead of hand-written.
type Field struct {
	// Key is the setting's name in the plan's [key.<backend>] table.
	Key string
	// TiKVKey is the key it becomes under [security.encryption.master-key] in
	// tikv.toml (e.g. "azure.tenant-id"); "" when only the tool reads it.
	TiKVKey string
	// Label is a short human name; Help says what to enter.
	Label, Help string
	// Secret marks a setting whose value is a path to a file holding a secret
	// (the secret itself is never a plan value).
	Secret bool
	// Required means the plan is refused without it (see also OneOf).
	Required bool
	// OneOf names a group of which at least one field must be set (e.g. the
	// Azure credential); Required is false for its members.
	OneOf string
	// Pattern, when set, is a regular expression the value must match.
	Pattern string
}
