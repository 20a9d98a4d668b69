package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// Access is what a caller of the control interface may do.
type Access int

const (
	// Operate may read the supervisor's state, the programs' status,
	// configuration summary (avail) and logs, and start, stop and so
	// restart the programs the configuration already has. It is what a
	// group with access to the socket gets (in the image: the user podman).
	Operate Access = iota
	// Admin may also change what runs and as whom: reread and apply the
	// configuration (reloadConfig, addProcessGroup, removeProcessGroup),
	// shut the supervisor down or restart it, signal programs, write to
	// their stdin and clear their logs.
	Admin
)

// Caller is who calls, as the listener saw it.
type Caller struct {
	Access Access
	// Who names the caller in a refusal, e.g. "uid 1000".
	Who string
}

// CallerFunc decides who sent a request (from its peer credentials or
// its login).
type CallerFunc func(*http.Request) Caller

type callerKey struct{}

// withCaller records c in ctx for the methods it calls.
func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerOf is the caller recorded in ctx; none recorded counts as
// Operate, never as Admin.
func callerOf(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{Access: Operate, Who: "a caller of unknown identity"}
}

// adminOnly maps each method an Operate caller may not call to what it
// does, for the refusal. Every other method only reads, or starts and
// stops programs the configuration already has.
var adminOnly = map[string]string{
	"supervisor.reloadConfig":        "changing the configuration (reread, update)",
	"supervisor.addProcessGroup":     "changing the configuration (add, update)",
	"supervisor.removeProcessGroup":  "changing the configuration (remove, update)",
	"supervisor.shutdown":            "shutting the supervisor down",
	"supervisor.restart":             "restarting the supervisor (reload)",
	"supervisor.signalProcess":       "signalling programs",
	"supervisor.signalProcessGroup":  "signalling programs",
	"supervisor.signalAllProcesses":  "signalling programs",
	"supervisor.clearLog":            "clearing logs",
	"supervisor.clearProcessLogs":    "clearing logs",
	"supervisor.clearProcessLog":     "clearing logs",
	"supervisor.clearAllProcessLogs": "clearing logs",
	"supervisor.sendProcessStdin":    "writing to a program's stdin",
	"supervisor.sendRemoteCommEvent": "sending events",
}

// allowed returns nil when c may call method, else the fault that says
// why not and what to do. A refused reloadConfig is CANT_REREAD, which
// Python's supervisorctl prints as "ERROR: …" for reread; the rest are
// FAILED.
func allowed(method string, c Caller) *xmlrpc.Fault {
	what, ok := adminOnly[method]
	if !ok || c.Access == Admin {
		return nil
	}
	code := FaultFailed
	if method == "supervisor.reloadConfig" {
		code = FaultCantReread
	}
	return fault(code, fmt.Sprintf("%s%s%s may only read status and logs and start, stop or restart programs; run supervisorctl as root (in the image: docker exec CONTAINER supervisorctl %s)",
		what, xmlrpc.RefusedMark, c.Who, ctlCommand(method)))
}

// ctlCommand is the supervisorctl command that calls method, for the hint.
func ctlCommand(method string) string {
	switch m := strings.TrimPrefix(method, "supervisor."); m {
	case "reloadConfig", "addProcessGroup", "removeProcessGroup":
		return "update"
	case "shutdown":
		return "shutdown"
	case "restart":
		return "reload"
	case "signalProcess", "signalProcessGroup", "signalAllProcesses":
		return "signal SIG NAME"
	case "clearLog", "clearProcessLogs", "clearProcessLog", "clearAllProcessLogs":
		return "clear NAME"
	case "sendProcessStdin":
		return "fg NAME"
	default:
		return "…"
	}
}
