package ctl

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

func (c *Controller) doStatus(arg string) error {
	ok, err := c.upcheck()
	if err != nil {
		return err
	}
	if !ok {
		c.exit = exitStatusUnknown
		return nil
	}
	v, err := c.call("supervisor.getAllProcessInfo")
	if err != nil {
		return err
	}
	all, err := infos(v)
	if err != nil {
		return err
	}
	names := strings.Fields(arg)
	matching := all
	if len(names) > 0 && !contains(names, "all") {
		matching = nil
		for _, n := range names {
			group, proc, isGroup := splitNamespec(n)
			bad := true
			for _, p := range all {
				if p.Group == group && (isGroup || p.Name == proc) {
					bad = false
					matching = append(matching, p)
				}
			}
			if bad {
				if isGroup {
					c.output(errorLine(group, "no such group"))
				} else {
					c.output(errorLine(n, "no such process"))
				}
				c.exit = exitStatusUnknown
			}
		}
	}
	for _, l := range formatStatus(matching) {
		c.output(l)
	}
	for _, p := range matching {
		switch p.State {
		case stateStopped, stateExited, stateFatal, stateUnknown:
			c.exit = exitStatusNotRunning
		}
	}
	return nil
}

func (c *Controller) doPid(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	names := strings.Fields(arg)
	switch {
	case len(names) == 0:
		v, err := c.call("supervisor.getPID")
		if err != nil {
			return err
		}
		c.output(pyStr(v))
	case contains(names, "all"):
		v, err := c.call("supervisor.getAllProcessInfo")
		if err != nil {
			return err
		}
		all, err := infos(v)
		if err != nil {
			return err
		}
		for _, p := range all {
			c.output(strconv.Itoa(p.PID))
		}
	default:
		for _, n := range names {
			v, err := c.call("supervisor.getProcessInfo", n)
			if err != nil {
				c.exit = ExitGeneric
				if code, _, ok := faultCode(err); ok && code == faultBadName {
					c.output("No such process " + n)
					continue
				}
				return err
			}
			m, _ := v.(map[string]any)
			pid := num(m, "pid")
			c.output(strconv.Itoa(pid))
			if pid == 0 {
				c.exit = ExitNotRunning
			}
		}
	}
	return nil
}

func (c *Controller) doStart(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	names := strings.Fields(arg)
	if len(names) == 0 {
		return c.usageError("start", "start requires a process name", ExitInvalidArgs)
	}
	printAll := func(v any) error { return c.printResults(v, startResult, faultAlreadyStarted) }
	if contains(names, "all") {
		v, err := c.call("supervisor.startAllProcesses")
		if err != nil {
			return err
		}
		return printAll(v)
	}
	for _, n := range names {
		group, proc, isGroup := splitNamespec(n)
		if isGroup {
			v, err := c.call("supervisor.startProcessGroup", group)
			if err != nil {
				if code, _, ok := faultCode(err); ok && code == faultBadName {
					c.output(errorLine(group, "no such group"))
					c.exit = ExitInvalidArgs
					continue
				}
				c.exit = ExitGeneric
				return err
			}
			if err := printAll(v); err != nil {
				return err
			}
			continue
		}
		if err := c.callOne(startResult, faultAlreadyStarted, group, proc, "supervisor.startProcess", n); err != nil {
			return err
		}
	}
	return nil
}

// printResults prints the answer v of a *All or *Group call one line per
// process, as render gives it, and sets the exit status from each fault
// code other than ignored.
func (c *Controller) printResults(v any, render func(result) (string, error), ignored int) error {
	rs, err := results(v)
	if err != nil {
		return err
	}
	for _, r := range rs {
		line, err := render(r)
		if err != nil {
			return err
		}
		c.output(line)
		c.setExitFromFault(r.Status, ignored)
	}
	return nil
}

// callOne calls method with args for the process group:proc and prints
// its one line as render gives it for the fault code (or success), setting
// the exit status from a fault code other than ignored. An error that is
// not a fault is returned.
func (c *Controller) callOne(render func(result) (string, error), ignored int, group, proc, method string, args ...any) error {
	r := result{Group: group, Name: proc, Status: faultSuccess}
	if _, err := c.call(method, args...); err != nil {
		code, desc, ok := faultCode(err)
		if !ok {
			return err
		}
		r.Status, r.Description = code, desc
	}
	line, err := render(r)
	if err != nil {
		return err
	}
	c.output(line)
	c.setExitFromFault(r.Status, ignored)
	return nil
}

// stopOrSignal runs stop (sig == "") or signal sig over names.
func (c *Controller) stopOrSignal(names []string, sig string) error {
	success, ignored := "stopped", faultNotRunning
	allM, groupM, oneM := "supervisor.stopAllProcesses", "supervisor.stopProcessGroup", "supervisor.stopProcess"
	var extra []any
	if sig != "" {
		success, ignored = "signalled", noCodeGiven
		allM, groupM, oneM = "supervisor.signalAllProcesses", "supervisor.signalProcessGroup", "supervisor.signalProcess"
		extra = []any{sig}
	}
	render := func(r result) (string, error) { return signalResult(r, success) }
	printAll := func(v any) error { return c.printResults(v, render, ignored) }
	if contains(names, "all") {
		v, err := c.call(allM, extra...)
		if err != nil {
			return err
		}
		return printAll(v)
	}
	for _, n := range names {
		group, proc, isGroup := splitNamespec(n)
		if isGroup {
			v, err := c.call(groupM, append([]any{group}, extra...)...)
			if err != nil {
				if sig == "" {
					c.exit = ExitGeneric
				}
				if code, _, ok := faultCode(err); ok && code == faultBadName {
					c.output(errorLine(group, "no such group"))
					c.exit = ExitGeneric
					continue
				}
				return err
			}
			if err := printAll(v); err != nil {
				return err
			}
			continue
		}
		if err := c.callOne(render, ignored, group, proc, oneM, append([]any{n}, extra...)...); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) doStop(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	names := strings.Fields(arg)
	if len(names) == 0 {
		return c.usageError("stop", "stop requires a process name", ExitGeneric)
	}
	return c.stopOrSignal(names, "")
}

func (c *Controller) doSignal(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	args := strings.Fields(arg)
	if len(args) < 2 {
		return c.usageError("signal", "signal requires a signal name and a process name", ExitGeneric)
	}
	return c.stopOrSignal(args[1:], args[0])
}

func (c *Controller) doRestart(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	if len(strings.Fields(arg)) == 0 {
		return c.usageError("restart", "restart requires a process name", ExitGeneric)
	}
	if err := c.doStop(arg); err != nil {
		return err
	}
	return c.doStart(arg)
}

// confirm asks a yes/no question in the interactive shell; commands given
// on the command line are confirmed already.
func (c *Controller) confirm(question string) bool {
	if !c.Interactive {
		return true
	}
	c.write(question)
	line, _ := c.readLine(c.ctx)
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
}

func (c *Controller) doShutdown(arg string) error {
	if arg != "" {
		return c.usageError("shutdown", "shutdown accepts no arguments", ExitGeneric)
	}
	if !c.confirm("Really shut the remote supervisord process down y/N? ") {
		return nil
	}
	if _, err := c.call("supervisor.shutdown"); err != nil {
		if code, _, ok := faultCode(err); ok {
			if code == faultShutdownState {
				c.output("ERROR: already shutting down")
				return nil
			}
			c.exit = ExitGeneric
			return err
		}
		c.exit = ExitGeneric
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			c.output("ERROR: " + c.ServerURL + " refused connection (already shut down?)")
		case errors.Is(err, syscall.ENOENT):
			c.output("ERROR: " + c.ServerURL + " no such file (already shut down?)")
		default:
			return err
		}
		return nil
	}
	c.output("Shut down")
	return nil
}

func (c *Controller) doReload(arg string) error {
	if arg != "" {
		return c.usageError("reload", "reload accepts no arguments", ExitGeneric)
	}
	if !c.confirm("Really restart the remote supervisord process y/N? ") {
		return nil
	}
	if _, err := c.call("supervisor.restart"); err != nil {
		c.exit = ExitGeneric
		if code, _, ok := faultCode(err); ok && code == faultShutdownState {
			c.output("ERROR: already shutting down")
			return nil
		}
		return err
	}
	c.output("Restarted supervisord")
	return nil
}

func (c *Controller) doAvail(arg string) error {
	if arg != "" {
		return c.usageError("avail", "avail accepts no arguments", ExitGeneric)
	}
	v, err := c.call("supervisor.getAllConfigInfo")
	if err != nil {
		c.exit = ExitGeneric
		if code, _, ok := faultCode(err); ok && code == faultShutdownState {
			c.output("ERROR: supervisor shutting down")
			return nil
		}
		return err
	}
	ms, err := structs(v)
	if err != nil {
		return err
	}
	for _, m := range ms {
		c.output(formatConfigInfo(m))
	}
	return nil
}

// reloadConfig calls supervisor.reloadConfig and returns added, changed
// and removed group names.
func (c *Controller) reloadConfig() (added, changed, removed []string, err error) {
	v, err := c.call("supervisor.reloadConfig")
	if err != nil {
		return nil, nil, nil, err
	}
	outer, _ := v.([]any)
	if len(outer) == 0 {
		return nil, nil, nil, &pyException{class: "IndexError", msg: "list index out of range"}
	}
	inner, _ := outer[0].([]any)
	if len(inner) != 3 {
		return nil, nil, nil, &pyException{class: "ValueError", msg: "not enough values to unpack (expected 3)"}
	}
	return stringList(inner[0]), stringList(inner[1]), stringList(inner[2]), nil
}

func (c *Controller) doReread(arg string) error {
	if arg != "" {
		return c.usageError("reread", "reread accepts no arguments", ExitGeneric)
	}
	added, changed, removed, err := c.reloadConfig()
	if err != nil {
		c.exit = ExitGeneric
		code, desc, ok := faultCode(err)
		switch {
		case ok && code == faultShutdownState:
			c.output("ERROR: supervisor shutting down")
		case ok && code == faultCantReread:
			c.output("ERROR: " + desc)
		default:
			return err
		}
		return nil
	}
	for _, l := range formatChanges(added, changed, removed) {
		c.output(l)
	}
	return nil
}

func (c *Controller) doAdd(arg string) error {
	for _, n := range strings.Fields(arg) {
		if _, err := c.call("supervisor.addProcessGroup", n); err != nil {
			code, _, ok := faultCode(err)
			switch {
			case ok && code == faultShutdownState:
				c.output("ERROR: shutting down")
				c.exit = ExitGeneric
			case ok && code == faultAlreadyAdded:
				c.output("ERROR: process group already active")
			case ok && code == faultBadName:
				c.output("ERROR: no such process/group: " + n)
				c.exit = ExitGeneric
			default:
				c.exit = ExitGeneric
				return err
			}
			continue
		}
		c.output(n + ": added process group")
	}
	return nil
}

func (c *Controller) doRemove(arg string) error {
	for _, n := range strings.Fields(arg) {
		if _, err := c.call("supervisor.removeProcessGroup", n); err != nil {
			c.exit = ExitGeneric
			code, _, ok := faultCode(err)
			switch {
			case ok && code == faultStillRunning:
				c.output("ERROR: process/group still running: " + n)
			case ok && code == faultBadName:
				c.output("ERROR: no such process/group: " + n)
			default:
				return err
			}
			continue
		}
		c.output(n + ": removed process group")
	}
	return nil
}

func (c *Controller) doUpdate(arg string) error {
	added, changed, removed, err := c.reloadConfig()
	if err != nil {
		c.exit = ExitGeneric
		if code, _, ok := faultCode(err); ok && code == faultShutdownState {
			c.output("ERROR: already shutting down")
			return nil
		}
		return err
	}
	var wanted []string
	for _, g := range strings.Fields(arg) {
		if !contains(wanted, g) {
			wanted = append(wanted, g)
		}
	}
	if contains(wanted, "all") {
		wanted = nil
	}
	if len(wanted) > 0 {
		v, err := c.call("supervisor.getAllProcessInfo")
		if err != nil {
			return err
		}
		all, err := infos(v)
		if err != nil {
			return err
		}
		groups := append([]string(nil), added...)
		for _, p := range all {
			groups = append(groups, p.Group)
		}
		for _, g := range wanted {
			if !contains(groups, g) {
				c.output("ERROR: no such group: " + g)
				c.exit = ExitGeneric
			}
		}
	}
	skip := func(g string) bool { return len(wanted) > 0 && !contains(wanted, g) }
	for _, g := range removed {
		if skip(g) {
			continue
		}
		v, err := c.call("supervisor.stopProcessGroup", g)
		if err != nil {
			return err
		}
		c.output(g + ": stopped")
		rs, err := results(v)
		if err != nil {
			return err
		}
		failed := false
		for _, r := range rs {
			failed = failed || r.Status == faultFailed
		}
		if failed {
			c.output(g + ": has problems; not removing")
			c.exit = ExitGeneric
			continue
		}
		if _, err := c.call("supervisor.removeProcessGroup", g); err != nil {
			return err
		}
		c.output(g + ": removed process group")
	}
	for _, g := range changed {
		if skip(g) {
			continue
		}
		if _, err := c.call("supervisor.stopProcessGroup", g); err != nil {
			return err
		}
		c.output(g + ": stopped")
		if _, err := c.call("supervisor.removeProcessGroup", g); err != nil {
			return err
		}
		if _, err := c.call("supervisor.addProcessGroup", g); err != nil {
			return err
		}
		c.output(g + ": updated process group")
	}
	for _, g := range added {
		if skip(g) {
			continue
		}
		if _, err := c.call("supervisor.addProcessGroup", g); err != nil {
			return err
		}
		c.output(g + ": added process group")
	}
	return nil
}

func (c *Controller) doClear(arg string) error {
	if ok, err := c.upcheck(); !ok {
		return err
	}
	names := strings.Fields(arg)
	if len(names) == 0 {
		return c.usageError("clear", "clear requires a process name", ExitGeneric)
	}
	if contains(names, "all") {
		v, err := c.call("supervisor.clearAllProcessLogs")
		if err != nil {
			return err
		}
		return c.printResults(v, clearResult, noCodeGiven)
	}
	for _, n := range names {
		group, proc, isGroup := splitNamespec(n)
		if isGroup {
			proc = "None" // Python's client formats its missing name as None
		}
		if err := c.callOne(clearResult, noCodeGiven, group, proc, "supervisor.clearProcessLogs", n); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) doOpen(arg string) error {
	u := strings.TrimSpace(arg)
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "unix" && pu.Scheme != "http") {
		c.output("ERROR: url must be http:// or unix://")
		c.exit = ExitGeneric
		return nil
	}
	c.ServerURL = u
	c.rpc = nil
	old := c.exit
	err = c.doStatus("")
	c.exit = old
	return err
}

func (c *Controller) doVersion(arg string) error {
	if arg != "" {
		return c.usageError("version", "version accepts no arguments", ExitGeneric)
	}
	if ok, err := c.upcheck(); !ok {
		return err
	}
	v, err := c.call("supervisor.getSupervisorVersion")
	if err != nil {
		return err
	}
	c.output(pyStr(v))
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// pyStr is Python's str() of a decoded XML-RPC scalar.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}
