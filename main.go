// Command tikv-ear turns on, rotates, verifies and proves TiKV encryption at rest.
//
// main builds the kong command tree from package cli, runs the chosen command
// and maps its error to an exit code and to age-style messages on stderr
// ("tikv-ear: error: …", "tikv-ear: hint: …").
package main

import (
	"os"

	"github.com/tikv-ear/tikv-ear/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.SystemIO()))
}
