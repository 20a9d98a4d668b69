package attach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/coder/websocket"
	"golang.org/x/term"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// ErrNoExit means the connection ended before the server reported the
// process's exit code (the server stopped, or the network dropped).
var ErrNoExit = errors.New("attach: connection ended before the process exited")

// DialOptions tune Dial.
type DialOptions struct {
	// HTTPClient makes the hand-shake; nil for http.DefaultClient. For
	// web.sock pass a client that dials the socket (unixhttp.Client.HTTP())
	// and use the host "unix" in the URL.
	HTTPClient *http.Client
	// Header is sent with the hand-shake, e.g. Authorization: Bearer.
	Header http.Header
	// Rows and Cols, when both are set, size the terminal from the start.
	Rows, Cols uint16
}

// Session is one attached terminal, client side. Read returns the
// terminal's output and io.EOF once the process exited (ExitCode then
// tells its code); Write sends input.
type Session struct {
	c      *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc

	rmu     sync.Mutex
	pending []byte

	emu    sync.Mutex
	exited bool
	code   int
}

// Dial opens an attach session at rawURL (ws://, wss://, or http(s)://
// which is turned into ws(s)://). A refusal by the server (404 unknown
// task, 409 not running, 401 bad token) is a *unixhttp.APIError, which
// errors.Is matches against unixhttp's sentinels.
func Dial(ctx context.Context, rawURL string, o DialOptions) (*Session, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("attach: bad URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("attach: URL %q: scheme must be ws, wss, http or https", rawURL)
	}
	if o.Rows > 0 && o.Cols > 0 {
		q := u.Query()
		q.Set("rows", strconv.Itoa(int(o.Rows)))
		q.Set("cols", strconv.Itoa(int(o.Cols)))
		u.RawQuery = q.Encode()
	}
	c, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: o.Header})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("attach: %w", unixhttp.DecodeError(resp))
		}
		return nil, fmt.Errorf("attach to %s: %w", u.Redacted(), err)
	}
	c.SetReadLimit(maxFrame)
	sctx, cancel := context.WithCancel(context.Background())
	return &Session{c: c, ctx: sctx, cancel: cancel}, nil
}

// Read reads terminal output. After the exit message it returns io.EOF; a
// connection that ends without one gives ErrNoExit.
func (s *Session) Read(p []byte) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for len(s.pending) == 0 {
		if s.exitedYet() {
			return 0, io.EOF
		}
		typ, b, err := s.c.Read(s.ctx)
		if err != nil {
			if s.exitedYet() {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("%w: %v", ErrNoExit, err)
		}
		if typ == websocket.MessageBinary {
			s.pending = b
			break
		}
		var m Control
		if json.Unmarshal(b, &m) == nil && m.Type == TypeExit && m.Code != nil {
			s.emu.Lock()
			s.exited, s.code = true, *m.Code
			s.emu.Unlock()
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

func (s *Session) exitedYet() bool {
	s.emu.Lock()
	defer s.emu.Unlock()
	return s.exited
}

// Write sends terminal input.
func (s *Session) Write(p []byte) (int, error) {
	if err := s.c.Write(s.ctx, websocket.MessageBinary, p); err != nil {
		return 0, fmt.Errorf("attach: send input: %w", err)
	}
	return len(p), nil
}

// Resize asks for a new terminal size.
func (s *Session) Resize(ctx context.Context, rows, cols uint16) error {
	if rows == 0 || cols == 0 {
		return fmt.Errorf("attach: resize to %dx%d: rows and cols must be positive", rows, cols)
	}
	b, _ := json.Marshal(Control{Type: TypeResize, Rows: rows, Cols: cols})
	if err := s.c.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("attach: send resize: %w", err)
	}
	return nil
}

// ExitCode returns the process's exit code once Read has seen it.
func (s *Session) ExitCode() (code int, ok bool) {
	s.emu.Lock()
	defer s.emu.Unlock()
	return s.code, s.exited
}

// Close leaves the session (the process keeps running if it has not
// exited).
func (s *Session) Close() error {
	s.cancel()
	return s.c.Close(websocket.StatusNormalClosure, "detached")
}

// Run attaches the local terminal to rawURL and returns the process's
// exit code: what `terok task attach` does. When in is a terminal it is
// put in raw mode (restored before Run returns), its size is sent at the
// start and again on every SIGWINCH. Input is read from in and output
// written to out until the process exits, ctx ends or the connection
// drops (ErrNoExit).
func Run(ctx context.Context, rawURL string, o DialOptions, in *os.File, out io.Writer) (int, error) {
	fd := int(in.Fd())
	isTerm := term.IsTerminal(fd)
	if isTerm {
		if cols, rows, err := term.GetSize(fd); err == nil && rows > 0 && cols > 0 {
			o.Rows, o.Cols = uint16(rows), uint16(cols)
		}
	}
	s, err := Dial(ctx, rawURL, o)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if isTerm {
		old, err := term.MakeRaw(fd)
		if err != nil {
			return 0, fmt.Errorf("attach: put the terminal in raw mode: %w", err)
		}
		defer term.Restore(fd, old)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for {
				select {
				case <-s.ctx.Done():
					return
				case <-winch:
					if cols, rows, err := term.GetSize(fd); err == nil && rows > 0 && cols > 0 {
						_ = s.Resize(s.ctx, uint16(rows), uint16(cols))
					}
				}
			}
		}()
	}
	// Input: a terminal read cannot be interrupted, so this goroutine may
	// outlive Run until the next keystroke; its write then fails quietly.
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, s)
		done <- err
	}()
	select {
	case <-ctx.Done():
		return 0, fmt.Errorf("attach: %w", ctx.Err())
	case err := <-done:
		if err != nil {
			return 0, err
		}
	}
	code, _ := s.ExitCode()
	return code, nil
}
