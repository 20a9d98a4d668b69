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
	"path/filepath"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
)

// Client calls a JSON API on a unix socket.
type Client struct {
	socket string
	hc     *http.Client
}

// Dialer opens a connection to the daemon. The default dials the socket;
// tests inject their own (an in-memory pipe, a recording wrapper).
type Dialer func(ctx context.Context) (net.Conn, error)

// ClientOption changes how a Client is built.
type ClientOption func(*clientOptions)

type clientOptions struct {
	dial Dialer
}

// WithDialer makes the client open its connections with d instead of
// dialing the socket.
func WithDialer(d Dialer) ClientOption {
	return func(o *clientOptions) { o.dial = d }
}

// NewClient returns a client for the daemon listening on socket. Requests
// carry no timeout of their own: pass a context with a deadline.
func NewClient(socket string, opts ...ClientOption) *Client {
	o := clientOptions{dial: func(ctx context.Context) (net.Conn, error) {
		if err := paths.CheckSocketDir(filepath.Dir(socket)); err != nil {
			return nil, err
		}
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	for _, f := range opts {
		f(&o)
	}
	dial := o.dial
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := dial(ctx)
			if err != nil {
				return nil, &DialError{Socket: socket, Err: err}
			}
			return c, nil
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// HTTP returns the underlying client, for calls that need the raw answer.
// URLs must use the host "unix", e.g. http://unix/v1/health.
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
	req, err := http.NewRequestWithContext(ctx, method, "http://unix"+path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Send(req)
}

// Send performs a prepared request (host "unix") and returns the body of a
// 2xx answer; a non-2xx answer becomes *APIError. For bodies that are not
// JSON (an image tarball, a raw upload).
func (c *Client) Send(req *http.Request) (io.ReadCloser, error) {
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
