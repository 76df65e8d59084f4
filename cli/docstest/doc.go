// Package docstest keeps the handbook honest. Its tests compare the help
// blocks of docs/commands.md with `tikv-ear <cmd> --help`, check that every
// tikv-ear command line quoted in the docs names real commands and flags, and
// run the examples marked "sh sim" against a simulated cluster, in order,
// through cli.Main. It holds no code of its own besides the tests: run
//
//	go test ./cli/docstest
//	go test ./cli/docstest -docs-update   # rewrite the help blocks of docs/commands.md
package docstest
