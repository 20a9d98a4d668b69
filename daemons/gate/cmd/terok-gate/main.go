// Command terok-gate is the token-gated git server of terok: git smart
// HTTP for the project repositories on TCP (default 127.0.0.1:9418), an
// admin API on its unix socket, and CLI wrappers for that API.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "terok-gate: %v\n", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:     "terok-gate",
		Usage:    "the token-gated git server of terok",
		Version:  buildinfo.Version,
		Commands: []*cli.Command{serveCommand(), repoCommand(), tokenCommand()},
	}
}
