package ctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// Caller makes one XML-RPC call; *xmlrpc.Client is the real one.
type Caller interface {
	Call(ctx context.Context, method string, params ...any) (any, error)
}

// Exit statuses, as Python's supervisorctl uses them (LSB init script
// conventions).
const (
	ExitSuccess           = 0
	ExitGeneric           = 1
	ExitInvalidArgs       = 2
	ExitUnimplemented     = 3 // also "status": a listed process is not running
	ExitInsufficientPrivs = 4 // also "status": server unreachable or bad name
	ExitNotInstalled      = 5
	ExitNotRunning        = 7
	exitStatusNotRunning  = 3
	exitStatusUnknown     = 4
	apiVersion            = "3.0"
	defaultTailBytes      = 1600
	pressCtrlC            = "==> Press Ctrl-C to exit <=="
	faultUnknownMethod    = 1
	faultShutdownState    = 6
	faultBadName          = 10
	faultBadSignal        = 11
	faultNoFile           = 20
	faultNotExecutable    = 21
	faultFailed           = 30
	faultAbnormalTerm     = 40
	faultSpawnError       = 50
	faultAlreadyStarted   = 60
	faultNotRunning       = 70
	faultSuccess          = 80
	faultAlreadyAdded     = 90
	faultStillRunning     = 91
	faultCantReread       = 92
	stateStopped          = 0
	stateRunning          = 20
	stateExited           = 100
	stateFatal            = 200
	stateUnknown          = 1000
	noCodeGiven           = -1
)

// Controller runs supervisorctl commands against one server and keeps the
// exit status the way Python's Controller does: the last failure decides.
type Controller struct {
	base        context.Context // lives as long as the controller
	ctx         context.Context // the running command's; cancelled by an interrupt
	rpc         Caller
	newCaller   func(serverURL string) (Caller, error)
	out, errOut io.Writer
	in          *bufio.Reader

	// ServerURL, Username and Password are where and as whom we connect.
	ServerURL          string
	Username, Password *string
	// Prompt is the interactive prompt without the trailing "> ".
	Prompt string
	// Interactive makes shutdown and reload ask for confirmation.
	Interactive bool
	// Signals, when set, delivers Ctrl-C (SIGINT) and SIGTERM: they end the
	// running command (tail -f, fg), and at the shell prompt the shell.
	Signals <-chan os.Signal

	lines chan string // the shell's input lines, read by one goroutine

	exit int
}

// NewController returns a controller writing to out (command output) and
// errOut (stream errors), reading confirmations from in. newCaller builds
// the XML-RPC client for a server URL; it is called lazily, once.
func NewController(ctx context.Context, serverURL string, user, pass *string,
	newCaller func(serverURL string) (Caller, error), in io.Reader, out, errOut io.Writer) *Controller {
	return &Controller{
		base: ctx, ctx: ctx, newCaller: newCaller, out: out, errOut: errOut, in: bufio.NewReader(in),
		ServerURL: serverURL, Username: user, Password: pass, Prompt: "supervisor",
	}
}

// ExitStatus is the status the process should exit with.
func (c *Controller) ExitStatus() int { return c.exit }

func (c *Controller) output(s string) { io.WriteString(c.out, s+"\n") }
func (c *Controller) write(s string)  { io.WriteString(c.out, s) }

// call makes one XML-RPC call, building the client on first use.
func (c *Controller) call(method string, params ...any) (any, error) {
	if c.rpc == nil {
		r, err := c.newCaller(c.ServerURL)
		if err != nil {
			return nil, &pyException{class: "ValueError", msg: err.Error()}
		}
		c.rpc = r
	}
	return c.rpc.Call(c.ctx, method, params...)
}

// commands maps a command word to its implementation. A returned error is
// one Python's supervisorctl would let escape to its generic handler.
func (c *Controller) commands() map[string]func(string) (bool, error) {
	wrap := func(f func(string) error) func(string) (bool, error) {
		return func(a string) (bool, error) { return false, f(a) }
	}
	return map[string]func(string) (bool, error){
		"add":      wrap(c.doAdd),
		"avail":    wrap(c.doAvail),
		"clear":    wrap(c.doClear),
		"fg":       wrap(c.doFg),
		"help":     wrap(func(a string) error { c.help(a); return nil }),
		"maintail": wrap(c.doMaintail),
		"open":     wrap(c.doOpen),
		"pid":      wrap(c.doPid),
		"reload":   wrap(c.doReload),
		"remove":   wrap(c.doRemove),
		"reread":   wrap(c.doReread),
		"restart":  wrap(c.doRestart),
		"shutdown": wrap(c.doShutdown),
		"signal":   wrap(c.doSignal),
		"start":    wrap(c.doStart),
		"status":   wrap(c.doStatus),
		"stop":     wrap(c.doStop),
		"tail":     wrap(c.doTail),
		"update":   wrap(c.doUpdate),
		"version":  wrap(c.doVersion),
		"EOF":      func(string) (bool, error) { c.output(""); return true, nil },
		"quit":     func(string) (bool, error) { c.output(""); return true, nil },
		"exit":     func(string) (bool, error) { c.output(""); return true, nil },
	}
}

// OneCmd runs one command line ("status foo", "tail -f bar stderr") and
// reports whether it asked to leave the interactive loop.
func (c *Controller) OneCmd(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" {
		return false
	}
	if strings.HasPrefix(line, "?") {
		line = "help " + line[1:]
	}
	i := 0
	for i < len(line) && isIdent(line[i]) {
		i++
	}
	name, arg := line[:i], strings.TrimSpace(line[i:])
	f := c.commands()[name]
	if name == "" || f == nil {
		c.output("*** Unknown syntax: " + line)
		c.exit = ExitGeneric
		return false
	}
	stop, err := c.interruptible(func() (bool, error) { return f(arg) })
	var he *xmlrpc.HTTPError
	if errors.As(err, &he) && he.Status == 401 {
		// Python's client says so, then runs the command once more and
		// reports that second failure too.
		c.output("Server requires authentication")
		c.exit = ExitGeneric
		stop, err = c.interruptible(func() (bool, error) { return f(arg) })
	}
	if err != nil {
		c.reportError(err)
	}
	return stop
}

func isIdent(b byte) bool {
	return b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

// interruptible runs one command with a context that a signal cancels.
func (c *Controller) interruptible(f func() (bool, error)) (bool, error) {
	ctx, cancel := context.WithCancel(c.base)
	done := make(chan struct{})
	go func() {
		select {
		case <-c.Signals:
			cancel()
		case <-done:
		}
	}()
	c.ctx = ctx
	defer func() { close(done); cancel(); c.ctx = c.base }()
	return f()
}

// Loop is the minimal interactive shell: "status" first, then one command
// per line read from in until end of input, quit, exit or an interrupt at
// the prompt.
func (c *Controller) Loop() {
	c.Interactive = true
	c.lines = make(chan string)
	go func() {
		defer close(c.lines)
		for {
			line, err := c.in.ReadString('\n')
			if line != "" {
				c.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	c.OneCmd("status")
	for {
		c.write(c.Prompt + "> ")
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.OneCmd("EOF")
				return
			}
			if c.OneCmd(line) {
				return
			}
		case <-c.Signals:
			c.output("")
			return
		case <-c.base.Done():
			c.output("")
			return
		}
	}
}

// readLine reads one line of input: from the shell's reader when the shell
// runs, else straight from in. ok is false at end of input or interrupt.
func (c *Controller) readLine(ctx context.Context) (string, bool) {
	if c.lines == nil {
		line, err := c.in.ReadString('\n')
		return line, err == nil || line != ""
	}
	select {
	case line, ok := <-c.lines:
		return line, ok
	case <-ctx.Done():
		return "", false
	}
}

// reportError prints an error that escaped a command the way Python's
// onecmd does and sets status 1.
func (c *Controller) reportError(err error) {
	c.exit = ExitGeneric
	c.output("error: " + describeError(err))
}

// pyException is an error Python's client raises as the named class.
type pyException struct{ class, msg string }

func (e *pyException) Error() string { return e.msg }

// describeError renders err as Python's "<class 'X'>, message".
func describeError(err error) string {
	var pe *pyException
	var f *xmlrpc.Fault
	var he *xmlrpc.HTTPError
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("<class '%s'>, %s", pe.class, pe.msg)
	case errors.As(err, &f):
		return fmt.Sprintf("<class 'xmlrpc.client.Fault'>, <Fault %d: %s>", f.Code, pyRepr(f.String))
	case errors.As(err, &he):
		return fmt.Sprintf("<class 'xmlrpc.client.ProtocolError'>, <ProtocolError for 127.0.0.1/RPC2: %d %s>", he.Status, httpReason(he.Status))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "<class 'ConnectionRefusedError'>, [Errno 111] Connection refused"
	case errors.Is(err, syscall.ENOENT):
		return "<class 'FileNotFoundError'>, [Errno 2] No such file or directory"
	case errors.Is(err, syscall.EACCES):
		return "<class 'PermissionError'>, [Errno 13] Permission denied"
	}
	return fmt.Sprintf("<class 'OSError'>, %v", err)
}

func httpReason(code int) string {
	switch code {
	case 401:
		return "Unauthorized"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return "Error"
}

// setExitFromFault is Python's set_exitstatus_from_xmlrpc_fault.
func (c *Controller) setExitFromFault(code, ignored int) {
	switch code {
	case ignored, faultSuccess:
	case faultSpawnError, faultAbnormalTerm, faultNotRunning:
		c.exit = ExitNotRunning
	default:
		c.exit = ExitGeneric
	}
}

// upcheck checks the server speaks API 3.0, printing why not.
func (c *Controller) upcheck() (bool, error) {
	v, err := c.call("supervisor.getVersion")
	if err != nil {
		var f *xmlrpc.Fault
		switch {
		case errors.As(err, &f) && f.Code == faultUnknownMethod:
			c.output("Sorry, supervisord responded but did not recognize the supervisor namespace commands that supervisorctl uses to control it.  Please check that the [rpcinterface:supervisor] section is enabled in the configuration file (see sample.conf).")
			c.exit = ExitUnimplemented
			return false, nil
		case errors.As(err, &f):
			c.exit = ExitGeneric
			return false, err
		case errors.Is(err, syscall.ECONNREFUSED):
			c.output(c.ServerURL + " refused connection")
			c.exit = ExitInsufficientPrivs
			return false, nil
		case errors.Is(err, syscall.ENOENT):
			c.output(c.ServerURL + " no such file")
			c.exit = ExitNotRunning
			return false, nil
		}
		var he *xmlrpc.HTTPError
		if !errors.As(err, &he) {
			c.exit = ExitGeneric
		}
		return false, err
	}
	if s := fmt.Sprint(v); s != apiVersion {
		c.output(fmt.Sprintf("Sorry, this version of supervisorctl expects to talk to a server with API version %s, but the remote version is %s.", apiVersion, s))
		c.exit = ExitNotInstalled
		return false, nil
	}
	return true, nil
}

// faultCode returns err's fault code and true when err is a fault.
func faultCode(err error) (int, string, bool) {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return f.Code, f.String, true
	}
	return 0, "", false
}
