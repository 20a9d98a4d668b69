package podmanapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CreateContainer creates (does not start) a container from spec.
func (c *Client) CreateContainer(ctx context.Context, spec CreateSpec) (CreateResult, error) {
	var r CreateResult
	if spec.Image == "" {
		return r, fmt.Errorf("create container: no image given")
	}
	err := c.call(ctx, http.MethodPost, lp("/containers/create"), spec, &r, http.StatusCreated, http.StatusOK)
	return r, err
}

// StartContainer starts a created container. Starting a running one is
// not an error.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, lp("/containers/%s/start", id), nil, nil, http.StatusNoContent, http.StatusNotModified)
}

// WaitContainer blocks until the container is stopped (exited or never
// started after stop) and returns its exit code. Cancel ctx to give up.
func (c *Client) WaitContainer(ctx context.Context, id string) (int, error) {
	resp, err := c.do(ctx, http.MethodPost, lp("/containers/%s/wait", id)+"?condition=stopped", nil, "", http.StatusOK)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return 0, fmt.Errorf("read wait answer for %s: %w", id, err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("wait for %s: unexpected answer %q", id, b)
	}
	return code, nil
}

// InspectContainer returns a container's details.
func (c *Client) InspectContainer(ctx context.Context, id string) (Container, error) {
	var ct Container
	err := c.call(ctx, http.MethodGet, lp("/containers/%s/json", id), nil, &ct)
	return ct, err
}

// ContainerExists reports whether Podman knows the container.
func (c *Client) ContainerExists(ctx context.Context, id string) (bool, error) {
	return c.exists(ctx, lp("/containers/%s/exists", id))
}

// StopContainer stops a container, killing it after timeoutSec seconds.
// Stopping a stopped container is not an error.
func (c *Client) StopContainer(ctx context.Context, id string, timeoutSec uint) error {
	p := lp("/containers/%s/stop", id) + "?timeout=" + strconv.FormatUint(uint64(timeoutSec), 10)
	return c.call(ctx, http.MethodPost, p, nil, nil, http.StatusNoContent, http.StatusNotModified)
}

// KillContainer sends signal (e.g. "SIGKILL", "TERM", "9") to the
// container's main process. A container that does not run gives
// ErrConflict.
func (c *Client) KillContainer(ctx context.Context, id, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.call(ctx, http.MethodPost, withQuery(lp("/containers/%s/kill", id), q), nil, nil, http.StatusNoContent)
}

// RemoveOptions tune RemoveContainer.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove its anonymous volumes
}

type rmReport struct {
	ID  string `json:"Id"`
	Err string `json:"Err"`
}

// RemoveContainer deletes a container.
func (c *Client) RemoveContainer(ctx context.Context, id string, o RemoveOptions) error {
	q := url.Values{}
	if o.Force {
		q.Set("force", "true")
	}
	if o.Volumes {
		q.Set("v", "true")
	}
	resp, err := c.do(ctx, http.MethodDelete, withQuery(lp("/containers/%s", id), q), nil, "", http.StatusOK, http.StatusNoContent)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	var reps []rmReport
	if err := json.NewDecoder(resp.Body).Decode(&reps); err != nil {
		return nil // Podman versions differ in the body; the status said done.
	}
	for _, r := range reps {
		if r.Err != "" {
			return fmt.Errorf("remove container %s: %s", id, r.Err)
		}
	}
	return nil
}

// ListOptions filter ListContainers.
type ListOptions struct {
	All bool // stopped containers too
	// Labels keeps containers carrying every label, "key" or "key=value".
	Labels []string
}

// ListContainers lists containers.
func (c *Client) ListContainers(ctx context.Context, o ListOptions) ([]ContainerSummary, error) {
	q := url.Values{}
	if o.All {
		q.Set("all", "true")
	}
	if len(o.Labels) > 0 {
		f, _ := json.Marshal(map[string][]string{"label": o.Labels})
		q.Set("filters", string(f))
	}
	var out []ContainerSummary
	err := c.call(ctx, http.MethodGet, withQuery(lp("/containers/json"), q), nil, &out)
	return out, err
}

// exists asks an .../exists endpoint: 204 yes, 404 no.
func (c *Client) exists(ctx context.Context, path string) (bool, error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil, "", http.StatusNoContent, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent, nil
}
