package supervisorapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"

	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
)

// Fault codes of the XML-RPC interface (Python supervisor's Faults).
const (
	FaultUnknownMethod        = 1
	FaultIncorrectParameters  = 2
	FaultBadArguments         = 3
	FaultSignatureUnsupported = 4
	FaultShutdownState        = 6
	FaultBadName              = 10
	FaultBadSignal            = 11
	FaultNoFile               = 20
	FaultNotExecutable        = 21
	FaultFailed               = 30
	FaultAbnormalTermination  = 40
	FaultSpawnError           = 50
	FaultAlreadyStarted       = 60
	FaultNotRunning           = 70
	FaultSuccess              = 80
	FaultAlreadyAdded         = 90
	FaultStillRunning         = 91
	FaultCantReread           = 92
)

// Fault is an error answer of the supervisor; match codes with IsFault.
type Fault = xmlrpc.Fault

// IsFault reports whether err is a fault with the given code.
func IsFault(err error, code int) bool {
	var f *xmlrpc.Fault
	return errors.As(err, &f) && f.Code == code
}

// ProcessInfo is one process as getProcessInfo describes it.
type ProcessInfo struct {
	Name          string
	Group         string
	Description   string
	Start         time.Time // zero when never started
	Stop          time.Time // zero when never stopped
	State         int       // 0 STOPPED, 10 STARTING, 20 RUNNING, 30 BACKOFF, 40 STOPPING, 100 EXITED, 200 FATAL
	StateName     string
	SpawnErr      string
	ExitStatus    int
	StdoutLogfile string
	StderrLogfile string
	PID           int
}

// FullName is "group:name", the name the control calls accept.
func (p ProcessInfo) FullName() string { return p.Group + ":" + p.Name }

// Diff is the answer of Reread: group names added, changed and removed.
type Diff struct {
	Added, Changed, Removed []string
}

// Client talks to one supervisor. Its errors match the sentinels of
// kit/unixhttp with errors.Is: ErrUnavailable when nobody answers on the
// socket (or the supervisor is shutting down), ErrNotFound for an unknown
// program (BAD_NAME), ErrConflict for a program already started or not
// running, ErrBadRequest for bad arguments, ErrUnauthorized for wrong
// credentials. The fault itself stays available as *Fault (IsFault).
type Client struct {
	c      *xmlrpc.Client
	server string
	err    error // why c could not be made: every call returns it
}

// New returns a client for terok-supervisord's unix socket at path
// (<run dir>/supervisor.sock). An unusable path (empty) makes every call
// fail with ErrBadRequest naming it.
func New(socket string) *Client {
	c, err := xmlrpc.NewClient("unix://"+socket, "", "")
	if err != nil {
		err = &unixhttp.APIError{Status: http.StatusBadRequest, Message: fmt.Sprintf("supervisor client: %v", err)}
	}
	return &Client{c: c, server: socket, err: err}
}

// NewURL returns a client for unix:///path or http://host:port with
// optional Basic credentials, for a supervisor that is not on the default
// socket or requires a login.
func NewURL(serverURL, user, pass string) (*Client, error) {
	c, err := xmlrpc.NewClient(serverURL, user, pass)
	if err != nil {
		return nil, err
	}
	return &Client{c: c, server: strings.TrimPrefix(serverURL, "unix://")}, nil
}

// call performs one XML-RPC call; a call that never reached the server
// becomes *unixhttp.DialError naming it.
func (c *Client) call(ctx context.Context, method string, params ...any) (any, error) {
	if c.err != nil {
		return nil, c.err
	}
	v, err := c.c.Call(ctx, method, params...)
	var oe *net.OpError
	if err != nil && errors.As(err, &oe) && oe.Op == "dial" {
		return nil, &unixhttp.DialError{Socket: c.server, Err: err}
	}
	return v, err
}

// Name is the name Health reports for the supervisor.
const Name = "terok-supervisord"

// Health asks the supervisor for its state, PID and version (XML-RPC
// getState, getPID, getSupervisorVersion, so it works against Python's
// supervisord too). A supervisor that is shutting down or restarting
// answers with Status "degraded" and an error matching ErrUnavailable; one
// that does not answer, with a *unixhttp.DialError.
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	st := health.Status{Name: Name}
	v, err := c.call(ctx, "supervisor.getState")
	if err != nil {
		return st, err
	}
	m, _ := v.(map[string]any)
	state, _ := m["statename"].(string)
	if p, err := c.call(ctx, "supervisor.getPID"); err == nil {
		st.PID, _ = p.(int)
	}
	if ver, err := c.Version(ctx); err == nil {
		st.Version = ver
	}
	st.Details = map[string]any{"state": state}
	if state != "RUNNING" {
		st.Status = "degraded"
		st.Problem = "supervisor state is " + state
		return st, fmt.Errorf("%s: %w", st.Problem, unixhttp.ErrUnavailable)
	}
	st.Status = "ok"
	return st, nil
}

// Version is the supervisor's version string.
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.call(ctx, "supervisor.getSupervisorVersion")
	s, _ := v.(string)
	return s, err
}

// AllProcessInfo lists every process.
func (c *Client) AllProcessInfo(ctx context.Context) ([]ProcessInfo, error) {
	v, err := c.call(ctx, "supervisor.getAllProcessInfo")
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("getAllProcessInfo: unexpected answer %T", v)
	}
	out := make([]ProcessInfo, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		out = append(out, infoOf(m))
	}
	return out, nil
}

// ProcessInfo describes one process ("name" or "group:name").
func (c *Client) ProcessInfo(ctx context.Context, name string) (ProcessInfo, error) {
	v, err := c.call(ctx, "supervisor.getProcessInfo", name)
	if err != nil {
		return ProcessInfo{}, err
	}
	m, _ := v.(map[string]any)
	return infoOf(m), nil
}

func infoOf(m map[string]any) ProcessInfo {
	str := func(k string) string { s, _ := m[k].(string); return s }
	num := func(k string) int { n, _ := m[k].(int); return n }
	when := func(k string) time.Time {
		if n := num(k); n > 0 {
			return time.Unix(int64(n), 0)
		}
		return time.Time{}
	}
	return ProcessInfo{Name: str("name"), Group: str("group"), Description: str("description"),
		Start: when("start"), Stop: when("stop"), State: num("state"), StateName: str("statename"),
		SpawnErr: str("spawnerr"), ExitStatus: num("exitstatus"), StdoutLogfile: str("stdout_logfile"),
		StderrLogfile: str("stderr_logfile"), PID: num("pid")}
}

// Start starts a process; with wait it returns once it is RUNNING or
// failed (fault ABNORMAL_TERMINATION, SPAWN_ERROR, …).
func (c *Client) Start(ctx context.Context, name string, wait bool) error {
	_, err := c.call(ctx, "supervisor.startProcess", name, wait)
	return err
}

// Stop stops a process; with wait it returns once it is STOPPED.
func (c *Client) Stop(ctx context.Context, name string, wait bool) error {
	_, err := c.call(ctx, "supervisor.stopProcess", name, wait)
	return err
}

// Signal sends a signal ("HUP", "USR1", or a number) to a process.
func (c *Client) Signal(ctx context.Context, name, signal string) error {
	_, err := c.call(ctx, "supervisor.signalProcess", name, signal)
	return err
}

// Reread reads the configuration again and reports what would change.
func (c *Client) Reread(ctx context.Context) (Diff, error) {
	v, err := c.call(ctx, "supervisor.reloadConfig")
	if err != nil {
		return Diff{}, err
	}
	outer, _ := v.([]any)
	if len(outer) != 1 {
		return Diff{}, fmt.Errorf("reloadConfig: unexpected answer %v", v)
	}
	inner, _ := outer[0].([]any)
	if len(inner) != 3 {
		return Diff{}, fmt.Errorf("reloadConfig: unexpected answer %v", v)
	}
	names := func(x any) []string {
		var out []string
		l, _ := x.([]any)
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return Diff{Added: names(inner[0]), Changed: names(inner[1]), Removed: names(inner[2])}, nil
}

// ReadStdout reads the last n bytes of a process's stdout log.
func (c *Client) ReadStdout(ctx context.Context, name string, n int) (string, error) {
	v, err := c.call(ctx, "supervisor.readProcessStdoutLog", name, -n, 0)
	s, _ := v.(string)
	return s, err
}
