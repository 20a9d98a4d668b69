package unixhttp

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
	"path/filepath"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// Client calls a JSON API on a unix socket, or on a TCP address given
// with WithBaseURL.
type Client struct {
	socket string // what messages name: the socket path, or the base URL
	base   string // scheme://host[/prefix] every path is appended to
	bearer string
	hc     *http.Client
}

// Dialer opens a connection to the daemon. The default dials the socket;
// tests inject their own (an in-memory pipe, a recording wrapper).
type Dialer func(ctx context.Context) (net.Conn, error)

// ClientOption changes how a Client is built.
type ClientOption func(*clientOptions)

type clientOptions struct {
	dial   Dialer
	base   *url.URL
	bearer string
}

// WithDialer makes the client open its connections with d instead of
// dialing the socket (or the base URL's address).
func WithDialer(d Dialer) ClientOption {
	return func(o *clientOptions) { o.dial = d }
}

// WithBaseURL makes the client call base over TCP (TLS for https) instead
// of the socket: each request goes to base's scheme and host, with the
// request's path appended to base's path (a reverse proxy's prefix). The
// socket argument of NewClient is then ignored.
func WithBaseURL(base *url.URL) ClientOption {
	return func(o *clientOptions) { o.base = base }
}

// WithBearer sends "Authorization: Bearer token" with every request.
func WithBearer(token string) ClientOption {
	return func(o *clientOptions) { o.bearer = token }
}

// NewClient returns a client for the daemon listening on socket (or at
// the URL given with WithBaseURL). Requests carry no timeout of their own:
// pass a context with a deadline.
func NewClient(socket string, opts ...ClientOption) *Client {
	var o clientOptions
	for _, f := range opts {
		f(&o)
	}
	c := &Client{socket: socket, base: "http://unix", bearer: o.bearer}
	tr := &http.Transport{MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
	dial := o.dial
	if o.base != nil {
		u := *o.base
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		c.base = strings.TrimSuffix(u.String(), "/")
		c.socket = c.base
		if dial == nil {
			// the standard dialer (and TLS for https) to the URL's host
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				conn, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, &DialError{Socket: c.socket, Err: err}
				}
				return conn, nil
			}
		}
	} else if dial == nil {
		dial = func(ctx context.Context) (net.Conn, error) {
			if err := paths.CheckSocketDir(filepath.Dir(socket)); err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}
	}
	if dial != nil {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := dial(ctx)
			if err != nil {
				return nil, &DialError{Socket: c.socket, Err: err}
			}
			return conn, nil
		}
	}
	c.hc = &http.Client{Transport: tr}
	return c
}

// Socket returns what the client calls: the socket path, or the base URL
// given with WithBaseURL (without credentials).
func (c *Client) Socket() string { return c.socket }

// URL returns the address of path on this client's daemon, for requests
// built by hand and passed to Send: http://unix/PATH for a socket, the base
// URL with PATH appended otherwise.
func (c *Client) URL(path string) string { return c.base + path }

// HTTP returns the underlying client, for calls that need the raw answer
// (build the URL with URL). It does not add the bearer token; Send does.
func (c *Client) HTTP() *http.Client { return c.hc }

// Get calls GET path and decodes the JSON answer into out (nil to discard).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Post calls POST path with in as JSON (nil for no body) and decodes the
// answer into out.
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	return c.Do(ctx, http.MethodPost, path, in, out)
}

// Put calls PUT path with in as JSON and decodes the answer into out.
func (c *Client) Put(ctx context.Context, path string, in, out any) error {
	return c.Do(ctx, http.MethodPut, path, in, out)
}

// Patch calls PATCH path with in as JSON and decodes the answer into out.
func (c *Client) Patch(ctx context.Context, path string, in, out any) error {
	return c.Do(ctx, http.MethodPatch, path, in, out)
}

// Delete calls DELETE path and decodes the answer into out.
func (c *Client) Delete(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodDelete, path, nil, out)
}

// Do performs one JSON request. A non-2xx answer becomes *APIError carrying
// the daemon's message; a socket nobody listens on becomes *DialError
// (errors.Is ErrUnavailable) naming the socket.
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

// Stream performs one request and returns the body of a 2xx answer for the
// caller to read (and close): a log that follows, a line-delimited event
// feed. A non-2xx answer is decoded into *APIError as by Do, plain-text
// bodies included.
func (c *Client) Stream(ctx context.Context, method, path string, in any) (io.ReadCloser, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(path), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Send(req)
}

// Send performs a prepared request (its URL from URL) and returns the body
// of a 2xx answer; a non-2xx answer becomes *APIError. For bodies that are
// not JSON (an image tarball, a raw upload). It adds the bearer token of
// WithBearer unless the request carries Authorization already.
func (c *Client) Send(req *http.Request) (io.ReadCloser, error) {
	if c.bearer != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var de *DialError
		if errors.As(err, &de) {
			return nil, de
		}
		return nil, fmt.Errorf("call %s %s on %s: %w", req.Method, req.URL.Path, c.socket, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, DecodeError(resp)
	}
	return resp.Body, nil
}

// DecodeError turns a non-2xx answer into *APIError: the message and detail
// of a JSON error body, else the plain-text body, else the status text.
func DecodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb ErrorBody
	msg, detail := strings.TrimSpace(string(b)), ""
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		msg, detail = eb.Error, eb.Detail
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: msg, Detail: detail}
}
