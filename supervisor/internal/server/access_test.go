package server

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// TestAccessPolicy pins, for every method the server answers, whether a
// caller with Operate rights may call it. A new method must be placed here
// on purpose, so nothing becomes callable by the socket's group unnoticed.
func TestAccessPolicy(t *testing.T) {
	operate := map[string]bool{
		"system.listMethods": true, "system.methodHelp": true, "system.methodSignature": true, "system.multicall": true,
		"supervisor.getAPIVersion": true, "supervisor.getVersion": true, "supervisor.getSupervisorVersion": true,
		"supervisor.getIdentification": true, "supervisor.getState": true, "supervisor.getPID": true,
		"supervisor.readLog": true, "supervisor.readMainLog": true,
		"supervisor.getProcessInfo": true, "supervisor.getAllProcessInfo": true, "supervisor.getAllConfigInfo": true,
		"supervisor.startProcess": true, "supervisor.startAllProcesses": true, "supervisor.startProcessGroup": true,
		"supervisor.stopProcess": true, "supervisor.stopAllProcesses": true, "supervisor.stopProcessGroup": true,
		"supervisor.readProcessStdoutLog": true, "supervisor.readProcessLog": true, "supervisor.readProcessStderrLog": true,
		"supervisor.tailProcessStdoutLog": true, "supervisor.tailProcessLog": true, "supervisor.tailProcessStderrLog": true,

		"supervisor.reloadConfig": false, "supervisor.addProcessGroup": false, "supervisor.removeProcessGroup": false,
		"supervisor.shutdown": false, "supervisor.restart": false, "supervisor.clearLog": false,
		"supervisor.signalProcess": false, "supervisor.signalProcessGroup": false, "supervisor.signalAllProcesses": false,
		"supervisor.clearProcessLogs": false, "supervisor.clearProcessLog": false, "supervisor.clearAllProcessLogs": false,
		"supervisor.sendProcessStdin": false, "supervisor.sendRemoteCommEvent": false,
	}
	r := NewRPC(&Supervisor{})
	var names []string
	for n := range r.methods {
		names = append(names, n)
	}
	sort.Strings(names)
	op := Caller{Access: Operate, Who: "uid 1000"}
	for _, n := range names {
		want, ok := operate[n]
		if !ok {
			t.Errorf("%s: not placed in this test; decide whether the socket's group may call it", n)
			continue
		}
		f := allowed(n, op)
		if (f == nil) != want {
			t.Errorf("%s: allowed for Operate = %v, want %v", n, f == nil, want)
		}
		if f != nil && (!strings.Contains(f.String, "needs root") || !strings.Contains(f.String, "uid 1000")) {
			t.Errorf("%s: refusal %q does not say root is needed and who asked", n, f.String)
		}
		if allowed(n, Caller{Access: Admin}) != nil {
			t.Errorf("%s: refused to Admin", n)
		}
	}
	if f := allowed("supervisor.reloadConfig", op); f.Code != FaultCantReread {
		t.Errorf("reloadConfig refusal code %d, want CANT_REREAD (Python's reread prints it as ERROR: …)", f.Code)
	}
	if f := allowed("supervisor.shutdown", op); !errors.Is(f, unixhttp.ErrForbidden) {
		t.Errorf("a refusal does not match unixhttp.ErrForbidden: %v", f)
	}
	if c := callerOf(context.Background()); c.Access != Operate {
		t.Errorf("a request without a recorded caller counts as %v, want Operate", c.Access)
	}
}

// TestMulticallChecksEachCall: system.multicall may not smuggle a refused
// method past the check.
func TestMulticallChecksEachCall(t *testing.T) {
	r := NewRPC(&Supervisor{})
	ctx := withCaller(context.Background(), Caller{Access: Operate, Who: "uid 1000"})
	res, err := r.call(ctx, "system.multicall", []any{[]any{
		map[string]any{"methodName": "supervisor.shutdown", "params": []any{}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := res.([]any)
	f, ok := out[0].(map[string]any)
	if !ok || f["faultCode"] != FaultFailed || !strings.Contains(f["faultString"].(string), "needs root") {
		t.Fatalf("multicall of shutdown as Operate = %v, want the FAILED refusal", out)
	}
}
