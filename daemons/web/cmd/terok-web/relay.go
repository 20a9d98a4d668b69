package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/nsdial"
)

// relayCommand is what terok-web runs inside a web task's namespaces
// (through nsenter) to open connections to the task's app; see package
// nsdial. Not for people: it serves on fd 3.
var relayCommand = &cli.Command{
	Name:   nsdial.RelayCommand,
	Hidden: true,
	Usage:  "internal: relay connections inside a task's network namespace (fd 3)",
	Action: func(c *cli.Context) error {
		return nsdial.Serve(os.NewFile(3, "relay-ctl"))
	},
}
