// Package tikvlog is the room that reads TiKV's logs: the unified log-line
// parser, a record reader that never drops evidence (every record is
// parsed, parsed-partially or unparsed; continuation lines join their
// record; Rust panics on tikv_stderr.log are recognised), the catalogue of
// encryption messages with the TiKV release range of every wording, and the
// analysis of how the last start attempt ended.
//
// It reads only; the simulated cluster in package sim writes logs with the
// catalogue's wordings for the version it plays.
package tikvlog
