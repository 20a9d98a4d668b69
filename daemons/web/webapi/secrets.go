package webapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

func projectQuery(project string) string {
	if project == "" {
		return ""
	}
	return "?project=" + url.QueryEscape(project)
}

// SetSecret stores value as provider's credential in terok-vault, for
// project or (empty) globally, and returns what may be shown of it
// (never the value). The value travels in the request body only.
func (c *Client) SetSecret(ctx context.Context, provider, project, value string) (vaultapi.Secret, error) {
	var out vaultapi.Secret
	err := c.Do(ctx, http.MethodPut, "/secrets/"+esc(provider)+projectQuery(project), SecretRequest{Value: value}, &out)
	return out, err
}

// Secrets lists the vault's stored credentials without values (of
// project and the global ones when project is not empty).
func (c *Client) Secrets(ctx context.Context, project string) ([]vaultapi.Secret, error) {
	var out []vaultapi.Secret
	err := c.Do(ctx, http.MethodGet, "/secrets"+projectQuery(project), nil, &out)
	return out, err
}

// RemoveSecret deletes provider's credential for project or (empty) the
// global one.
func (c *Client) RemoveSecret(ctx context.Context, provider, project string) (vaultapi.Secret, error) {
	var out SecretRemoved
	err := c.Do(ctx, http.MethodDelete, "/secrets/"+esc(provider)+projectQuery(project), nil, &out)
	return out.Removed, err
}

// Providers lists the providers the vault knows.
func (c *Client) Providers(ctx context.Context) ([]vaultapi.Provider, error) {
	var out []vaultapi.Provider
	err := c.Do(ctx, http.MethodGet, "/providers", nil, &out)
	return out, err
}

// StartLogin starts a subscription login terok-vault runs for provider
// (and project, or globally): the device flow, or a pasted refresh
// token (req.RefreshToken, in the body only).
func (c *Client) StartLogin(ctx context.Context, provider, project string, req LoginRequest) (vaultapi.LoginState, error) {
	var out vaultapi.LoginState
	err := c.Do(ctx, http.MethodPost, "/secrets/"+esc(provider)+"/login"+projectQuery(project), req, &out)
	return out, err
}

// Login returns a login's state, waiting up to wait (at most a minute)
// while it is pending.
func (c *Client) Login(ctx context.Context, id string, wait time.Duration) (vaultapi.LoginState, error) {
	var out vaultapi.LoginState
	err := c.Do(ctx, http.MethodGet, "/logins/"+esc(id)+"?wait="+wait.String(), nil, &out)
	return out, err
}
