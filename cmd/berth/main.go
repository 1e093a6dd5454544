// Command berth is Berth's one binary: the panel, the node daemon, and the
// tools around them. See internal/cli for the commands.
package main

import (
	"os"

	"github.com/berth-dev/berth/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
