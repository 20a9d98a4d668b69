// Command terok-gate is the token-gated git server of terok: git smart
// HTTP for the project repositories on TCP (default 127.0.0.1:9418), an
// admin API on its unix socket, and CLI wrappers for that API.
package main

import (
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kitcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
)

// main runs the app under the house rules of every terok CLI (kit/cli):
// flags anywhere, unknown commands listed, exit codes 0 ok, 1 failed,
// 2 usage, 3 gate not reachable, 4 not found.
func main() { kitcli.Main(newApp()) }

func newApp() *cli.App {
	return &cli.App{
		Name:     "terok-gate",
		Usage:    "the token-gated git server of terok",
		Version:  buildinfo.Version,
		Commands: []*cli.Command{serveCommand(), repoCommand(), tokenCommand(), eventsCommand()},
	}
}
