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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Main(ctx, os.Args[1:], ctl.Env{
		Argv0: os.Args[0], Environ: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	stop()
	os.Exit(code)
}
