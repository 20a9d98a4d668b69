// Command supervisorctl controls the programs of terok-supervisord (or of
// Python's supervisord) over XML-RPC, with the commands, output and exit
// statuses of Python's supervisorctl 4.2.5. See docs/supervisorctl.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/ctl"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	code := ctl.Main(context.Background(), os.Args[1:], ctl.Env{
		Argv0: os.Args[0], Environ: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Signals: sigs,
	})
	os.Exit(code)
}
