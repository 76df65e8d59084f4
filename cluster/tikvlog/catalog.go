package tikvlog

import (
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Wording is one spelling of a message and the TiKV releases that log it.
type Wording struct {
	// Level is the unified-log level this wording is logged at.
	Level string
	// Text is the exact message text, or its fixed prefix when Prefix is set.
	Text string
	// Prefix marks messages whose tail is formatted at run time ({:?}, {}).
	Prefix bool
	// Panic marks a panic payload: TiKV's panic hook logs it at FATAL from
	// components/tikv_util/src/lib.rs (set_panic_hook: crit! with the fields
	// thread_name, location and backtrace), so the line's source field is
	// lib.rs and Source is where the panic was raised.
	Panic bool
	// From is the first release tag that logs this wording; Until the first
	// release tag that no longer does ("" while it is still logged).
	From, Until string
	// Source is the upstream file that emits it (in From's tree), and Cite
	// how the range was established (tags read, commit or PR that changed it).
	Source, Cite string
}

// Logged reports whether release v logs this wording.
func (w Wording) Logged(v tikv.Version) bool {
	if w.From != "" && v.Less(mustVersion(w.From)) {
		return false
	}
	return w.Until == "" || v.Less(mustVersion(w.Until))
}

func (w Wording) matches(message string) bool {
	if w.Prefix {
		return strings.HasPrefix(message, w.Text)
	}
	return message == w.Text
}

// Msg is one message that TiKV writes to its log, exactly as upstream spells
// it. Name, Level, Text, Prefix and Source describe the newest wording;
// Older lists the wordings of earlier releases, oldest first. The reader
// accepts every wording; the sim logs the one of the version it plays
// (ForVersion).
type Msg struct {
	// Name is a stable identifier used by the tool (and by the sim) to refer to the message.
	Name string
	// Level is the unified-log level TiKV logs it at.
	Level string
	// Text is the exact message text, or its fixed prefix when Prefix is set.
	Text string
	// Prefix marks messages whose tail is formatted at run time.
	Prefix bool
	// Panic marks a panic payload logged by the panic hook (see Wording.Panic).
	Panic bool
	// Source is the upstream file that emits the message.
	Source string
	// From is the first release tag that logs the newest wording ("" when
	// every release with encryption at rest, v4.0.0 on, does).
	From string
	// Cite says how the newest wording's range was established.
	Cite string
	// Older are the earlier wordings, oldest first.
	Older []Wording
}

// Newest returns the current wording.
func (m Msg) Newest() Wording {
	return Wording{Level: m.Level, Text: m.Text, Prefix: m.Prefix, Panic: m.Panic, From: m.From, Source: m.Source, Cite: m.Cite}
}

// Wordings returns every wording, oldest first.
func (m Msg) Wordings() []Wording { return append(append([]Wording{}, m.Older...), m.Newest()) }

// Matches reports whether a log message (the [msg] part of a unified log
// line) is this message in any release's wording.
func (m Msg) Matches(message string) bool {
	_, ok := m.Match(message)
	return ok
}

// Match returns the wording a log message is written in.
func (m Msg) Match(message string) (Wording, bool) {
	for _, w := range m.Wordings() {
		if w.matches(message) {
			return w, true
		}
	}
	return Wording{}, false
}

// ForVersion returns the wording release v logs; ok is false when v does not
// log this message at all (for example the KMS init line before v5.1.0).
func (m Msg) ForVersion(v tikv.Version) (w Wording, ok bool) {
	for _, w := range m.Wordings() {
		if w.Logged(v) {
			return w, true
		}
	}
	return Wording{}, false
}

// Format renders the newest wording with its run-time tail (for Prefix
// messages); fixed messages ignore tail.
func (m Msg) Format(tail string) string { return m.Newest().Format(tail) }

// Format renders the wording with its run-time tail.
func (w Wording) Format(tail string) string {
	if w.Prefix {
		return w.Text + tail
	}
	return w.Text
}

// mustVersion parses a release tag of the catalogue (a programming error if bad).
func mustVersion(s string) tikv.Version {
	v, err := tikv.ParseVersion(s)
	if err != nil {
		panic("tikvlog: bad release tag " + s)
	}
	return v
}

// citeTags is the common citation: the text was looked up with `git grep -F`
// in every vX.Y.Z release tag of tikv/tikv (snapshot at 8e964719db0d).
const citeTags = "git grep in every release tag v4.0.0…v8.5.x of tikv/tikv (HEAD 8e964719db0d)"

// The catalogue of TiKV log messages the tool reads and the sim writes. Every
// string is copied from ../shared/reference/tikv-encryption.md §2.6 and §3 and
// checked in tikv/tikv's release tags; Source names the upstream file (at
// 8e964719db0d unless noted). Messages whose wording or level changed carry
// the older wordings with their release ranges.
var (
	// MsgWelcome is logged at every start, right after the logger is set up
	// (src/lib.rs log_tikv_info, v4.0.0…HEAD): it marks where a start attempt
	// begins. It is not an encryption message, so Catalogue does not list it.
	MsgWelcome = Msg{Name: "welcome", Level: "INFO", Text: "Welcome to TiKV", Source: "src/lib.rs", Cite: citeTags}
	// MsgInitKMSBackend is logged when a KMS master-key backend is built. The
	// wording changed twice: "cloud" v5.1.0–v7.1.x, "aws" v7.2.0–v8.3.x, "KMS"
	// from v8.4.0 (commit 5d2b5cef, tikv/tikv#17387); v4.0.x and v5.0.x log none.
	MsgInitKMSBackend = Msg{Name: "init-kms-backend", Level: "INFO", Text: "Encryption init KMS backend", Source: "components/encryption/export/src/lib.rs",
		From: "v8.4.0", Cite: "commit 5d2b5cef (tikv/tikv#17387); " + citeTags,
		Older: []Wording{
			{Level: "INFO", Text: "Encryption init cloud backend", From: "v5.1.0", Until: "v7.2.0", Source: "components/encryption/export/src/lib.rs", Cite: citeTags},
			{Level: "INFO", Text: "Encryption init aws backend", From: "v7.2.0", Until: "v8.4.0", Source: "components/encryption/export/src/lib.rs", Cite: citeTags},
		}}
	// MsgFailedAccessMasterKey is logged when the master-key backend cannot be built: "failed to access master key, {}".
	MsgFailedAccessMasterKey = Msg{Name: "failed-access-master-key", Level: "ERROR", Text: "failed to access master key, ", Prefix: true, Source: "components/encryption/export/src/lib.rs", Cite: citeTags}
	// MsgNoDicts is logged when neither key.dict nor file.dict exists.
	MsgNoDicts = Msg{Name: "no-dicts", Level: "INFO", Text: "encryption: none of key dictionary and file dictionary are found.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgEmptyFileDict is logged when a stale empty file.dict is deleted (absent in v4.0.0, reference §3).
	MsgEmptyFileDict = Msg{Name: "empty-file-dict", Level: "INFO", Text: "encryption: file dict is empty and none of key dictionary are found.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgFoundDicts is logged when both dictionaries are loaded.
	MsgFoundDicts = Msg{Name: "found-dicts", Level: "INFO", Text: "encryption: found both of key dictionary and file dictionary.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgFailedLoadKeyDict is logged when key.dict cannot be read (e.g. wrong master key, also on the first try of a rotation).
	MsgFailedLoadKeyDict = Msg{Name: "failed-load-key-dict", Level: "ERROR", Text: "encryption: failed to load key dictionary.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgFailedLoadFileDict is logged when file.dict cannot be read.
	MsgFailedLoadFileDict = Msg{Name: "failed-load-file-dict", Level: "ERROR", Text: "encryption: failed to load file dictionary.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgDisabled is logged when encryption was never enabled and the method is plaintext.
	MsgDisabled = Msg{Name: "disabled", Level: "INFO", Text: "encryption is disabled.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgBeingEnabled is logged on the first start with encryption: "encryption is being enabled. method = {:?}".
	MsgBeingEnabled = Msg{Name: "being-enabled", Level: "INFO", Text: "encryption is being enabled. method = ", Prefix: true, Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgEnabled is logged on a normal start with encryption: "encryption is enabled. method = {:?}". Not logged on the master-key rotation path.
	MsgEnabled = Msg{Name: "enabled", Level: "INFO", Text: "encryption is enabled. method = ", Prefix: true, Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgFallbackPreviousKey is logged when TiKV falls back to previous-master-key.
	MsgFallbackPreviousKey = Msg{Name: "fallback-previous-key", Level: "WARN", Text: "failed to open encryption metadata using master key. could be master key being rotated. current master key: ", Prefix: true, Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgPersistedReplaceMasterKey is logged when a master-key rotation succeeded.
	MsgPersistedReplaceMasterKey = Msg{Name: "persisted-replace-master-key", Level: "INFO", Text: "encryption: persisted result after replace master key.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgTryRotateDataKey is logged on every background rotation tick: "Try to rotate data key, current method:{:?}" (absent in v4.0.0, reference §3).
	MsgTryRotateDataKey = Msg{Name: "try-rotate-data-key", Level: "INFO", Text: "Try to rotate data key, current method:", Prefix: true, Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgRotateDataKey is logged when a new data key is installed (field key_id).
	MsgRotateDataKey = Msg{Name: "rotate-data-key", Level: "INFO", Text: "encryption: rotate data key.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgRotateWorkerCancelled is logged at shutdown.
	MsgRotateWorkerCancelled = Msg{Name: "rotate-worker-cancelled", Level: "INFO", Text: "Key rotate worker has been cancelled.", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}
	// MsgInstallingDictFile is logged when file.dict is rewritten, including at every start (fields name, old_size, new_size).
	MsgInstallingDictFile = Msg{Name: "installing-dict-file", Level: "INFO", Text: "installing new dictionary file", Source: "components/encryption/src/file_dict_file.rs", Cite: citeTags}
	// MsgNewEncryptedFile is logged for every file created encrypted (fields
	// fname, method, iv): at INFO up to v6.0.x, at DEBUG from v6.1.0 (so a
	// default-level log of v6.1+ never shows it; reference §3, tikv/tikv#12462).
	MsgNewEncryptedFile = Msg{Name: "new-encrypted-file", Level: "DEBUG", Text: "new encrypted file", Source: "components/encryption/src/manager/mod.rs",
		From: "v6.1.0", Cite: citeTags,
		Older: []Wording{{Level: "INFO", Text: "new encrypted file", From: "v4.0.0", Until: "v6.1.0", Source: "components/encryption/src/manager/mod.rs", Cite: citeTags}}}
	// MsgEncryptionInitFailed is the FATAL panic of a failed init: "Encryption failed to initialize: {}. code: {}"
	// (panic! in cmd/src/server.rs in v5.0.x, components/server/src/server.rs v5.1–v7.0, common.rs from v7.1.0;
	// logged by the panic hook, e.g. "[FATAL] [lib.rs:478]" in tikv/tikv#17410).
	// v4.0.x unwraps the error instead (cmd/src/server.rs init_encryption), which the panic hook logs as a
	// FATAL line outside the catalogue.
	MsgEncryptionInitFailed = Msg{Name: "encryption-init-failed", Level: "FATAL", Text: "Encryption failed to initialize: ", Prefix: true, Panic: true, Source: "components/server/src/common.rs",
		From: "v7.1.0", Cite: citeTags,
		Older: []Wording{
			{Level: "FATAL", Text: "Encryption failed to initialize: ", Prefix: true, Panic: true, From: "v5.0.0", Until: "v5.1.0", Source: "cmd/src/server.rs", Cite: citeTags},
			{Level: "FATAL", Text: "Encryption failed to initialize: ", Prefix: true, Panic: true, From: "v5.1.0", Until: "v7.1.0", Source: "components/server/src/server.rs", Cite: citeTags},
		}}
	// MsgRaftEngineOpenFailed is the FATAL line when the raft engine cannot be
	// opened, e.g. the "Nonce + Counter must be 12/16 bytes, 0" crash of
	// v5.4.0–v6.1.x (tikv/tikv#12162, #12919). The wording changed with the
	// code: fatal!("failed to create raft engine: {}") v4.0.0–v5.4.x,
	// fatal!("Failed to create raft engine: {}") in v6.0.x (logged from
	// server.rs, as tikv/tikv#12162 shows), and .expect("failed to open raft
	// engine") from v6.1.0: a panic, logged by the panic hook as
	// "failed to open raft engine: <Debug of the error>".
	MsgRaftEngineOpenFailed = Msg{Name: "raft-engine-open-failed", Level: "FATAL", Text: "failed to open raft engine: ", Prefix: true, Panic: true, Source: "components/server/src/common.rs",
		From: "v7.1.0", Cite: citeTags,
		Older: []Wording{
			{Level: "FATAL", Text: "failed to create raft engine: ", Prefix: true, From: "v4.0.0", Until: "v6.0.0", Source: "cmd/src/server.rs (components/server/src/server.rs from v5.1.0)", Cite: citeTags},
			{Level: "FATAL", Text: "Failed to create raft engine: ", Prefix: true, From: "v6.0.0", Until: "v6.1.0", Source: "components/server/src/server.rs", Cite: "tikv/tikv#12162 (6.0.0-alpha log); " + citeTags},
			{Level: "FATAL", Text: "failed to open raft engine: ", Prefix: true, Panic: true, From: "v6.1.0", Until: "v7.1.0", Source: "components/server/src/server.rs", Cite: citeTags},
		}}
)

// Catalogue lists every encryption message above (all but MsgWelcome), in
// the order TiKV would usually log them.
func Catalogue() []Msg {
	return []Msg{
		MsgInitKMSBackend, MsgFailedAccessMasterKey, MsgNoDicts, MsgEmptyFileDict, MsgFoundDicts,
		MsgFailedLoadKeyDict, MsgFailedLoadFileDict, MsgDisabled, MsgBeingEnabled, MsgEnabled,
		MsgFallbackPreviousKey, MsgPersistedReplaceMasterKey, MsgTryRotateDataKey, MsgRotateDataKey,
		MsgRotateWorkerCancelled, MsgInstallingDictFile, MsgNewEncryptedFile, MsgEncryptionInitFailed, MsgRaftEngineOpenFailed,
	}
}

// Lookup returns the catalogue entry that matches a log message, if any.
func Lookup(message string) (Msg, bool) {
	for _, m := range Catalogue() {
		if m.Matches(message) {
			return m, true
		}
	}
	return Msg{}, false
}
