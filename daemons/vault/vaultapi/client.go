package vaultapi

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Client calls terok-vault's admin API.
//
// Errors the vault answers are *unixhttp.APIError carrying its message;
// match them with errors.Is against the kit's sentinels:
// unixhttp.ErrNotFound (an unknown provider, no such secret, phantom or
// login), ErrBadRequest (a bad name or value), ErrForbidden (this caller
// may not set secrets), ErrUnavailable (the vault does not answer on its
// socket, or a login's upstream failed).
type Client struct {
	c *unixhttp.Client
}

// New returns a client for the vault listening on socket. opts are the
// kit's client options (unixhttp.WithDialer for tests).
func New(socket string, opts ...unixhttp.ClientOption) *Client {
	return &Client{c: unixhttp.NewClient(socket, opts...)}
}

// Unix returns the underlying socket client.
func (c *Client) Unix() *unixhttp.Client { return c.c }

// Health asks the vault how it is: providers, secrets, live phantoms in
// Details; degraded (unixhttp.ErrUnavailable) while a stored credential
// cannot be used.
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	return health.Check(ctx, c.c)
}

// Providers lists the providers the vault knows.
func (c *Client) Providers(ctx context.Context) ([]Provider, error) {
	var out []Provider
	err := c.c.Get(ctx, "/v1/providers", &out)
	return out, err
}

func scopeQuery(project string) string {
	if project == "" {
		return ""
	}
	return "?project=" + url.QueryEscape(project)
}

// SetSecret stores value as provider's credential, for project or (empty)
// globally, and returns what may be shown of it. The value travels in the
// request body only.
func (c *Client) SetSecret(ctx context.Context, provider, project, value string) (Secret, error) {
	var out Secret
	err := c.c.Put(ctx, "/v1/secrets/"+url.PathEscape(provider)+scopeQuery(project), SetSecretRequest{Value: value}, &out)
	return out, err
}

// ListSecrets lists the stored credentials (of one project and the global
// ones when project is not empty).
func (c *Client) ListSecrets(ctx context.Context, project string) ([]Secret, error) {
	var out []Secret
	err := c.c.Get(ctx, "/v1/secrets"+scopeQuery(project), &out)
	return out, err
}

// RemoveSecret deletes provider's credential for project or (empty) the
// global one.
func (c *Client) RemoveSecret(ctx context.Context, provider, project string) (Secret, error) {
	var out Removed
	err := c.c.Delete(ctx, "/v1/secrets/"+url.PathEscape(provider)+scopeQuery(project), &out)
	return out.Removed, err
}

// MintPhantoms mints one phantom per provider for (project, task). Call it
// when a task starts and pass each Phantom's Environment to the task.
func (c *Client) MintPhantoms(ctx context.Context, project, task string, providers []string) ([]Phantom, error) {
	var out MintResponse
	err := c.c.Post(ctx, "/v1/phantoms", MintRequest{Project: project, Task: task, Providers: providers}, &out)
	return out.Phantoms, err
}

// Phantoms lists phantoms (without tokens) of project and task; empty
// strings list more.
func (c *Client) Phantoms(ctx context.Context, project, task string) ([]Phantom, error) {
	q := url.Values{}
	if project != "" {
		q.Set("project", project)
	}
	if task != "" {
		q.Set("task", task)
	}
	p := "/v1/phantoms"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var out []Phantom
	err := c.c.Get(ctx, p, &out)
	return out, err
}

// RevokePhantom ends one phantom.
func (c *Client) RevokePhantom(ctx context.Context, id string) (Phantom, error) {
	var out Phantom
	err := c.c.Delete(ctx, "/v1/phantoms/"+url.PathEscape(id), &out)
	return out, err
}

// RevokeTask ends every phantom of (project, task) and returns how many;
// call it when the task ends.
func (c *Client) RevokeTask(ctx context.Context, project, task string) (int, error) {
	var out RevokeResponse
	err := c.c.Delete(ctx, "/v1/tasks/"+url.PathEscape(project)+"/"+url.PathEscape(task)+"/phantoms", &out)
	return out.Revoked, err
}

// Audit returns a task's request counts and its last limit entries.
func (c *Client) Audit(ctx context.Context, project, task string, limit int) (AuditReport, error) {
	var out AuditReport
	err := c.c.Get(ctx, "/v1/tasks/"+url.PathEscape(project)+"/"+url.PathEscape(task)+"/audit?limit="+strconv.Itoa(limit), &out)
	return out, err
}

// StartLogin starts an OAuth login the vault runs: for the device flow the
// answer holds the code to show the user; a pasted refresh token is
// exchanged at once.
func (c *Client) StartLogin(ctx context.Context, req LoginRequest) (LoginState, error) {
	var out LoginState
	err := c.c.Post(ctx, "/v1/logins", req, &out)
	return out, err
}

// Login returns a login's state, waiting up to wait for it to leave
// pending.
func (c *Client) Login(ctx context.Context, id string, wait time.Duration) (LoginState, error) {
	var out LoginState
	err := c.c.Get(ctx, "/v1/logins/"+url.PathEscape(id)+"?wait="+wait.String(), &out)
	return out, err
}
