package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/procs"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
	api "github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// Fault codes of Python's supervisor.xmlrpc.Faults, shared with the client.
const (
	FaultUnknownMethod        = api.FaultUnknownMethod
	FaultIncorrectParameters  = api.FaultIncorrectParameters
	FaultBadArguments         = api.FaultBadArguments
	FaultSignatureUnsupported = api.FaultSignatureUnsupported
	FaultShutdownState        = api.FaultShutdownState
	FaultBadName              = api.FaultBadName
	FaultBadSignal            = api.FaultBadSignal
	FaultNoFile               = api.FaultNoFile
	FaultNotExecutable        = api.FaultNotExecutable
	FaultFailed               = api.FaultFailed
	FaultAbnormalTermination  = api.FaultAbnormalTermination
	FaultSpawnError           = api.FaultSpawnError
	FaultAlreadyStarted       = api.FaultAlreadyStarted
	FaultNotRunning           = api.FaultNotRunning
	FaultSuccess              = api.FaultSuccess
	FaultAlreadyAdded         = api.FaultAlreadyAdded
	FaultStillRunning         = api.FaultStillRunning
	FaultCantReread           = api.FaultCantReread
)

var faultNames = map[int]string{
	FaultUnknownMethod: "UNKNOWN_METHOD", FaultIncorrectParameters: "INCORRECT_PARAMETERS",
	FaultBadArguments: "BAD_ARGUMENTS", FaultSignatureUnsupported: "SIGNATURE_UNSUPPORTED",
	FaultShutdownState: "SHUTDOWN_STATE", FaultBadName: "BAD_NAME", FaultBadSignal: "BAD_SIGNAL",
	FaultNoFile: "NO_FILE", FaultNotExecutable: "NOT_EXECUTABLE", FaultFailed: "FAILED",
	FaultAbnormalTermination: "ABNORMAL_TERMINATION", FaultSpawnError: "SPAWN_ERROR",
	FaultAlreadyStarted: "ALREADY_STARTED", FaultNotRunning: "NOT_RUNNING", FaultSuccess: "SUCCESS",
	FaultAlreadyAdded: "ALREADY_ADDED", FaultStillRunning: "STILL_RUNNING", FaultCantReread: "CANT_REREAD",
}

// fault builds Python's RPCError text: "NAME" or "NAME: extra".
func fault(code int, extra string) *xmlrpc.Fault {
	text := faultNames[code]
	if extra != "" {
		text += ": " + extra
	}
	return &xmlrpc.Fault{Code: code, String: text}
}

// toFault maps our errors to faults; name is the subject of the call.
func toFault(err error, name string) *xmlrpc.Fault {
	var f *xmlrpc.Fault
	switch {
	case errors.As(err, &f):
		return f
	case errors.Is(err, errBadName):
		return fault(FaultBadName, name)
	case errors.Is(err, errAlreadyAdded):
		return fault(FaultAlreadyAdded, name)
	case errors.Is(err, errStillRunning):
		return fault(FaultStillRunning, name)
	case errors.Is(err, procs.ErrAlreadyStarted):
		return fault(FaultAlreadyStarted, name)
	case errors.Is(err, procs.ErrNotRunning):
		return fault(FaultNotRunning, name)
	case errors.Is(err, procs.ErrSpawn):
		return fault(FaultSpawnError, name)
	case errors.Is(err, procs.ErrAbnormal):
		return fault(FaultAbnormalTermination, name)
	case errors.Is(err, procs.ErrNoFile):
		return fault(FaultNoFile, strings.TrimPrefix(err.Error(), "NO_FILE: "))
	case errors.Is(err, procs.ErrNotExecutable):
		return fault(FaultNotExecutable, strings.TrimPrefix(err.Error(), "NOT_EXECUTABLE: "))
	}
	return fault(FaultFailed, err.Error())
}

type method func(ctx context.Context, args []any) (any, error)

// RPC is the XML-RPC handler of one Supervisor.
type RPC struct {
	s       *Supervisor
	methods map[string]method
}

// NewRPC returns the handler for POST /RPC2.
func NewRPC(s *Supervisor) *RPC {
	r := &RPC{s: s}
	r.methods = map[string]method{
		"system.listMethods":              r.listMethods,
		"system.methodHelp":               func(context.Context, []any) (any, error) { return "", nil },
		"system.methodSignature":          func(context.Context, []any) (any, error) { return []any{}, nil },
		"system.multicall":                r.multicall,
		"supervisor.getAPIVersion":        r.apiVersion,
		"supervisor.getVersion":           r.apiVersion,
		"supervisor.getSupervisorVersion": func(context.Context, []any) (any, error) { return Version, nil },
		"supervisor.getIdentification":    func(context.Context, []any) (any, error) { return s.opt.Identifier, nil },
		"supervisor.getState":             r.getState,
		"supervisor.getPID":               func(context.Context, []any) (any, error) { return os.Getpid(), nil },
		"supervisor.readLog":              r.readLog,
		"supervisor.readMainLog":          r.readLog,
		"supervisor.clearLog":             r.clearLog,
		"supervisor.shutdown":             r.shutdown,
		"supervisor.restart":              r.restart,
		"supervisor.reloadConfig":         r.reloadConfig,
		"supervisor.addProcessGroup":      r.addGroup,
		"supervisor.removeProcessGroup":   r.removeGroup,
		"supervisor.getProcessInfo":       r.getProcessInfo,
		"supervisor.getAllProcessInfo":    r.getAllProcessInfo,
		"supervisor.getAllConfigInfo":     r.getAllConfigInfo,
		"supervisor.startProcess":         r.startProcess,
		"supervisor.startAllProcesses":    r.startAll,
		"supervisor.startProcessGroup":    r.startGroup,
		"supervisor.stopProcess":          r.stopProcess,
		"supervisor.stopAllProcesses":     r.stopAll,
		"supervisor.stopProcessGroup":     r.stopGroup,
		"supervisor.signalProcess":        r.signalProcess,
		"supervisor.signalProcessGroup":   r.signalGroup,
		"supervisor.signalAllProcesses":   r.signalAll,
		"supervisor.readProcessStdoutLog": r.readProcLog("stdout"),
		"supervisor.readProcessLog":       r.readProcLog("stdout"),
		"supervisor.readProcessStderrLog": r.readProcLog("stderr"),
		"supervisor.tailProcessStdoutLog": r.tailProcLog("stdout"),
		"supervisor.tailProcessLog":       r.tailProcLog("stdout"),
		"supervisor.tailProcessStderrLog": r.tailProcLog("stderr"),
		"supervisor.clearProcessLogs":     r.clearProcessLogs,
		"supervisor.clearProcessLog":      r.clearProcessLogs,
		"supervisor.clearAllProcessLogs":  r.clearAllProcessLogs,
		"supervisor.sendProcessStdin":     r.sendStdin,
		"supervisor.sendRemoteCommEvent":  func(context.Context, []any) (any, error) { return true, nil },
	}
	return r
}

// ServeHTTP answers one XML-RPC call.
func (r *RPC) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "XML-RPC wants POST", http.StatusMethodNotAllowed)
		return
	}
	name, args, err := xmlrpc.DecodeCall(io.LimitReader(req.Body, 16<<20))
	var buf bytes.Buffer
	if err != nil {
		xmlrpc.EncodeFault(&buf, fault(FaultIncorrectParameters, err.Error()))
	} else {
		res, err := r.call(req.Context(), name, args)
		if err != nil {
			xmlrpc.EncodeFault(&buf, toFault(err, ""))
		} else if err := xmlrpc.EncodeResponse(&buf, res); err != nil {
			buf.Reset()
			xmlrpc.EncodeFault(&buf, fault(FaultFailed, err.Error()))
		}
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.Write(buf.Bytes())
}

func (r *RPC) call(ctx context.Context, name string, args []any) (any, error) {
	m, ok := r.methods[name]
	if !ok {
		return nil, fault(FaultUnknownMethod, "")
	}
	if c := callerOf(ctx); allowed(name, c) != nil {
		r.s.log.Warn().Str("method", name).Str("caller", c.Who).Msg("refused: the caller may not change the configuration or the supervisor")
		return nil, allowed(name, c)
	}
	r.s.mu.Lock()
	st := r.s.state
	r.s.mu.Unlock()
	if st == stateShutdown && strings.HasPrefix(name, "supervisor.") && name != "supervisor.getState" &&
		name != "supervisor.getAPIVersion" && name != "supervisor.getVersion" {
		return nil, fault(FaultShutdownState, "")
	}
	return m(ctx, args)
}

func (r *RPC) listMethods(context.Context, []any) (any, error) {
	var out []string
	for k := range r.methods {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (r *RPC) multicall(ctx context.Context, args []any) (any, error) {
	if len(args) != 1 {
		return nil, fault(FaultIncorrectParameters, "")
	}
	calls, ok := args[0].([]any)
	if !ok {
		return nil, fault(FaultIncorrectParameters, "")
	}
	out := make([]any, 0, len(calls))
	for _, c := range calls {
		m, _ := c.(map[string]any)
		name, _ := m["methodName"].(string)
		params, _ := m["params"].([]any)
		var res any
		var err error
		if name == "system.multicall" {
			err = fault(FaultIncorrectParameters, "recursive multicall")
		} else {
			res, err = r.call(ctx, name, params)
		}
		if err != nil {
			f := toFault(err, "")
			out = append(out, map[string]any{"faultCode": f.Code, "faultString": f.String})
		} else {
			out = append(out, []any{res})
		}
	}
	return out, nil
}

func (r *RPC) apiVersion(context.Context, []any) (any, error) { return "3.0", nil }

func (r *RPC) getState(context.Context, []any) (any, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	names := map[int]string{stateFatal: "FATAL", stateRunning: "RUNNING", stateRestarting: "RESTARTING", stateShutdown: "SHUTDOWN"}
	return map[string]any{"statecode": r.s.state, "statename": names[r.s.state]}, nil
}

// argument helpers

func argString(args []any, i int) (string, error) {
	if i >= len(args) {
		return "", fault(FaultIncorrectParameters, "")
	}
	s, ok := args[i].(string)
	if !ok {
		return "", fault(FaultIncorrectParameters, "")
	}
	return s, nil
}

func argInt(args []any, i int) (int, error) {
	if i >= len(args) {
		return 0, fault(FaultIncorrectParameters, "")
	}
	n, ok := args[i].(int)
	if !ok {
		return 0, fault(FaultIncorrectParameters, "")
	}
	return n, nil
}

func argBool(args []any, i int, def bool) bool {
	if i >= len(args) {
		return def
	}
	switch v := args[i].(type) {
	case bool:
		return v
	case int:
		return v != 0
	}
	return def
}

func (r *RPC) shutdown(context.Context, []any) (any, error) {
	go func() { time.Sleep(50 * time.Millisecond); r.s.RequestShutdown(false) }()
	return true, nil
}

func (r *RPC) restart(context.Context, []any) (any, error) {
	go func() { time.Sleep(50 * time.Millisecond); r.s.RequestShutdown(true) }()
	return true, nil
}

func (r *RPC) reloadConfig(context.Context, []any) (any, error) {
	d, err := r.s.Reread()
	if err != nil {
		return nil, fault(FaultCantReread, err.Error())
	}
	return []any{[]any{d.Added, d.Changed, d.Removed}}, nil
}

func (r *RPC) addGroup(ctx context.Context, args []any) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	if err := r.s.AddGroup(ctx, name); err != nil {
		return nil, toFault(err, name)
	}
	return true, nil
}

func (r *RPC) removeGroup(_ context.Context, args []any) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	if err := r.s.RemoveGroup(name); err != nil {
		return nil, toFault(err, name)
	}
	return true, nil
}

func (r *RPC) getProcessInfo(_ context.Context, args []any) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	_, p, err := r.s.lookup(name)
	if err != nil || p == nil {
		return nil, fault(FaultBadName, name)
	}
	return p.Info(), nil
}

func (r *RPC) getAllProcessInfo(context.Context, []any) (any, error) {
	// Python answers in lexical order of group, then process name.
	out := []procs.Info{}
	for _, p := range r.s.all() {
		out = append(out, p.Info())
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func (r *RPC) getAllConfigInfo(context.Context, []any) (any, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	out := []map[string]any{}
	for _, g := range r.s.cfg.Groups {
		active := r.s.groups[g.Name]
		for _, p := range g.Processes {
			inuse := false
			if active != nil {
				for _, ap := range active.procs {
					if ap.Spec().Name == p.Name {
						inuse = true
					}
				}
			}
			out = append(out, map[string]any{
				"name": p.Name, "group": g.Name, "inuse": inuse, "autostart": p.Autostart,
				"group_prio": g.Priority, "process_prio": p.Priority, "priority": p.Priority,
				"command": p.Command, "directory": p.Directory, "exitcodes": p.Exitcodes,
				"killasgroup": p.Killasgroup, "stopasgroup": p.Stopasgroup, "redirect_stderr": p.RedirectStderr,
				"startretries": p.Startretries, "startsecs": p.Startsecs, "stopwaitsecs": p.Stopwaitsecs,
				"stopsignal": p.Stopsignal.String(), "stdout_logfile": p.StdoutLogfile, "stderr_logfile": p.StderrLogfile,
				"stdout_prefix": p.StdoutPrefix,
			})
		}
	}
	// Python sorts by the process name alone (not group:name), keeping
	// config order among equal names.
	sort.SliceStable(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	return out, nil
}

func (r *RPC) startProcess(ctx context.Context, args []any) (any, error) {
	return r.startOrStop(ctx, args, (*procs.Process).Start, r.startList)
}

// startOrStop is startProcess or stopProcess: args are a name and the
// optional wait flag; a process gets one (true or a fault), group:* gets
// list (an array of results).
func (r *RPC) startOrStop(ctx context.Context, args []any,
	one func(*procs.Process, context.Context, bool) error,
	list func(context.Context, []*procs.Process, bool) []result) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	wait := argBool(args, 1, true)
	g, p, err := r.s.lookup(name)
	if err != nil {
		return nil, toFault(err, name)
	}
	if p == nil {
		return list(ctx, g.procs, wait), nil
	}
	if err := one(p, ctx, wait); err != nil {
		return nil, toFault(err, name)
	}
	return true, nil
}

// groupProcs is the processes of the group named by args[0].
func (r *RPC) groupProcs(args []any) ([]*procs.Process, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	g, _, err := r.s.lookup(name + ":*")
	if err != nil {
		return nil, toFault(err, name)
	}
	return g.procs, nil
}

// result is one entry of the *All/*Group answers.
type result struct {
	Name        string `xmlrpc:"name"`
	Group       string `xmlrpc:"group"`
	Status      int    `xmlrpc:"status"`
	Description string `xmlrpc:"description"`
}

func resultOf(p *procs.Process, err error) result {
	res := result{Name: p.Spec().Name, Group: p.Spec().Group, Status: FaultSuccess, Description: "OK"}
	if err != nil {
		f := toFault(err, p.Spec().Group+":"+p.Spec().Name)
		res.Status, res.Description = f.Code, f.String
	}
	return res
}

// resultsOf applies act to each process of ps whose state passes want, in
// the order of ps, and collects one result per process acted on.
func resultsOf(ps []*procs.Process, want func(procs.State) bool, act func(*procs.Process) error) []result {
	out := []result{}
	for _, p := range ps {
		if want(p.State()) {
			out = append(out, resultOf(p, act(p)))
		}
	}
	return out
}

func (r *RPC) startList(ctx context.Context, ps []*procs.Process, wait bool) []result {
	return resultsOf(byPriority(ps, false), func(st procs.State) bool { return !st.IsRunning() },
		func(p *procs.Process) error { return p.Start(ctx, wait) })
}

func (r *RPC) stopList(ctx context.Context, ps []*procs.Process, wait bool) []result {
	return resultsOf(byPriority(ps, true), procs.State.IsRunning,
		func(p *procs.Process) error { return p.Stop(ctx, wait) })
}

func (r *RPC) startAll(ctx context.Context, args []any) (any, error) {
	return r.startList(ctx, r.s.all(), argBool(args, 0, true)), nil
}

func (r *RPC) startGroup(ctx context.Context, args []any) (any, error) {
	ps, err := r.groupProcs(args)
	if err != nil {
		return nil, err
	}
	return r.startList(ctx, ps, argBool(args, 1, true)), nil
}

func (r *RPC) stopProcess(ctx context.Context, args []any) (any, error) {
	return r.startOrStop(ctx, args, (*procs.Process).Stop, r.stopList)
}

func (r *RPC) stopAll(ctx context.Context, args []any) (any, error) {
	return r.stopList(ctx, r.s.all(), argBool(args, 0, true)), nil
}

func (r *RPC) stopGroup(ctx context.Context, args []any) (any, error) {
	ps, err := r.groupProcs(args)
	if err != nil {
		return nil, err
	}
	return r.stopList(ctx, ps, argBool(args, 1, true)), nil
}

func signalArg(args []any, i int) (syscall.Signal, error) {
	if i >= len(args) {
		return 0, fault(FaultIncorrectParameters, "")
	}
	var s string
	switch v := args[i].(type) {
	case string:
		s = v
	case int:
		s = fmt.Sprint(v)
	default:
		return 0, fault(FaultIncorrectParameters, "")
	}
	sig, err := config.SignalNumber(s)
	if err != nil {
		return 0, fault(FaultBadSignal, s)
	}
	return sig, nil
}

func (r *RPC) signalList(ps []*procs.Process, sig syscall.Signal) []result {
	return resultsOf(ps, func(st procs.State) bool { return st.IsRunning() || st == procs.Stopping },
		func(p *procs.Process) error { return p.Signal(sig) })
}

func (r *RPC) signalProcess(_ context.Context, args []any) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	sig, err := signalArg(args, 1)
	if err != nil {
		return nil, err
	}
	g, p, err := r.s.lookup(name)
	if err != nil {
		return nil, toFault(err, name)
	}
	if p == nil {
		return r.signalList(g.procs, sig), nil
	}
	if err := p.Signal(sig); err != nil {
		return nil, toFault(err, name)
	}
	return true, nil
}

func (r *RPC) signalGroup(_ context.Context, args []any) (any, error) {
	if _, err := argString(args, 0); err != nil {
		return nil, err
	}
	sig, err := signalArg(args, 1)
	if err != nil {
		return nil, err
	}
	ps, err := r.groupProcs(args)
	if err != nil {
		return nil, err
	}
	return r.signalList(ps, sig), nil
}

func (r *RPC) signalAll(_ context.Context, args []any) (any, error) {
	sig, err := signalArg(args, 0)
	if err != nil {
		return nil, err
	}
	return r.signalList(r.s.all(), sig), nil
}

// logPath resolves the log file of a process stream.
func (r *RPC) logPath(name, stream string) (string, error) {
	_, p, err := r.s.lookup(name)
	if err != nil || p == nil {
		return "", fault(FaultBadName, name)
	}
	path := p.StdoutPath()
	if stream == "stderr" {
		path = p.StderrPath()
	}
	if path == "" {
		return "", fault(FaultNoFile, name)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// Python's supervisord creates every log file when it reads its
		// config; ours when the program first starts. Say so instead of
		// an unexplained FAILED.
		return "", fault(FaultNoFile, fmt.Sprintf("%s%s has not been started yet, so %s is not created", NoLogYet, name, path))
	}
	return path, nil
}

// NoLogYet starts the NO_FILE fault text for a log file that does not exist
// yet because its program never started.
const NoLogYet = "no log yet: "

func (r *RPC) readLog(_ context.Context, args []any) (any, error) {
	off, err := argInt(args, 0)
	if err != nil {
		return nil, err
	}
	n, err := argInt(args, 1)
	if err != nil {
		return nil, err
	}
	if r.s.mainLog == "" {
		return nil, fault(FaultNoFile, "no log file")
	}
	return ReadFile(r.s.mainLog, int64(off), int64(n))
}

func (r *RPC) clearLog(context.Context, []any) (any, error) {
	if r.s.mainLog == "" {
		return nil, fault(FaultNoFile, "no log file")
	}
	if err := os.Truncate(r.s.mainLog, 0); err != nil {
		return nil, fault(FaultFailed, err.Error())
	}
	return true, nil
}

// procLogArgs reads the (name, offset, length) arguments of the
// read/tail process log calls and resolves the log file of stream.
func (r *RPC) procLogArgs(args []any, stream string) (path string, off, n int64, err error) {
	name, err := argString(args, 0)
	if err != nil {
		return "", 0, 0, err
	}
	o, err := argInt(args, 1)
	if err != nil {
		return "", 0, 0, err
	}
	l, err := argInt(args, 2)
	if err != nil {
		return "", 0, 0, err
	}
	path, err = r.logPath(name, stream)
	if err != nil {
		return "", 0, 0, err
	}
	return path, int64(o), int64(l), nil
}

func (r *RPC) readProcLog(stream string) method {
	return func(_ context.Context, args []any) (any, error) {
		path, off, n, err := r.procLogArgs(args, stream)
		if err != nil {
			return nil, err
		}
		return ReadFile(path, off, n)
	}
}

func (r *RPC) tailProcLog(stream string) method {
	return func(_ context.Context, args []any) (any, error) {
		path, off, n, err := r.procLogArgs(args, stream)
		if err != nil {
			return nil, err
		}
		data, newOff, overflow := TailFile(path, off, n)
		return []any{data, int(newOff), overflow}, nil
	}
}

func (r *RPC) clearProcessLogs(_ context.Context, args []any) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	_, p, err := r.s.lookup(name)
	if err != nil || p == nil {
		return nil, fault(FaultBadName, name)
	}
	if err := p.ClearLogs(); err != nil {
		return nil, toFault(err, name)
	}
	return true, nil
}

func (r *RPC) clearAllProcessLogs(context.Context, []any) (any, error) {
	out := []result{}
	for _, p := range r.s.all() {
		out = append(out, resultOf(p, p.ClearLogs()))
	}
	return out, nil
}

func (r *RPC) sendStdin(_ context.Context, args []any) (any, error) {
	name, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	data, err := argString(args, 1)
	if err != nil {
		return nil, fault(FaultIncorrectParameters, "")
	}
	_, p, err := r.s.lookup(name)
	if err != nil || p == nil {
		return nil, fault(FaultBadName, name)
	}
	if err := p.WriteStdin(data); err != nil {
		return nil, toFault(err, name)
	}
	return true, nil
}
