// Package tikvdisk is the on-disk proof room: readers for TiKV's key.dict and
// file.dict (components/encryption, kvproto's encryptionpb messages) and the
// proof that classifies a data directory's files as encrypted or plaintext
// (SST trailers, Raft Engine headers) from a listing of their first and last
// bytes. It never writes TiKV's binary formats: the simulated cluster in
// package sim has its own writers, so one misreading cannot hide another.
// It imports cluster/tikv and kvproto; it never talks to a node itself.
package tikvdisk
