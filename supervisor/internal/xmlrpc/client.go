package xmlrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Client calls an XML-RPC server over HTTP, on a unix socket
// (unix:///path/to.sock) or TCP (http://host:port), at path /RPC2 as
// supervisorctl does.
type Client struct {
	endpoint string
	hc       *http.Client
	user     string
	pass     string
}

// NewClient returns a client for serverURL (unix:///path or http://host:port).
// user and pass, when set, go as HTTP Basic credentials.
func NewClient(serverURL, user, pass string) (*Client, error) {
	c := &Client{user: user, pass: pass}
	switch {
	case strings.HasPrefix(serverURL, "unix://"):
		sock := strings.TrimPrefix(serverURL, "unix://")
		if sock == "" {
			return nil, fmt.Errorf("server URL %q names no socket path", serverURL)
		}
		c.endpoint = "http://localhost/RPC2"
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				if err := paths.CheckSocketDir(filepath.Dir(sock)); err != nil {
					return nil, err
				}
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		}}
	case strings.HasPrefix(serverURL, "http://"):
		u, err := url.Parse(serverURL)
		if err != nil {
			return nil, fmt.Errorf("server URL %q: %w", serverURL, err)
		}
		u.Path = "/RPC2"
		c.endpoint = u.String()
		c.hc = &http.Client{Timeout: 0}
	default:
		return nil, fmt.Errorf("server URL %q: use unix:///path/to/supervisor.sock or http://host:port", serverURL)
	}
	return c, nil
}

// Call invokes method with params and returns the decoded result. A fault
// answer is a *Fault error.
func (c *Client) Call(ctx context.Context, method string, params ...any) (any, error) {
	var body bytes.Buffer
	if err := EncodeCall(&body, method, params...); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &HTTPError{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return DecodeResponse(resp.Body)
}

// HTTPError is a non-200 answer of the server (401 for bad credentials).
type HTTPError struct {
	Status int
	Body   string
}

// Is matches the kit/unixhttp sentinel of the status (401 ErrUnauthorized,
// 404 ErrNotFound, ...).
func (e *HTTPError) Is(target error) bool {
	return errors.Is(&unixhttp.APIError{Status: e.Status}, target)
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// defaultTimeout bounds calls made with CallTimeout.
const defaultTimeout = 30 * time.Second

// CallTimeout is Call with a 30 s deadline.
func (c *Client) CallTimeout(method string, params ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	return c.Call(ctx, method, params...)
}
