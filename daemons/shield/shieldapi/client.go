package shieldapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Client talks to terok-shield over its unix socket.
type Client struct {
	c *unixhttp.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client { return &Client{c: unixhttp.NewClient(socket)} }

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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://unix"+p, nil)
	if err != nil {
		return fmt.Errorf("build audit request: %w", err)
	}
	resp, err := c.c.HTTP().Do(req)
	if err != nil {
		return fmt.Errorf("call GET %s on %s (is the daemon running?): %w", p, c.c.Socket(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb unixhttp.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		return &unixhttp.APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	sc := bufio.NewScanner(resp.Body)
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
