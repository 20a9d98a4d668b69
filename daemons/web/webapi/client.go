package webapi

import (
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
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Client talks to terok-web. Errors of answers match the kit/unixhttp
// sentinels (errors.Is(err, unixhttp.ErrNotFound)); a terok-web nobody
// answers for matches unixhttp.ErrUnavailable.
type Client struct {
	base  string // http://unix or the TCP base URL
	where string // the socket or URL, for messages
	token string
	hc    *http.Client
	dial  func(ctx context.Context) (net.Conn, error)
}

// New returns a client for terok-web's socket (trusted: no token).
func New(socket string) *Client {
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		MaxIdleConns: 8, IdleConnTimeout: 30 * time.Second}
	return &Client{base: "http://unix", where: socket, hc: &http.Client{Transport: tr}, dial: dial}
}

// NewURL returns a client for terok-web's TCP listener at base (e.g.
// http://127.0.0.1:8566) with the access token.
func NewURL(base, token string) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), where: base, token: token,
		hc: &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}}
}

// Where names the socket or URL the client talks to.
func (c *Client) Where() string { return c.where }

func (c *Client) request(ctx context.Context, method, path string, body io.Reader, ctype string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1"+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, &unixhttp.DialError{Socket: c.where + " (terok-web)", Err: err}
		}
		return nil, fmt.Errorf("call %s %s on %s: %w", method, path, c.where, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, unixhttp.DecodeError(resp)
	}
	return resp, nil
}

// Stream performs a request and returns the body of a 2xx answer.
func (c *Client) Stream(ctx context.Context, method, path string, in any) (io.ReadCloser, error) {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	resp, err := c.request(ctx, method, path, body, ctype)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Do performs one JSON request below /api/v1 and decodes the answer.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	body, err := c.Stream(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

// Health asks terok-web's health (with its dependencies as details).
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	var st health.Status
	err := c.Do(ctx, http.MethodGet, "/health", nil, &st)
	return st, err
}

// Projects lists the projects.
func (c *Client) Projects(ctx context.Context) ([]ProjectInfo, error) {
	var out []ProjectInfo
	err := c.Do(ctx, http.MethodGet, "/projects", nil, &out)
	return out, err
}

// Project shows one project.
func (c *Client) Project(ctx context.Context, name string) (ProjectInfo, error) {
	var out ProjectInfo
	err := c.Do(ctx, http.MethodGet, "/projects/"+esc(name), nil, &out)
	return out, err
}

// CreateProject writes a new project.
func (c *Client) CreateProject(ctx context.Context, p Project) (ProjectInfo, error) {
	var out ProjectInfo
	err := c.Do(ctx, http.MethodPost, "/projects", p, &out)
	return out, err
}

// SaveProject replaces an existing project.
func (c *Client) SaveProject(ctx context.Context, p Project) (ProjectInfo, error) {
	var out ProjectInfo
	err := c.Do(ctx, http.MethodPut, "/projects/"+esc(p.Name), p, &out)
	return out, err
}

// DeleteProject removes a project's file (its tasks must have ended).
func (c *Client) DeleteProject(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, "/projects/"+esc(name), nil, nil)
}

// Tasks lists tasks, of one project when project is not empty.
func (c *Client) Tasks(ctx context.Context, project string) ([]Task, error) {
	p := "/tasks"
	if project != "" {
		p += "?project=" + url.QueryEscape(project)
	}
	var out []Task
	err := c.Do(ctx, http.MethodGet, p, nil, &out)
	return out, err
}

// Task shows one task.
func (c *Client) Task(ctx context.Context, id string) (Task, error) {
	var out Task
	err := c.Do(ctx, http.MethodGet, "/tasks/"+esc(id), nil, &out)
	return out, err
}

// WebTicket returns a one-time link to a running web task's UI.
func (c *Client) WebTicket(ctx context.Context, id string) (WebTicket, error) {
	var out WebTicket
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/web/ticket", struct{}{}, &out)
	return out, err
}

// Run starts a task.
func (c *Client) Run(ctx context.Context, req RunRequest) (Task, error) {
	var out Task
	err := c.Do(ctx, http.MethodPost, "/tasks", req, &out)
	return out, err
}

// Wait blocks until the task has ended and returns it.
func (c *Client) Wait(ctx context.Context, id string) (Task, error) {
	var out Task
	err := c.Do(ctx, http.MethodGet, "/tasks/"+esc(id)+"/wait", nil, &out)
	return out, err
}

// Stop stops a task and returns it once it has ended.
func (c *Client) Stop(ctx context.Context, id string) (Task, error) {
	var out Task
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/stop", nil, &out)
	return out, err
}

// Restart runs a task again with its last prompt.
func (c *Client) Restart(ctx context.Context, id string) (Task, error) {
	var out Task
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/restart", nil, &out)
	return out, err
}

// Followup runs an ended task again in its workspace with a new prompt.
func (c *Client) Followup(ctx context.Context, id string, req FollowupRequest) (Task, error) {
	var out Task
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/followup", req, &out)
	return out, err
}

// Remove deletes a task (force: even a running one).
func (c *Client) Remove(ctx context.Context, id string, force bool) error {
	p := "/tasks/" + esc(id)
	if force {
		p += "?force=1"
	}
	return c.Do(ctx, http.MethodDelete, p, nil, nil)
}

// Logs returns a task's output: the last tail lines (tail < 0: all), and
// with follow the stream continues until the task ends.
func (c *Client) Logs(ctx context.Context, id string, tail int, follow bool) (io.ReadCloser, error) {
	q := url.Values{}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	if follow {
		q.Set("follow", "1")
	}
	return c.Stream(ctx, http.MethodGet, "/tasks/"+esc(id)+"/logs?"+q.Encode(), nil)
}

// Timeline returns a task's timeline.
func (c *Client) Timeline(ctx context.Context, id string) ([]Entry, error) {
	var out []Entry
	err := c.Do(ctx, http.MethodGet, "/tasks/"+esc(id)+"/timeline", nil, &out)
	return out, err
}

// Gate shows a project's gate repository and branches.
func (c *Client) Gate(ctx context.Context, project string) (GateInfo, error) {
	var out GateInfo
	err := c.Do(ctx, http.MethodGet, "/projects/"+esc(project)+"/gate", nil, &out)
	return out, err
}

// GateLog lists commits of a gate branch ("" the default branch).
func (c *Client) GateLog(ctx context.Context, project, branch string, limit int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	q := url.Values{"branch": {branch}, "limit": {strconv.Itoa(limit)}}
	err := c.Do(ctx, http.MethodGet, "/projects/"+esc(project)+"/gate/log?"+q.Encode(), nil, &out)
	return out, err
}

// GateDiff compares a gate branch with base ("" the default branch).
func (c *Client) GateDiff(ctx context.Context, project, base, head string) (gateapi.Diff, error) {
	var out gateapi.Diff
	q := url.Values{"branch": {head}}
	if base != "" {
		q.Set("base", base)
	}
	err := c.Do(ctx, http.MethodGet, "/projects/"+esc(project)+"/gate/diff?"+q.Encode(), nil, &out)
	return out, err
}

// GateSync fetches the project's upstream into the gate now.
func (c *Client) GateSync(ctx context.Context, project string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.Do(ctx, http.MethodPost, "/projects/"+esc(project)+"/gate/sync", nil, &out)
	return out, err
}

// Promote pushes a gate branch upstream.
func (c *Client) Promote(ctx context.Context, project string, req PromoteRequest) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.Do(ctx, http.MethodPost, "/projects/"+esc(project)+"/gate/promote", req, &out)
	return out, err
}

// ShieldStatus shows the shield of a running task.
func (c *Client) ShieldStatus(ctx context.Context, id string) (shieldapi.Status, error) {
	var out shieldapi.Status
	err := c.Do(ctx, http.MethodGet, "/tasks/"+esc(id)+"/shield", nil, &out)
	return out, err
}

// Allow lets a running task reach target (for a while when forDur is set).
func (c *Client) Allow(ctx context.Context, id, target, forDur string) (shieldapi.Status, error) {
	var out shieldapi.Status
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/shield/allow", AllowRequest{Target: target, For: forDur}, &out)
	return out, err
}

// Deny refuses target to a running task.
func (c *Client) Deny(ctx context.Context, id, target string) (shieldapi.Status, error) {
	var out shieldapi.Status
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/shield/deny", AllowRequest{Target: target}, &out)
	return out, err
}

// SetMode sets a running task's shield mode (up, down, block).
func (c *Client) SetMode(ctx context.Context, id, mode string) (shieldapi.Status, error) {
	var out shieldapi.Status
	err := c.Do(ctx, http.MethodPost, "/tasks/"+esc(id)+"/shield/mode", ModeRequest{Mode: mode}, &out)
	return out, err
}

// Audit calls fn for each shield event of a task (follow: until ctx ends).
func (c *Client) Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error {
	p := "/tasks/" + esc(id) + "/shield/audit"
	if follow {
		p += "?follow=1"
	}
	body, err := c.Stream(ctx, http.MethodGet, p, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev shieldapi.Event
		if err := dec.Decode(&ev); err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read audit stream: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// Panic blocks every task's network at once.
func (c *Client) Panic(ctx context.Context) (shieldapi.PanicResult, error) {
	var out shieldapi.PanicResult
	err := c.Do(ctx, http.MethodPost, "/shield/panic", nil, &out)
	return out, err
}

// Profiles lists the shield's profiles.
func (c *Client) Profiles(ctx context.Context) ([]shieldapi.Profile, error) {
	var out []shieldapi.Profile
	err := c.Do(ctx, http.MethodGet, "/shield/profiles", nil, &out)
	return out, err
}

// Images lists the local images.
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	var out []Image
	err := c.Do(ctx, http.MethodGet, "/images", nil, &out)
	return out, err
}

// ImportImage imports a root filesystem tarball as image name.
func (c *Client) ImportImage(ctx context.Context, name string, tarball io.Reader) (Image, error) {
	resp, err := c.request(ctx, http.MethodPost, "/images?name="+url.QueryEscape(name), tarball, "application/x-tar")
	if err != nil {
		return Image{}, err
	}
	defer resp.Body.Close()
	var out Image
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

// Daemons lists the supervisor's programs.
func (c *Client) Daemons(ctx context.Context) ([]Daemon, error) {
	var out []Daemon
	err := c.Do(ctx, http.MethodGet, "/daemons", nil, &out)
	return out, err
}

// DaemonAction starts, stops or restarts a program.
func (c *Client) DaemonAction(ctx context.Context, name, action string) error {
	return c.Do(ctx, http.MethodPost, "/daemons/"+esc(name)+"/"+esc(action), nil, nil)
}

// DaemonLog returns the tail of a program's log.
func (c *Client) DaemonLog(ctx context.Context, name string, bytes int) (string, error) {
	body, err := c.Stream(ctx, http.MethodGet, "/daemons/"+esc(name)+"/log?bytes="+strconv.Itoa(bytes), nil)
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	return string(b), err
}

// WebURL returns the browser login URL (with the token).
func (c *Client) WebURL(ctx context.Context) (string, error) {
	var out map[string]string
	err := c.Do(ctx, http.MethodGet, "/web/url", nil, &out)
	return out["url"], err
}

// Events opens the events WebSocket; subscribe to log lines with logs
// ("*" for every task): it returns once the server acknowledged that, so
// no line of those tasks is missed. Read with (*websocket.Conn).Read and
// decode Event.
func (c *Client) Events(ctx context.Context, logs ...string) (*websocket.Conn, error) {
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	u := c.base + "/api/v1/events"
	if c.dial != nil {
		opts.HTTPClient = c.hc
		u = "ws://unix/api/v1/events"
	} else {
		u = "ws" + strings.TrimPrefix(u, "http")
		opts.HTTPClient = c.hc
	}
	if c.token != "" {
		opts.HTTPHeader.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return nil, &unixhttp.APIError{Status: resp.StatusCode, Message: "events: " + err.Error()}
		}
		return nil, fmt.Errorf("open events on %s: %w", c.where, err)
	}
	conn.SetReadLimit(1 << 20)
	if len(logs) > 0 {
		b, _ := json.Marshal(Subscribe{Logs: logs})
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			conn.CloseNow()
			return nil, err
		}
		for {
			_, m, err := conn.Read(ctx)
			if err != nil {
				conn.CloseNow()
				return nil, fmt.Errorf("events: no acknowledgement of the subscription: %w", err)
			}
			var ev Event
			if json.Unmarshal(m, &ev) == nil && ev.Type == EventSubscribed {
				break
			}
		}
	}
	return conn, nil
}

// AttachURL is the attach WebSocket of a task (cmd: a command for sh -c
// instead of a login shell). Dial it with HTTPClient and AuthHeader.
func (c *Client) AttachURL(id, cmd string) string {
	u := c.base + "/api/v1/tasks/" + esc(id) + "/attach"
	if cmd != "" {
		u += "?cmd=" + url.QueryEscape(cmd)
	}
	return u
}

// HTTPClient is the client's HTTP client (it dials the socket for New).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// AuthHeader carries the token for hand-shakes made outside the client.
func (c *Client) AuthHeader() http.Header {
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	return h
}
