package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// Execer is what the server needs of Podman; *podmanapi.Client satisfies
// it.
type Execer interface {
	CreateExec(ctx context.Context, containerID string, cfg podmanapi.ExecConfig) (string, error)
	StartExec(ctx context.Context, execID string, o podmanapi.ExecStartOptions) (io.ReadWriteCloser, error)
	ResizeExec(ctx context.Context, execID string, rows, cols uint16) error
	WaitExec(ctx context.Context, execID string) (int, error)
	InspectExec(ctx context.Context, execID string) (podmanapi.ExecSession, error)
}

// DefaultShell is the command run when a Target names none: bash as a
// login shell where the image has it, sh otherwise.
var DefaultShell = []string{"sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash -l; fi; exec sh -l"}

// Target is what to attach to: a running container and the command to
// run in it with a terminal.
type Target struct {
	ContainerID string
	// Cmd is the command; empty for DefaultShell.
	Cmd []string
	// Env adds "KEY=value" variables to the container's environment.
	// TERM defaults to xterm-256color.
	Env        []string
	WorkingDir string
	User       string
}

// Options tune the server.
type Options struct {
	// Log receives one line per session (zero value: nothing logged).
	Log zerolog.Logger
	// Origin decides whether a browser's Origin may open a terminal; it
	// runs before anything else (nil: the Origin's host and port must be
	// the request's Host; requests without an Origin, as from the CLI,
	// pass).
	Origin func(r *http.Request) bool
}

// exitTimeout bounds the wait for Podman to report the exit code after
// the terminal closed.
const exitTimeout = 30 * time.Second

// Resolver maps a request to its Target. When it cannot, it answers the
// request itself (for example 404 for an unknown task) and returns false.
type Resolver func(w http.ResponseWriter, r *http.Request) (Target, bool)

// Handler serves attach requests: the request is checked (a WebSocket
// upgrade from an allowed Origin), resolve picks the container, Serve
// relays the terminal.
func Handler(ex Execer, resolve Resolver, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !check(w, r, o) {
			return
		}
		t, ok := resolve(w, r)
		if !ok {
			return
		}
		Serve(w, r, ex, t, o)
	})
}

// check answers a request that may not open a terminal, before any
// exec exists: not a WebSocket upgrade (400), or from an Origin that is
// not allowed (403).
func check(w http.ResponseWriter, r *http.Request, o Options) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHas(r.Header, "Connection", "upgrade") {
		unixhttp.WriteError(w, http.StatusBadRequest, errors.New("attach needs a WebSocket upgrade (terok task attach, or the task page's terminal)"))
		return false
	}
	allowed := o.Origin
	if allowed == nil {
		allowed = sameHost
	}
	if !allowed(r) {
		o.Log.Warn().Str("origin", r.Header.Get("Origin")).Msg("attach: refused a terminal for another origin")
		unixhttp.WriteError(w, http.StatusForbidden, fmt.Errorf("a terminal for the page at %s is refused: only terok's own pages open terminals", r.Header.Get("Origin")))
		return false
	}
	return true
}

// sameHost accepts no Origin, or one whose host and port are the Host's.
func sameHost(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// maxFrame bounds one frame from the client: keystrokes and pastes.
const maxFrame = 1 << 20

// Serve runs t's command with a terminal and relays it over the WebSocket
// the request asks for, until the process exits or the client leaves.
// Errors before the upgrade are answered as JSON HTTP errors.
func Serve(w http.ResponseWriter, r *http.Request, ex Execer, t Target, o Options) {
	if !check(w, r, o) {
		return
	}
	log := o.Log.With().Str("container", t.ContainerID).Logger()
	rows, cols, err := initialSize(r)
	if err != nil {
		unixhttp.WriteError(w, http.StatusBadRequest, err)
		return
	}
	if t.ContainerID == "" {
		unixhttp.WriteError(w, http.StatusInternalServerError, errors.New("attach: no container to attach to"))
		return
	}
	cfg := podmanapi.ExecConfig{
		Cmd: t.Cmd, Env: withTerm(t.Env), WorkingDir: t.WorkingDir, User: t.User,
		Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	}
	if len(cfg.Cmd) == 0 {
		cfg.Cmd = DefaultShell
	}
	ctx := r.Context()
	execID, err := ex.CreateExec(ctx, t.ContainerID, cfg)
	if err != nil {
		writePodmanError(w, "create a terminal in container "+t.ContainerID, err)
		return
	}
	stream, err := ex.StartExec(ctx, execID, podmanapi.ExecStartOptions{Tty: true, Rows: rows, Cols: cols})
	if err != nil {
		writePodmanError(w, "start the terminal in container "+t.ContainerID, err)
		return
	}
	defer stream.Close()
	// The Origin was checked before the exec was made (check).
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		log.Warn().Err(err).Msg("attach: websocket upgrade refused")
		return // Accept answered the request.
	}
	defer c.CloseNow()
	c.SetReadLimit(maxFrame)
	log = log.With().Str("exec", execID).Logger()
	log.Info().Msg("attach: terminal opened")

	// The relay ends when the client leaves (its reads fail), the
	// process exits, or the request's context ends (the server shuts
	// down: its requests' contexts end with it).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outDone := make(chan error, 1)
	go func() { outDone <- pumpOut(ctx, c, stream) }()
	inDone := make(chan error, 1)
	go func() { inDone <- pumpIn(ctx, c, stream, ex, execID, log) }()

	select {
	case err := <-inDone:
		// The client left (or sent garbage, or the server stops): stop
		// relaying, and hang up the process as closing a terminal window
		// does (terok-web and the task's processes belong to the same
		// user, Podman's).
		log.Info().Err(err).Msg("attach: client left")
		hangup(context.WithoutCancel(ctx), ex, execID, log)
		return
	case err := <-outDone:
		if err != nil {
			log.Warn().Err(err).Msg("attach: relay to the client failed")
			return
		}
	}
	// The terminal closed: the process exited.
	wctx, wcancel := context.WithTimeout(ctx, exitTimeout)
	code, err := ex.WaitExec(wctx, execID)
	wcancel()
	if err != nil {
		log.Warn().Err(err).Msg("attach: no exit code")
		c.Close(websocket.StatusInternalError, truncReason("no exit code: "+err.Error()))
		return
	}
	log.Info().Int("code", code).Msg("attach: process exited")
	msg := fmt.Sprintf(`{"type":%q,"code":%d}`, TypeExit, code)
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return
	}
	c.Close(websocket.StatusNormalClosure, "exited")
}

// pumpOut copies the terminal's output to the client as binary frames
// until the terminal closes (nil) or the client cannot be written to.
func pumpOut(ctx context.Context, c *websocket.Conn, stream io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := stream.Read(buf)
		if n > 0 {
			if werr := c.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read terminal: %w", err)
		}
	}
}

// pumpIn copies the client's binary frames to the terminal and applies its
// resize messages, until the client leaves.
func pumpIn(ctx context.Context, c *websocket.Conn, stream io.Writer, ex Execer, execID string, log zerolog.Logger) error {
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if typ == websocket.MessageBinary {
			if _, err := stream.Write(b); err != nil {
				return fmt.Errorf("write terminal: %w", err)
			}
			continue
		}
		m, err := parseControl(b)
		if err != nil {
			log.Warn().Err(err).Msg("attach: bad control message ignored")
			continue
		}
		if m.Type == TypeResize {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := ex.ResizeExec(rctx, execID, m.Rows, m.Cols); err != nil {
				log.Debug().Err(err).Msg("attach: resize failed")
			}
			cancel()
		}
	}
}

// hangup sends SIGHUP to the exec's process if it still runs.
func hangup(ctx context.Context, ex Execer, execID string, log zerolog.Logger) {
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := ex.InspectExec(ictx, execID)
	if err != nil || !s.Running || s.Pid <= 1 {
		return
	}
	if err := syscall.Kill(s.Pid, syscall.SIGHUP); err != nil {
		log.Warn().Err(err).Int("pid", s.Pid).Msg("attach: could not hang up the process the client left")
		return
	}
	log.Info().Int("pid", s.Pid).Msg("attach: hung up the process the client left")
}

// initialSize reads ?rows=&cols= (both or neither).
func initialSize(r *http.Request) (rows, cols uint16, err error) {
	q := r.URL.Query()
	rs, cs := q.Get("rows"), q.Get("cols")
	if rs == "" && cs == "" {
		return 0, 0, nil
	}
	rv, err1 := strconv.ParseUint(rs, 10, 16)
	cv, err2 := strconv.ParseUint(cs, 10, 16)
	if err1 != nil || err2 != nil || rv == 0 || cv == 0 {
		return 0, 0, fmt.Errorf("attach: rows=%q cols=%q: give both as positive numbers (e.g. ?rows=24&cols=80) or neither", rs, cs)
	}
	return uint16(rv), uint16(cv), nil
}

// withTerm adds TERM=xterm-256color unless env sets TERM.
func withTerm(env []string) []string {
	for _, e := range env {
		if len(e) >= 5 && e[:5] == "TERM=" {
			return env
		}
	}
	return append(append([]string(nil), env...), "TERM=xterm-256color")
}

// writePodmanError answers a Podman failure with the status that says
// what the user can do.
func writePodmanError(w http.ResponseWriter, what string, err error) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, podmanapi.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, podmanapi.ErrConflict):
		status = http.StatusConflict
		err = fmt.Errorf("%w (is the task running? `terok task restart ID` starts it again)", err)
	}
	unixhttp.WriteError(w, status, fmt.Errorf("%s: %w", what, err))
}

// truncReason keeps a close reason within the 123 bytes a frame allows.
func truncReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
