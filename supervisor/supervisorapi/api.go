package supervisorapi

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// Client talks to one supervisor.
type Client struct {
	c *xmlrpc.Client
}

// New returns a client for the unix socket at path.
func New(socket string) *Client {
	c, _ := xmlrpc.NewClient("unix://"+socket, "", "")
	return &Client{c: c}
}

// NewURL returns a client for unix:///path or http://host:port with
// optional Basic credentials.
func NewURL(serverURL, user, pass string) (*Client, error) {
	c, err := xmlrpc.NewClient(serverURL, user, pass)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Version is the supervisor's version string.
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.c.Call(ctx, "supervisor.getSupervisorVersion")
	s, _ := v.(string)
	return s, err
}

// AllProcessInfo lists every process.
func (c *Client) AllProcessInfo(ctx context.Context) ([]ProcessInfo, error) {
	v, err := c.c.Call(ctx, "supervisor.getAllProcessInfo")
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
	v, err := c.c.Call(ctx, "supervisor.getProcessInfo", name)
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
	_, err := c.c.Call(ctx, "supervisor.startProcess", name, wait)
	return err
}

// Stop stops a process; with wait it returns once it is STOPPED.
func (c *Client) Stop(ctx context.Context, name string, wait bool) error {
	_, err := c.c.Call(ctx, "supervisor.stopProcess", name, wait)
	return err
}

// Signal sends a signal ("HUP", "USR1", or a number) to a process.
func (c *Client) Signal(ctx context.Context, name, signal string) error {
	_, err := c.c.Call(ctx, "supervisor.signalProcess", name, signal)
	return err
}

// Reread reads the configuration again and reports what would change.
func (c *Client) Reread(ctx context.Context) (Diff, error) {
	v, err := c.c.Call(ctx, "supervisor.reloadConfig")
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
	v, err := c.c.Call(ctx, "supervisor.readProcessStdoutLog", name, -n, 0)
	s, _ := v.(string)
	return s, err
}
