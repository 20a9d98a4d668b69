package webapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Client talks to terok-web: kit/unixhttp's client on web.sock (New) or
// on the TCP listener with the access token (NewURL). Errors of answers
// match the kit/unixhttp sentinels (errors.Is(err, unixhttp.ErrNotFound));
// a terok-web nobody answers for matches unixhttp.ErrUnavailable. Streams
// (Logs, Audit, Events) are iterators: ranging over one makes the
// request, and breaking out of the loop ends it.
type Client struct {
	c     *unixhttp.Client
	token string // for WebSocket hand-shakes, made outside c
}

// New returns a client for terok-web's socket (trusted: no token).
func New(socket string, opts ...unixhttp.ClientOption) *Client {
	return &Client{c: unixhttp.NewClient(socket, opts...)}
}

// NewURL returns a client for terok-web's TCP listener at base (e.g.
// http://127.0.0.1:8566) with the access token.
func NewURL(base, token string, opts ...unixhttp.ClientOption) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("terok-web URL %q: give http://HOST:PORT, e.g. http://localhost:8566", base)
	}
	opts = append([]unixhttp.ClientOption{unixhttp.WithBaseURL(u), unixhttp.WithBearer(token)}, opts...)
	return &Client{c: unixhttp.NewClient("", opts...), token: token}, nil
}

// Where names the socket or URL the client talks to.
func (c *Client) Where() string { return c.c.Socket() }

// prefix is the root of terok-web's API.
const prefix = "/api/v1"

// Do performs one JSON request below /api/v1 and decodes the answer.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.c.Do(ctx, method, prefix+path, in, out)
}

func esc(s string) string { return url.PathEscape(s) }

// Health asks terok-web's health (with its dependencies as details).
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	return health.Check(ctx, c.c)
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

// Logs is a task's output as it arrives, chunk by chunk: the last tail
// lines (tail < 0: all), and with follow until the task ends. An error
// ends it.
func (c *Client) Logs(ctx context.Context, id string, tail int, follow bool) iter.Seq2[[]byte, error] {
	q := url.Values{}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	if follow {
		q.Set("follow", "1")
	}
	return func(yield func([]byte, error) bool) {
		body, err := c.c.Stream(ctx, http.MethodGet, prefix+"/tasks/"+esc(id)+"/logs?"+q.Encode(), nil)
		if err != nil {
			yield(nil, err)
			return
		}
		defer body.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := body.Read(buf)
			if n > 0 && !yield(bytes.Clone(buf[:n]), nil) {
				return
			}
			if err == io.EOF || err != nil && ctx.Err() != nil {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("read the log of task %s: %w", id, err))
				return
			}
		}
	}
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

// Audit is a task's shield events (with follow: until ctx ends).
func (c *Client) Audit(ctx context.Context, id string, follow bool) iter.Seq2[shieldapi.Event, error] {
	p := prefix + "/tasks/" + esc(id) + "/shield/audit"
	if follow {
		p += "?follow=1"
	}
	return func(yield func(shieldapi.Event, error) bool) {
		body, err := c.c.Stream(ctx, http.MethodGet, p, nil)
		if err != nil {
			yield(shieldapi.Event{}, err)
			return
		}
		defer body.Close()
		dec := json.NewDecoder(body)
		for {
			var ev shieldapi.Event
			if err := dec.Decode(&ev); err != nil {
				if err != io.EOF && ctx.Err() == nil {
					yield(shieldapi.Event{}, fmt.Errorf("read the audit of task %s: %w", id, err))
				}
				return
			}
			if !yield(ev, nil) {
				return
			}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.c.URL(prefix+"/images?name="+url.QueryEscape(name)), tarball)
	if err != nil {
		return Image{}, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	body, err := c.c.Send(req)
	if err != nil {
		return Image{}, err
	}
	defer body.Close()
	var out Image
	if err := json.NewDecoder(body).Decode(&out); err != nil {
		return Image{}, fmt.Errorf("decode the import's answer: %w", err)
	}
	return out, nil
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
	body, err := c.c.Stream(ctx, http.MethodGet, prefix+"/daemons/"+esc(name)+"/log?bytes="+strconv.Itoa(bytes), nil)
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

// Events follows the events WebSocket: every task state change, timeline
// entry and daemon change, and the log lines of the tasks in logs ("*"
// for every task). The first event is the server's acknowledgement
// (EventSubscribed): every event after it is seen, no line of those tasks
// comes before it, so a caller that waits for it misses none. The stream
// ends when ctx ends (quietly), or with an error when the connection does
// (a subscriber too slow to keep up is closed by the server).
func (c *Client) Events(ctx context.Context, logs ...string) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		u, hc, h := c.WebSocket(prefix + "/events")
		conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
		if err != nil {
			if resp != nil && resp.StatusCode >= 400 {
				err = unixhttp.DecodeError(resp)
			}
			yield(Event{}, fmt.Errorf("open the events of %s: %w", c.Where(), err))
			return
		}
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 20)
		b, _ := json.Marshal(Subscribe{Logs: logs})
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			yield(Event{}, fmt.Errorf("subscribe: %w", err))
			return
		}
		for {
			_, m, err := conn.Read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					yield(Event{}, fmt.Errorf("events of %s: %w", c.Where(), err))
				}
				return
			}
			var ev Event
			if err := json.Unmarshal(m, &ev); err != nil {
				yield(Event{}, fmt.Errorf("events of %s: a message that is not an event: %w", c.Where(), err))
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// AttachURL is the path of a task's terminal WebSocket (cmd: a command
// for sh -c instead of a login shell), for WebSocket.
func AttachURL(id, cmd string) string {
	p := prefix + "/tasks/" + esc(id) + "/attach"
	if cmd != "" {
		p += "?cmd=" + url.QueryEscape(cmd)
	}
	return p
}

// WebSocket returns what a WebSocket hand-shake to path (below the
// client's base, e.g. AttachURL's) needs: its URL, the HTTP client that
// reaches terok-web, and the headers that carry the token.
func (c *Client) WebSocket(path string) (rawURL string, hc *http.Client, header http.Header) {
	header = http.Header{}
	if c.token != "" {
		header.Set("Authorization", "Bearer "+c.token)
	}
	return c.c.URL(path), c.c.HTTP(), header
}
