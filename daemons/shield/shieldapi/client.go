package shieldapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Client talks to terok-shield over its unix socket. Errors the daemon
// answers with match the unixhttp sentinels with errors.Is: ErrNotFound
// (unknown container), ErrConflict (ambiguous id prefix), ErrForbidden
// (not the caller's container), ErrBadRequest; a daemon that does not
// answer matches ErrUnavailable.
type Client struct {
	c *unixhttp.Client
}

// New returns a client for the daemon listening on socket.
func New(socket string, opts ...unixhttp.ClientOption) *Client {
	return &Client{c: unixhttp.NewClient(socket, opts...)}
}

// Health asks the daemon for its health.
func (c *Client) Health(ctx context.Context) (health.Status, error) {
	return health.Check(ctx, c.c)
}

func cpath(id string, rest string) string {
	return "/v1/containers/" + url.PathEscape(id) + rest
}

// Arm arms or re-arms a container.
func (c *Client) Arm(ctx context.Context, req ArmRequest) (Status, error) {
	var st Status
	err := c.c.Post(ctx, "/v1/containers", req, &st)
	return st, err
}

// Disarm drops a container's state and rules; its audit log stays.
func (c *Client) Disarm(ctx context.Context, id string) error {
	return c.c.Delete(ctx, cpath(id, ""), nil)
}

// List returns every armed container.
func (c *Client) List(ctx context.Context) ([]Status, error) {
	var out []Status
	err := c.c.Get(ctx, "/v1/containers", &out)
	return out, err
}

// Status returns one container (a unique id prefix is enough).
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	var st Status
	err := c.c.Get(ctx, cpath(id, ""), &st)
	return st, err
}

// Allow allows target (IP, CIDR or domain) for a running container; forDur
// ("10m") limits it in time, "" means until denied.
func (c *Client) Allow(ctx context.Context, id, target, forDur string) (Status, error) {
	var st Status
	err := c.c.Post(ctx, cpath(id, "/allow"), TargetRequest{Target: target, For: forDur}, &st)
	return st, err
}

// Deny denies target for a running container; a deny wins over profiles.
func (c *Client) Deny(ctx context.Context, id, target string) (Status, error) {
	var st Status
	err := c.c.Post(ctx, cpath(id, "/deny"), TargetRequest{Target: target}, &st)
	return st, err
}

// SetMode switches a container to up, down or block.
func (c *Client) SetMode(ctx context.Context, id string, m Mode) (Status, error) {
	var st Status
	err := c.c.Post(ctx, cpath(id, "/mode"), ModeRequest{Mode: m}, &st)
	return st, err
}

// Panic sets every armed container to block at once.
func (c *Client) Panic(ctx context.Context) (PanicResult, error) {
	var r PanicResult
	err := c.c.Post(ctx, "/v1/panic", struct{}{}, &r)
	return r, err
}

// Rules returns the live ruleset of a container as text.
func (c *Client) Rules(ctx context.Context, id string) (Rules, error) {
	var r Rules
	err := c.c.Get(ctx, cpath(id, "/rules"), &r)
	return r, err
}

// Profiles lists the known allowlist profiles.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	var out []Profile
	err := c.c.Get(ctx, "/v1/profiles", &out)
	return out, err
}

// Audit calls fn for each audit record of a container, oldest first. With
// follow it keeps streaming new records until ctx ends or fn returns an
// error. The container need not be armed any more: its log outlives it.
func (c *Client) Audit(ctx context.Context, id string, follow bool, fn func(Event) error) error {
	p := cpath(id, "/audit")
	if follow {
		p += "?follow=1"
	}
	body, err := c.c.Stream(ctx, http.MethodGet, p, nil)
	if err != nil {
		return err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue // keep-alive
		}
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("decode audit record: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read audit stream: %w", err)
	}
	return nil
}
