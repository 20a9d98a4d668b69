package podmanapi

import (
	"context"
	"net/http"
	"net/url"
)

// RemoveVolume deletes a named volume; force also removes containers using
// it. An unknown volume gives ErrNotFound.
func (c *Client) RemoveVolume(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	return c.call(ctx, http.MethodDelete, withQuery(lp("/volumes/%s", name), q), nil, nil, http.StatusNoContent, http.StatusOK)
}

// VolumeExists reports whether a named volume exists.
func (c *Client) VolumeExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, lp("/volumes/%s/exists", name))
}
