package podmanapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ImportImage imports a root filesystem tarball (plain or gzip) as image
// ref, e.g. "localhost/busybox:latest", and returns the image id. Podman
// accepts any tar here; check it with CheckRootfs first.
func (c *Client) ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("import image: no image name given")
	}
	q := url.Values{"reference": {ref}}
	resp, err := c.do(ctx, http.MethodPost, withQuery(lp("/images/import"), q), tarball, "application/x-tar", http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("import image %s: %w", ref, err)
	}
	defer resp.Body.Close()
	var r struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ID == "" {
		return "", fmt.Errorf("import image %s: unexpected answer (%v)", ref, err)
	}
	return r.ID, nil
}

// ListImages lists the local images.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	var out []Image
	err := c.call(ctx, http.MethodGet, lp("/images/json"), nil, &out)
	return out, err
}

// ImageExists reports whether a local image name or id exists.
func (c *Client) ImageExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, lp("/images/%s/exists", name))
}

// RemoveImage deletes a local image; force also removes containers using
// it. An unknown image gives ErrNotFound.
func (c *Client) RemoveImage(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	return c.call(ctx, http.MethodDelete, withQuery(lp("/images/%s", name), q), nil, nil, http.StatusOK, http.StatusNoContent)
}
