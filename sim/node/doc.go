// Package node is one simulated TiKV server process inside package sim. At
// every Start it reads its tikv.toml and behaves as the TiKV version it plays:
// it validates [security.encryption] with TiKV's exact error texts, builds the
// plaintext, file or KMS master key (AWS through a real KMS endpoint such as
// nsmithuk/local-kms), runs TiKV's dictionary startup algorithm (key.dict and
// file.dict in TiKV's binary formats, previous-master-key fallback, data-key
// rotation, plaintext switch rules), writes unified-format log lines from the
// message catalogue in cluster/tikv, keeps a small set of data files (SSTs with
// the RocksDB trailer when plaintext, AES-CTR ciphertext when encrypted, Raft
// Engine logs) that a background compaction rewrites, and serves /metrics,
// /status and /config on its status address.
//
// It must not import cluster/tikv's parsers or readers (only its constants and
// catalogue): the sim's writers and the tool's readers are written separately
// so one misreading cannot hide another. Every listener binds 127.0.0.1.
package node
