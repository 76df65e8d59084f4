// Package tikvconf is the config-editor room: it reads a tikv.toml into the
// tikv model (ParseConfig, with positions for every problem) and edits its
// [security.encryption] section while keeping every other byte, comment and
// key order (ApplyEdits, EncryptionEdits), and renders the unified diff the
// operator reviews. It imports cluster/tikv and go-toml; it never talks to a
// node (steps and cluster/gather bring it the file's bytes).
package tikvconf
