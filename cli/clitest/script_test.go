// Package clitest runs the tikv-ear command line end to end with testscript
// (scripts in cli/testdata/script): the non-interactive paths, their exit
// codes and hints. It is its own package so its TestMain never clashes with
// package cli's tests. TUI behaviour is tested at the model level instead.
package clitest

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tikv-ear/tikv-ear/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tikv-ear": func() { os.Exit(cli.Main(os.Args[1:], cli.SystemIO())) },
	})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "../testdata/script", RequireExplicitExec: true})
}
