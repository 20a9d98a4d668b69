// Command terok-vault keeps the credentials of terok's agents: API keys
// and subscription logins per provider, encrypted at rest, never returned
// to anybody. A task gets phantom tokens instead, in its provider's key
// format, and reaches the provider through the vault's credential broker
// (plain HTTP, default 127.0.0.1:9419), which swaps a phantom for the real
// credential on that provider's host and routes only. The admin API
// answers on vault.sock; the commands here call it.
package main

import (
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kitcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
)

// main runs the app under the house rules of every terok CLI (kit/cli):
// flags anywhere, unknown commands listed, exit codes 0 ok, 1 failed,
// 2 usage or a configuration the vault cannot use, 3 vault not reachable,
// 4 not found.
func main() { kitcli.Main(newApp()) }

func newApp() *cli.App {
	return &cli.App{
		Name:    "terok-vault",
		Usage:   "agent credentials that never enter the task: secrets, phantom tokens, the credential broker",
		Version: buildinfo.Version,
		Commands: []*cli.Command{serveCommand(), secretCommand(), providersCommand(), phantomCommand(),
			auditCommand()},
	}
}
