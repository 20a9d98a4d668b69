package gateapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Client calls terok-gate's admin API.
//
// Errors the gate answers are *unixhttp.APIError carrying its message;
// match them with errors.Is against the kit's sentinels:
// unixhttp.ErrNotFound (no such repository, branch), ErrBadRequest (a bad
// name or field), ErrConflict (another upstream, no upstream),
// ErrUnavailable (the upstream failed, or the gate does not answer on its
// socket).
type Client struct {
	c *unixhttp.Client
}

// New returns a client for the gate listening on socket. opts are the
// kit's client options (unixhttp.WithDialer for tests).
func New(socket string, opts ...unixhttp.ClientOption) *Client {
	return &Client{c: unixhttp.NewClient(socket, opts...)}
}

// Unix returns the underlying socket client, for calls this client does
// not wrap.
func (c *Client) Unix() *unixhttp.Client { return c.c }

// Health asks the gate how it is: repositories and task tokens in
// Details. A gate that does not answer matches unixhttp.ErrUnavailable.
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	return health.Check(ctx, c.c)
}

// EnsureRepo creates the repository (empty, or a mirror of req.Upstream)
// or returns the existing one. created tells which. An existing repository
// with another upstream matches unixhttp.ErrConflict; an upstream that
// cannot be fetched unixhttp.ErrUnavailable.
func (c *Client) EnsureRepo(ctx context.Context, req EnsureRepoRequest) (repo Repo, created bool, err error) {
	var resp EnsureRepoResponse
	err = c.c.Post(ctx, "/v1/repos", req, &resp)
	return resp.Repo, resp.New, err
}

// Repos lists every repository.
func (c *Client) Repos(ctx context.Context) ([]Repo, error) {
	var out []Repo
	err := c.c.Get(ctx, "/v1/repos", &out)
	return out, err
}

// Repo shows one repository with its branches.
func (c *Client) Repo(ctx context.Context, name string) (RepoDetail, error) {
	var out RepoDetail
	err := c.c.Get(ctx, "/v1/repos/"+url.PathEscape(name), &out)
	return out, err
}

// Log returns up to limit commits of branch (newest first; limit <= 0:
// the gate's default of 50, at most 1000).
func (c *Client) Log(ctx context.Context, name, branch string, limit int) ([]Commit, error) {
	q := url.Values{"branch": {branch}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []Commit
	err := c.c.Get(ctx, "/v1/repos/"+url.PathEscape(name)+"/log?"+q.Encode(), &out)
	return out, err
}

// Sync fetches the upstream now.
func (c *Client) Sync(ctx context.Context, name string) (SyncResult, error) {
	var out SyncResult
	err := c.c.Post(ctx, "/v1/repos/"+url.PathEscape(name)+"/sync", nil, &out)
	return out, err
}

// Promote pushes a gate branch to the upstream.
func (c *Client) Promote(ctx context.Context, name string, req PromoteRequest) (PromoteResult, error) {
	var out PromoteResult
	err := c.c.Post(ctx, "/v1/repos/"+url.PathEscape(name)+"/promote", req, &out)
	return out, err
}

// DeleteRepo removes a repository and revokes its task tokens.
func (c *Client) DeleteRepo(ctx context.Context, name string) (Deleted, error) {
	var out Deleted
	err := c.c.Delete(ctx, "/v1/repos/"+url.PathEscape(name), &out)
	return out, err
}

// MintToken creates a task token for (project, task); the project's
// repository must exist.
func (c *Client) MintToken(ctx context.Context, project, task string) (MintResponse, error) {
	var out MintResponse
	err := c.c.Post(ctx, "/v1/tokens", MintRequest{Project: project, Task: task}, &out)
	return out, err
}

// Tokens lists task tokens (of one project when project is not empty),
// without secrets.
func (c *Client) Tokens(ctx context.Context, project string) ([]Token, error) {
	p := "/v1/tokens"
	if project != "" {
		p += "?project=" + url.QueryEscape(project)
	}
	var out []Token
	err := c.c.Get(ctx, p, &out)
	return out, err
}

// RevokeTask revokes every token of one task of a project.
func (c *Client) RevokeTask(ctx context.Context, project, task string) (int, error) {
	return c.revoke(ctx, url.Values{"project": {project}, "task": {task}})
}

// RevokeProject revokes every token of a project.
func (c *Client) RevokeProject(ctx context.Context, project string) (int, error) {
	return c.revoke(ctx, url.Values{"project": {project}})
}

func (c *Client) revoke(ctx context.Context, q url.Values) (int, error) {
	var out RevokeResult
	err := c.c.Do(ctx, http.MethodDelete, "/v1/tokens?"+q.Encode(), nil, &out)
	return out.Revoked, err
}

// Events calls fn with each event of the gate's feed after seq since
// (0: every kept event), oldest first. Without follow it returns once the
// kept events are delivered; with follow it keeps the stream open and
// delivers new events as pushes land, until ctx ends (then it returns
// ctx's error), the gate stops, or fn returns an error (returned as is).
// Remember the Seq of the last event handled and pass it as since to
// resume after a disconnect without losing or repeating events.
func (c *Client) Events(ctx context.Context, since uint64, follow bool, fn func(Event) error) error {
	q := url.Values{"since": {strconv.FormatUint(since, 10)}}
	if follow {
		q.Set("follow", "1")
	}
	body, err := c.c.Stream(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("event feed: %w", err)
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue // heartbeat
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("event feed: decode %q: %w", line, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event feed: %w", err)
	}
	return nil
}

// Diff compares branch head of repo with branch base (the repository's
// default branch when base is ""), from their merge base like
// `git diff base...head`: commits, changed files with line counts, and the
// unified patch (at most MaxPatchBytes, then Truncated). A missing
// repository or branch matches unixhttp.ErrNotFound, a bad name
// unixhttp.ErrBadRequest.
func (c *Client) Diff(ctx context.Context, repo, base, head string) (Diff, error) {
	q := url.Values{"head": {head}}
	if base != "" {
		q.Set("base", base)
	}
	var out Diff
	err := c.c.Get(ctx, "/v1/repos/"+url.PathEscape(repo)+"/diff?"+q.Encode(), &out)
	return out, err
}
