//go:build !linux

package docstest

// checkNotTmpfs is a no-op where statfs reports no tmpfs magic.
func checkNotTmpfs(string) error { return nil }
