package podmanapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// APIPrefix is the libpod API version every call uses. Podman 4.x and 5.x
// both answer it.
const APIPrefix = "/v4.0.0/libpod"

// Client talks to Podman's libpod REST API on a unix socket.
type Client struct {
	uc *unixhttp.Client
}

// New returns a client for the Podman API listening on socket (usually
// <run dir>/podman.sock). Calls carry no timeout: pass a context with one,
// except for streams (Logs, Wait) that are meant to last. Errors match
// kit/unixhttp's sentinels with errors.Is (ErrNotFound, ErrConflict,
// ErrUnavailable when nobody answers on the socket).
func New(socket string, opts ...unixhttp.ClientOption) *Client {
	return &Client{uc: unixhttp.NewClient(socket, opts...)}
}

// Health pings Podman's API, in the shape every terok client's Health
// answers (Name "podman", Version Podman's version from the ping's
// Libpod-API-Version header, no PID). It does not ask the version query:
// Podman answers that by running the package manager for each component,
// too costly for a check made every few seconds. An API that does not
// answer yields the error.
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	st := health.Status{Name: "podman"}
	p, err := c.Ping(ctx)
	if err != nil {
		return st, err
	}
	st.Status, st.Version = "ok", p.LibpodAPIVersion
	st.Details = map[string]any{"api_version": p.APIVersion}
	return st, nil
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.uc.Socket() }

// podmanError is the body of a libpod error answer.
type podmanError struct {
	Cause    string `json:"cause"`
	Message  string `json:"message"`
	Response int    `json:"response"`
}

// do sends one request to path (below the socket root, query included)
// and returns the response when its status is one of ok; any other status
// becomes an error wrapping *unixhttp.APIError (and ErrNotFound or
// ErrConflict for 404 and 409). The caller closes the body.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, ctype string, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://unix"+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.uc.HTTP().Do(req)
	if err != nil {
		// A socket nobody answers on is a *unixhttp.DialError in err's
		// chain (errors.Is unixhttp.ErrUnavailable).
		return nil, fmt.Errorf("call Podman %s %s on %s (is podman-service running?): %w", method, stripQuery(path), c.Socket(), err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, decodeError(method, path, resp)
}

func decodeError(method, path string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(b))
	var pe podmanError
	if json.Unmarshal(b, &pe) == nil && pe.Message != "" {
		msg = pe.Message
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	ae := &unixhttp.APIError{Status: resp.StatusCode, Message: msg}
	// Podman 4 answers some state conflicts with HTTP 500.
	if resp.StatusCode == http.StatusInternalServerError && strings.Contains(msg, "container state improper") {
		return fmt.Errorf("podman %s %s: %w: %w", method, stripQuery(path), unixhttp.ErrConflict, ae)
	}
	// ae matches unixhttp.ErrNotFound, ErrConflict, ... by its status.
	return fmt.Errorf("podman %s %s: %w", method, stripQuery(path), ae)
}

func stripQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// call sends in as JSON (nil for none) and decodes a JSON answer into out
// (nil to discard).
func (c *Client) call(ctx context.Context, method, path string, in, out any, ok ...int) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	resp, err := c.do(ctx, method, path, body, ctype, ok...)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of podman %s %s: %w", method, stripQuery(path), err)
	}
	return nil
}

// lp builds a libpod path: APIPrefix + format, with each arg path-escaped.
func lp(format string, args ...string) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(a)
	}
	return APIPrefix + fmt.Sprintf(format, esc...)
}

// withQuery appends q to p when q is not empty.
func withQuery(p string, q url.Values) string {
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// Ping is the answer of GET /_ping.
type Ping struct {
	// LibpodAPIVersion is the Libpod-API-Version header, e.g. "4.3.1".
	LibpodAPIVersion string
	// APIVersion is the API-Version header of the Docker-compatible layer, e.g. "1.41".
	APIVersion string
}

// Ping asks GET /_ping; Podman answers "OK" once its API serves.
func (c *Client) Ping(ctx context.Context) (Ping, error) {
	resp, err := c.do(ctx, http.MethodGet, "/_ping", nil, "", http.StatusOK)
	if err != nil {
		return Ping{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if strings.TrimSpace(string(b)) != "OK" {
		return Ping{}, fmt.Errorf("podman GET /_ping on %s answered %q, want OK", c.Socket(), b)
	}
	return Ping{LibpodAPIVersion: resp.Header.Get("Libpod-API-Version"), APIVersion: resp.Header.Get("API-Version")}, nil
}

// Version asks GET /libpod/version.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	err := c.call(ctx, http.MethodGet, lp("/version"), nil, &v)
	return v, err
}

// Info asks GET /libpod/info: host, storage and runtime facts.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var i Info
	err := c.call(ctx, http.MethodGet, lp("/info"), nil, &i)
	return i, err
}
