package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
)

// Token is an OAuth credential as the vault keeps it (sealed).
type Token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

// DeviceAuth is the start of a device flow.
type DeviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// defaultLifetime is assumed for an access token whose answer gives no
// expires_in.
const defaultLifetime = time.Hour

// maxAnswer bounds what is read of a token endpoint's answer.
const maxAnswer = 64 << 10

// Client talks to token endpoints.
type Client struct {
	HTTP *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// post sends form to u and decodes the JSON answer into out. The error
// names the endpoint and the OAuth error code, never a token.
func (c *Client) post(ctx context.Context, u string, form url.Values, out any) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // without the URL
		}
		return 0, fmt.Errorf("%w: %s: %v", ErrTransient, host(u), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err := json.Unmarshal(b, out); err != nil && resp.StatusCode < 500 {
		return resp.StatusCode, fmt.Errorf("%w: %s answered %d with no JSON", ErrTransient, host(u), resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func host(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return "the token endpoint"
}

// classify turns an error answer into ErrRefused, ErrPending, ErrSlowDown
// or ErrTransient.
func classify(u string, status int, a tokenAnswer) error {
	switch a.Error {
	case "authorization_pending":
		return ErrPending
	case "slow_down":
		return ErrSlowDown
	case "invalid_grant", "access_denied", "expired_token", "invalid_client", "unauthorized_client", "invalid_scope":
		return fmt.Errorf("%w: %s: %s %s", ErrRefused, host(u), a.Error, clip(a.Description))
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return fmt.Errorf("%w: %s answered %d", ErrTransient, host(u), status)
	}
	return fmt.Errorf("%w: %s answered %d %s", ErrRefused, host(u), status, clip(a.Error))
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (c *Client) token(ctx context.Context, l *providers.Login, form url.Values, old string) (Token, error) {
	var a tokenAnswer
	status, err := c.post(ctx, l.TokenURL, form, &a)
	if err != nil {
		return Token{}, err
	}
	if status != http.StatusOK || a.AccessToken == "" {
		return Token{}, classify(l.TokenURL, status, a)
	}
	t := Token{AccessToken: a.AccessToken, RefreshToken: a.RefreshToken, Expiry: c.now().Add(defaultLifetime)}
	if a.ExpiresIn > 0 {
		t.Expiry = c.now().Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	if t.RefreshToken == "" {
		t.RefreshToken = old // the endpoint does not rotate
	}
	return t, nil
}

// Refresh exchanges a refresh token for a new access token (and, where the
// endpoint rotates them, a new refresh token).
func (c *Client) Refresh(ctx context.Context, l *providers.Login, refresh string) (Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {l.ClientID}}
	return c.token(ctx, l, form, refresh)
}

// DeviceStart asks the device authorization endpoint for a code.
func (c *Client) DeviceStart(ctx context.Context, l *providers.Login) (DeviceAuth, error) {
	form := url.Values{"client_id": {l.ClientID}}
	if l.Scope != "" {
		form.Set("scope", l.Scope)
	}
	var ans struct {
		DeviceAuth
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	status, err := c.post(ctx, l.DeviceURL, form, &ans)
	if err != nil {
		return DeviceAuth{}, err
	}
	d := ans.DeviceAuth
	if status != http.StatusOK || d.DeviceCode == "" || d.UserCode == "" || d.VerificationURI == "" {
		return DeviceAuth{}, classify(l.DeviceURL, status, tokenAnswer{Error: ans.Error, Description: ans.Description})
	}
	if d.Interval <= 0 {
		d.Interval = 5
	}
	if d.ExpiresIn <= 0 {
		d.ExpiresIn = 600
	}
	return d, nil
}

// DevicePoll asks once whether the user finished the device flow:
// ErrPending or ErrSlowDown while not.
func (c *Client) DevicePoll(ctx context.Context, l *providers.Login, deviceCode string) (Token, error) {
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}, "client_id": {l.ClientID}}
	return c.token(ctx, l, form, "")
}
