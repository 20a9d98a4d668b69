package podmanapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// ExecConfig is the body of POST /libpod/containers/{id}/exec: a process
// to run beside a running container's main process.
type ExecConfig struct {
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env,omitempty"` // "KEY=value"
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
	// Tty gives the process a pseudo-terminal: its output is one raw
	// stream (stderr joins stdout) and it can be resized.
	Tty          bool `json:"Tty"`
	AttachStdin  bool `json:"AttachStdin"`
	AttachStdout bool `json:"AttachStdout"`
	AttachStderr bool `json:"AttachStderr"`
	// DetachKeys is a key sequence that detaches the client, e.g.
	// "ctrl-p,ctrl-q"; empty for none.
	DetachKeys string `json:"DetachKeys"`
}

// ExecSession is the answer of GET /libpod/exec/{id}/json (the fields
// terok uses).
type ExecSession struct {
	ID          string `json:"ID"`
	ContainerID string `json:"ContainerID"`
	Running     bool   `json:"Running"`
	ExitCode    int    `json:"ExitCode"`
	Pid         int    `json:"Pid"`
	OpenStdin   bool   `json:"OpenStdin"`
	CanRemove   bool   `json:"CanRemove"`
}

// ExecStartOptions tune StartExec.
type ExecStartOptions struct {
	// Tty must match the exec's ExecConfig.Tty.
	Tty bool
	// Rows and Cols, when both are set, size the terminal before the
	// process starts, so its first output already fits.
	Rows, Cols uint16
}

// CreateExec creates (does not start) an exec session in the running
// container id and returns the session id. A container that does not
// run gives ErrConflict.
func (c *Client) CreateExec(ctx context.Context, id string, cfg ExecConfig) (string, error) {
	if len(cfg.Cmd) == 0 {
		return "", fmt.Errorf("create exec in %s: no command given", id)
	}
	var r struct {
		ID string `json:"Id"`
	}
	if err := c.call(ctx, http.MethodPost, lp("/containers/%s/exec", id), cfg, &r, http.StatusCreated, http.StatusOK); err != nil {
		return "", err
	}
	if r.ID == "" {
		return "", fmt.Errorf("create exec in %s: Podman answered no session id", id)
	}
	return r.ID, nil
}

// ExecStream is the connection of a started exec session that Podman took
// over from HTTP: with a Tty, reads are the terminal's raw output and
// writes go to its input. It ends (Read returns io.EOF) when the process
// exits; Close ends it early (the process keeps running).
type ExecStream struct {
	conn net.Conn
	r    io.Reader
	once sync.Once
}

// Read reads the process's output.
func (s *ExecStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// Write sends p to the process's input.
func (s *ExecStream) Write(p []byte) (int, error) { return s.conn.Write(p) }

// CloseWrite closes the input side only (end of input for a process
// without a Tty; a terminal wants an EOF character instead).
func (s *ExecStream) CloseWrite() error {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection. Safe to call more than once.
func (s *ExecStream) Close() error {
	var err error
	s.once.Do(func() { err = s.conn.Close() })
	return err
}

// StartExec starts exec session execID attached: Podman answers the HTTP
// request by taking the connection over, and the returned stream carries
// the process's raw input and output until it exits. ctx bounds the
// hand-shake only; close the stream to end it. The stream is an
// *ExecStream. An unknown session gives ErrNotFound.
func (c *Client) StartExec(ctx context.Context, execID string, o ExecStartOptions) (io.ReadWriteCloser, error) {
	body := map[string]any{"Detach": false, "Tty": o.Tty}
	if o.Rows > 0 && o.Cols > 0 {
		body["h"], body["w"] = o.Rows, o.Cols
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode exec start: %w", err)
	}
	path := lp("/exec/%s/start", execID)
	req, err := http.NewRequest(http.MethodPost, "http://unix"+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("build request POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")

	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket())
	if err != nil {
		return nil, fmt.Errorf("call Podman POST %s on %s (is podman-service running?): %w", path, c.Socket(), err)
	}
	// Until Podman has answered, ctx may cut the connection.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	br := bufio.NewReader(conn)
	resp, err := handshake(conn, br, req)
	if !stop() || err != nil {
		conn.Close()
		if err == nil || ctx.Err() != nil {
			return nil, fmt.Errorf("start exec %s: %w", execID, errors.Join(ctx.Err(), err))
		}
		return nil, fmt.Errorf("start exec %s: %w", execID, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		err := decodeError(http.MethodPost, path, resp)
		resp.Body.Close()
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	// Bytes Podman sent right after its answer wait in br.
	return &ExecStream{conn: conn, r: br}, nil
}

// handshake writes req on conn and reads Podman's answer. On a hijack
// Podman writes the status line and headers only, with no length: the
// stream follows in br.
func handshake(conn net.Conn, br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("read Podman's answer: %w", err)
	}
	return resp, nil
}

// ResizeExec sets the terminal size of a running exec session with a Tty.
func (c *Client) ResizeExec(ctx context.Context, execID string, rows, cols uint16) error {
	if rows == 0 || cols == 0 {
		return fmt.Errorf("resize exec %s: rows and cols must be positive (got %dx%d)", execID, rows, cols)
	}
	q := url.Values{"h": {strconv.Itoa(int(rows))}, "w": {strconv.Itoa(int(cols))}}
	return c.call(ctx, http.MethodPost, withQuery(lp("/exec/%s/resize", execID), q), nil, nil,
		http.StatusOK, http.StatusCreated, http.StatusNoContent)
}

// InspectExec returns an exec session's state; ExitCode is meaningful once
// Running is false.
func (c *Client) InspectExec(ctx context.Context, execID string) (ExecSession, error) {
	var s ExecSession
	err := c.call(ctx, http.MethodGet, lp("/exec/%s/json", execID), nil, &s)
	return s, err
}

// WaitExec polls an exec session until its process has exited and returns
// the exit code. Podman may still report the session running for a moment
// after its stream ended; cancel ctx to give up.
func (c *Client) WaitExec(ctx context.Context, execID string) (int, error) {
	delay := 20 * time.Millisecond
	for {
		s, err := c.InspectExec(ctx, execID)
		if err != nil {
			return 0, err
		}
		if !s.Running {
			return s.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for exec %s: %w", execID, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
}
